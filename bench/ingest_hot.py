"""The ingest hot path alone, quick to repeat: `python bench/ingest_hot.py [--runs 3] [--events 50000]`.

`kafka` mode (the default) produces N events per projection once to a topic of its own, then runs
the real Projector over them `--runs` times per store (SQLite, PostgreSQL), each from the start into a
fresh database, and prints each run's rate and the medians against the targets. Kafka and PostgreSQL
are taken from SHOPFLOOR_TEST_KAFKA / SHOPFLOOR_TEST_POSTGRES (already running; never started here).

`cpu` mode (no Kafka) times decode and apply per event in-process on SQLite: where the CPU goes.
`--profile FILE` writes a cProfile of the `cpu` mode's apply and decode there.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ensure_topics, fresh_postgres_database
from bench.ingest import GENERATORS, PROJECTIONS, TARGETS, _produce, _shopfloor, open_store_url
from shopfloor.consumers.projector import decode_records
from shopfloor.events.codec import encode_structured
from shopfloor.runtime import tune_gc
from shopfloor.store.batch import Batch, apply_batch
from shopfloor.store.registry import HANDLERS
from shopfloor.transport.base import Record, TopicPartition

BATCH = 5_000  # records a projector batch takes at most (`batch_max_records`)
CPU_START = datetime(2026, 1, 5, 6, tzinfo=UTC)


async def kafka_mode(args: argparse.Namespace) -> None:
    kafka = os.environ["SHOPFLOOR_TEST_KAFKA"]
    postgres = os.environ["SHOPFLOOR_TEST_POSTGRES"]
    start = datetime.now(UTC) - timedelta(hours=2)
    tag = uuid.uuid4().hex[:8]
    medians: dict[tuple[str, str], float] = {}
    cpu_medians: dict[tuple[str, str], float] = {}
    for projection in args.projection or PROJECTIONS:
        topic = f"h{tag}.ingest.{projection}"
        await ensure_topics(kafka, [topic, f"{topic}.dlq"], 3)
        rate = await _produce(kafka, topic, GENERATORS[projection](args.events, start))
        print(f"{projection}: {args.events} events produced at {rate:,.0f}/s", flush=True)
        for store in args.store or ("sqlite", "postgresql"):
            rates: list[float] = []
            cpu: list[float] = []
            for _ in range(args.runs):
                with tempfile.TemporaryDirectory() as tmp, _store(store, tmp, postgres) as url:
                    began = time.process_time()
                    result = await _shopfloor(kafka, topic, url, args.events)
                    # this process's CPU per event (Kafka client included): steadier than the rate on
                    # a shared machine, whose other processes take turns on the cores
                    result["cpu_us_per_event"] = round((time.process_time() - began) / args.events * 1e6, 1)
                print(f"  {projection} {store}: {result} load {os.getloadavg()[0]:.2f}", flush=True)
                if result.get("rate") and result.get("complete"):
                    rates.append(result["rate"])
                    cpu.append(result["cpu_us_per_event"])
            if rates:
                medians[(projection, store)] = statistics.median(rates)
                cpu_medians[(projection, store)] = statistics.median(cpu)
    print("\nmedians (events/s):")
    for (projection, store), median in medians.items():
        target = TARGETS.get((projection, store))
        verdict = "" if target is None else f"  target {target:,}: {'met' if median >= target else 'MISSED'}"
        cpu = cpu_medians[(projection, store)]
        print(f"  {projection:12} {store:10} {median:10,.0f}  cpu {cpu:6.1f} µs/event{verdict}")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


@contextmanager
def _store(store: str, tmp: str, postgres: str) -> Iterator[str]:
    if store == "sqlite":
        yield f"sqlite:///{tmp}/hot-{uuid.uuid4().hex[:6]}.db"
    else:
        yield from fresh_postgres_database(postgres, "bench_hot")


def _records(projection: str, n: int) -> list[Record]:
    """The same events in every run (a sensor's buckets follow the clock, so a moving start would
    change the work), dated well in the past, as a backlog is."""
    out = []
    for offset, (key, event) in enumerate(GENERATORS[projection](n, CPU_START)):
        value, headers = encode_structured(event)
        out.append(Record("t", 0, offset, key.encode(), value, tuple(headers), None))
    return out


def cpu_mode(args: argparse.Namespace) -> None:
    """Decode and apply per event, in-process, batches of 5,000 as the projector fetches them (all, or
    the first `--batches`); CPU time of the process (the machine is shared: wall time would count
    other processes' turns). A batch it cannot apply whole stops it: it would time the reject path."""
    profiler = cProfile.Profile(time.process_time) if args.profile else None
    tune_gc()  # the collector's settings of every shopfloor process
    for projection in args.projection or PROJECTIONS:
        records = _records(projection, args.events)
        with tempfile.TemporaryDirectory() as tmp:
            engine = open_store_url(f"sqlite:///{tmp}/cpu.db")
            decode_s = apply_s = 0.0
            tp = TopicPartition("t", 0)
            expected: int | None = None
            end = len(records) if args.batches is None else args.batches * BATCH
            for begin in range(0, end, BATCH):
                chunk = records[begin : begin + BATCH]
                if profiler:
                    profiler.enable()
                t0 = time.process_time()
                items = decode_records(chunk)
                t1 = time.process_time()
                batch = Batch("cpu", items, {tp: expected}, {tp: chunk[-1].offset + 1})
                applied = apply_batch(engine, batch, HANDLERS).applied
                t2 = time.process_time()
                if applied != len(chunk):
                    raise RuntimeError(
                        f"{projection}: {len(chunk) - applied} of {len(chunk)} events not applied"
                    )
                if profiler:
                    profiler.disable()
                expected = chunk[-1].offset + 1
                decode_s += t1 - t0
                apply_s += t2 - t1
            engine.dispose()
        n = min(len(records), end)
        print(
            f"{projection:12} decode {decode_s / n * 1e6:5.1f} µs + apply {apply_s / n * 1e6:5.1f} µs "
            f"= {(decode_s + apply_s) / n * 1e6:5.1f} µs/event ({n / (decode_s + apply_s):,.0f}/s)",
            flush=True,
        )
    if profiler:
        profiler.dump_stats(args.profile)
        print(f"profile: {args.profile}")


def main(argv: list[str] | None = None) -> Any:
    parser = argparse.ArgumentParser(prog="bench/ingest_hot.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", nargs="?", choices=("kafka", "cpu"), default="kafka")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--projection", action="append", choices=PROJECTIONS)
    parser.add_argument("--store", action="append", choices=("sqlite", "postgresql"))
    parser.add_argument("--profile", help="cpu mode: write a cProfile here")
    parser.add_argument("--batches", type=int, help="cpu mode: only the first N batches")
    args = parser.parse_args(argv)
    if args.mode == "cpu":
        return cpu_mode(args)
    return asyncio.run(kafka_mode(args))


if __name__ == "__main__":
    main()
