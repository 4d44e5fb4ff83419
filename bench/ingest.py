"""Ingest throughput: events/s from Kafka into the read models, per projection, SQLite and PostgreSQL.

For each projection (work orders, inventory, sensors) N events are produced to a topic of their own
first. Then, from the same topic on the same broker, each contender reads all of them from the
beginning in one process:

- shopfloor: the real Projector (poll, decode in a thread, one transaction per batch with dedup,
  stale checks, positions and the projection's full read model), with every handler installed;
- shopfloor bare: the same with dedup ids and work-order history switched off (bench/bare.py; a
  benchmark-only switch, not a setting), to show what those guarantees cost;
- Quix Streams 3.28.1, the same work: what the projector does per event (envelope and field checks,
  dedup by (source, id) with the ids kept, stale sequences, the full row, status history, trend
  buckets and the same anomaly detector) in its RocksDB state store (see bench/quix_job.py);
- Quix Streams 3.28.1, bare: only the latest value per key, or the sum per key;
- naive (a baseline, not a contender): the tutorial aiokafka consumer: for each record decode,
  upsert one row, commit the database transaction, commit the Kafka offset.

Both Quix variants use their default changelog topics and 5 s checkpoints, and are timed until the
checkpoint holding the last record has committed (the durable work: state flush, changelog,
offsets), as shopfloor is timed until the transaction holding it has committed.

Throughput is the sustained rate from the first records fetched to the last one committed, so the
one-off consumer-group join is not counted; the wall time includes it.

The full run repeats the contenders in three rounds (Quix Streams, then shopfloor and shopfloor bare
on each store, per projection, round after round): the machine is shared and its speed drifts over
minutes, so each figure is the contender's median run, and each ratio is the median of the rounds'
own ratios (a shopfloor run against the Quix run minutes before it). The naive baseline runs once.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Float, MetaData, String, Table, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bench.bare import dedup_and_history_off
from bench.common import (
    QUIX_VENV,
    REPO,
    STATUS_CYCLE,
    Producer,
    Services,
    ensure_topics,
    inventory_event,
    log,
    work_order_event,
)
from shopfloor.consumers.projector import Projector
from shopfloor.events.codec import decode
from shopfloor.runtime import open_store, tune_gc
from shopfloor.simulator.sensors import SensorTraffic
from shopfloor.store.changes import ChangeNotice
from shopfloor.store.registry import HANDLERS
from shopfloor.transport.kafka import KafkaSink, KafkaSource

PROJECTIONS = ("work_orders", "inventory", "sensors")
QUIX_WORK = ("same", "bare")
Generated = list[tuple[str, dict[str, Any]]]

# Events/s one process should ingest, per read model and store, with real Kafka.
TARGETS: dict[tuple[str, str], int] = {
    ("work_orders", "sqlite"): 50_000,
    ("work_orders", "postgresql"): 25_000,
    ("inventory", "sqlite"): 30_000,
    ("sensors", "sqlite"): 30_000,
}


# --- traffic ------------------------------------------------------------------------------------


def _work_orders(n: int, start: datetime) -> Generated:
    """500 open orders moving through their statuses, with per-order sequences."""
    out: Generated = []
    sequence: dict[str, int] = {}
    for i in range(n):
        order = f"WO-{i % 500:04d}"
        sequence[order] = sequence.get(order, 0) + 1
        status = STATUS_CYCLE[(sequence[order] - 1) % len(STATUS_CYCLE)]
        at = start + timedelta(milliseconds=i)
        line = f"L{i % 500 % 20}" if sequence[order] == 1 else None
        out.append((order, work_order_event(order, status, sequence[order], line=line, at=at)))
    return out


def _inventory(n: int, start: datetime) -> Generated:
    """Stock movements over 5,000 SKUs x 50 locations."""
    rng = random.Random(11)
    out: Generated = []
    for i in range(n):
        sku, location = f"SKU-{rng.randrange(5000):05d}", f"LOC-{rng.randrange(50):02d}"
        delta = rng.choice((1, 2, 5, 10, 20, -1, -2, -5))
        out.append((sku, inventory_event(sku, location, delta, at=start + timedelta(milliseconds=i))))
    return out


def _sensors(n: int, start: datetime) -> Generated:
    """200 machines x 5 sensors, as the simulator makes them, 1,000 readings per second of event time."""
    traffic = SensorTraffic("unused.equipment", "unused.sensors", rate=1000, seed=3)
    out: Generated = []
    step = 0
    while len(out) < n:
        now = start + timedelta(milliseconds=5 * step)
        out += [(p.key, p.event) for p in traffic.step(now) if p.event["type"] == "SensorReading"]
        step += 1
    return out[:n]


GENERATORS: dict[str, Callable[[int, datetime], Generated]] = {
    "work_orders": _work_orders,
    "inventory": _inventory,
    "sensors": _sensors,
}


async def _produce(bootstrap: str, topic: str, events: Generated) -> float:
    started = time.perf_counter()
    async with Producer(bootstrap) as producer:
        for key, event in events:
            await producer.send(topic, key, event)
    return len(events) / (time.perf_counter() - started)


# --- contenders ---------------------------------------------------------------------------------


class TimedSource(KafkaSource):
    """The projector's real Kafka source, noting when the first records arrived."""

    first_fetch: float | None = None

    async def getmany(self, timeout_ms: int, max_records: int) -> Any:
        batch = await super().getmany(timeout_ms, max_records)
        if batch and self.first_fetch is None:
            self.first_fetch = time.perf_counter()
        return batch


async def _shopfloor(bootstrap: str, topic: str, database_url: str, n: int) -> dict[str, Any]:
    engine = open_store_url(database_url)
    group = f"bench-ingest-{uuid.uuid4().hex[:8]}"
    sink = KafkaSink(bootstrap, {})
    await sink.start()
    commits: list[tuple[float, int]] = []
    projector: Projector

    def on_commit(_notice: ChangeNotice) -> None:
        commits.append((time.perf_counter(), projector.status.applied + projector.status.stale))

    tune_gc()  # as `shopfloor serve` and `shopfloor project` do when they start
    source = TimedSource(bootstrap, group, {})
    projector = Projector(source, sink, engine, group, [topic], HANDLERS, on_commit)
    started = time.perf_counter()
    task = asyncio.create_task(projector.run())
    deadline = started + max(120.0, n / 500)
    try:
        while (not commits or commits[-1][1] < n) and time.perf_counter() < deadline:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
    finally:
        projector.stop()
        await asyncio.wait_for(task, 30)
        await sink.stop()
    done = commits[-1][1] if commits else 0
    result = _rates(started, source.first_fetch, commits)
    result["checks"] = _check_shopfloor(engine, topic)
    engine.dispose()
    result["complete"] = done >= n
    return result


def open_store_url(url: str) -> Any:
    from shopfloor.config import Settings

    return open_store(Settings(database_url=url, kafka_bootstrap_servers="unused:9092"))


def _rates(started: float, first_fetch: float | None, commits: list[tuple[float, int]]) -> dict[str, Any]:
    if not commits or first_fetch is None:
        return {"rate": None, "wall_s": None, "records": 0, "batches": 0}
    t_last, n_last = commits[-1]
    span = t_last - first_fetch
    return {
        "rate": round(n_last / span, 1) if span > 0 else None,
        "wall_s": round(t_last - started, 2),
        "records": n_last,
        "batches": len(commits),
    }


def _check_shopfloor(engine: Any, topic: str) -> dict[str, Any]:
    """A cheap check that the read model holds the expected result (totals, key counts)."""
    from shopfloor.store import inventory, sensors, work_orders

    with engine.connect() as conn:
        return {
            "work_orders": conn.execute(select(func.count()).select_from(work_orders.ORDERS)).scalar_one(),
            "stock_rows": conn.execute(select(func.count()).select_from(inventory.STOCK)).scalar_one(),
            "on_hand_total": conn.execute(
                select(func.coalesce(func.sum(inventory.STOCK.c.on_hand), 0))
            ).scalar_one(),
            "sensor_keys": conn.execute(select(func.count()).select_from(sensors.LATEST)).scalar_one(),
        }


async def _naive(
    bootstrap: str, topic: str, database_url: str, projection: str, n: int, budget_s: float
) -> dict[str, Any]:
    """The tutorial shape: one record, one upsert, one database commit, one Kafka commit."""
    from aiokafka import AIOKafkaConsumer

    from shopfloor.store.db import make_engine

    engine = make_engine(database_url)
    metadata = MetaData()
    table = Table(
        f"naive_{projection}", metadata, Column("key", String, primary_key=True), Column("value", String)
    )
    if projection == "inventory":
        table = Table(
            f"naive_{projection}", MetaData(), Column("key", String, primary_key=True), Column("value", Float)
        )
    table.metadata.create_all(engine)
    insert = sqlite_insert if engine.dialect.name == "sqlite" else pg_insert
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-naive-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    started = time.perf_counter()
    await consumer.start()
    first = last = 0.0
    done = 0
    try:
        async for message in consumer:
            event = decode(message.value, message.headers or ())
            data = event.data
            if projection == "work_orders":
                row = {"key": data.work_order_id, "value": data.status.value}  # type: ignore[attr-defined]
                stmt = insert(table).values(row)
                stmt = stmt.on_conflict_do_update(index_elements=["key"], set_={"value": stmt.excluded.value})
            elif projection == "inventory":
                row = {"key": f"{data.sku}|{data.location}", "value": data.delta}  # type: ignore[attr-defined]
                stmt = insert(table).values(row)
                stmt = stmt.on_conflict_do_update(
                    index_elements=["key"], set_={"value": table.c.value + stmt.excluded.value}
                )
            else:
                row = {"key": f"{data.equipment_id}|{data.sensor}", "value": str(data.value)}  # type: ignore[attr-defined]
                stmt = insert(table).values(row)
                stmt = stmt.on_conflict_do_update(index_elements=["key"], set_={"value": stmt.excluded.value})
            with engine.begin() as conn:
                conn.execute(stmt)
            await consumer.commit()
            done += 1
            last = time.perf_counter()
            if done == 1:
                first = last
            if done >= n or last - first > budget_s:
                break
    finally:
        await consumer.stop()
        engine.dispose()
    span = last - first
    return {
        "rate": round((done - 1) / span, 1) if span > 0 else None,
        "wall_s": round(last - started, 2),
        "records": done,
        "complete": done >= n,
        "time_boxed_s": budget_s,
    }


def ensure_quix() -> Path:
    """Quix Streams in its own virtualenv (its pins conflict with shopfloor's); created once."""
    python = QUIX_VENV / "bin" / "python"
    wanted = "quixstreams.__version__ != '3.28.1' or msgspec.__version__ != '0.22.0'"
    probe = [str(python), "-c", f"import msgspec, quixstreams, sys; sys.exit({wanted})"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    log(f"ingest: installing Quix Streams into {QUIX_VENV} (bench/requirements-quix.txt)")
    subprocess.run([sys.executable, "-m", "venv", str(QUIX_VENV)], check=True)
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "-r",
            str(REPO / "bench" / "requirements-quix.txt"),
        ],
        check=True,
    )
    return python


def _quix(python: Path, bootstrap: str, topic: str, projection: str, n: int, work: str) -> dict[str, Any]:
    command = [
        str(python),
        str(REPO / "bench" / "quix_job.py"),
        "--bootstrap",
        bootstrap,
        "--topic",
        topic,
        "--count",
        str(n),
        "--projection",
        projection,
        "--work",
        work,
    ]
    out = subprocess.run(command, capture_output=True, text=True, timeout=max(300, n / 200), check=True)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    span = report["committed_s"]
    return {
        "rate": round((report["records"] - 1) / span, 1) if span else None,
        "rate_to_last_call": (
            round((report["records"] - 1) / report["processing_s"], 1) if report["processing_s"] else None
        ),
        "wall_s": round(report["wall_s"], 2),
        "records": report["records"],
        "checkpoints": report["checkpoints"],
        "complete": report["records"] >= n,
        "raw": report,
    }


# --- the benchmark ------------------------------------------------------------------------------


ROUNDS = 3  # full run: every contender this many times, alternated, so a drifting machine hits all alike


async def run(services: Services, workdir: Path, *, quick: bool) -> dict[str, Any]:
    n = 2000 if quick else 100_000
    budget = 1.0 if quick else 15.0
    rounds = 1 if quick else ROUNDS
    quix_python = await asyncio.to_thread(ensure_quix)
    start = datetime.now(UTC) - timedelta(hours=2)
    tag = uuid.uuid4().hex[:8]
    topics: dict[str, str] = {}
    produce_rates: dict[str, float] = {}
    for projection in PROJECTIONS:
        topic = topics[projection] = f"b{tag}.ingest.{projection}"
        await ensure_topics(services.kafka, [topic, f"{topic}.dlq"], 3)
        produce_rates[projection] = await _produce(services.kafka, topic, GENERATORS[projection](n, start))
        log(f"ingest {projection}: {n} events produced at {produce_rates[projection]:,.0f}/s")
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {}  # (projection, store) -> one entry per round
    for round_ in range(rounds):
        for projection, topic in topics.items():
            quix = {
                work: await asyncio.to_thread(_quix, quix_python, services.kafka, topic, projection, n, work)
                for work in QUIX_WORK
            }
            step = f"round {round_ + 1}/{rounds}"
            log(f"ingest {projection} {step}: Quix Streams same work {quix['same']}, bare {quix['bare']}")
            for store in ("sqlite", "postgresql"):
                ours = await _shopfloor(
                    services.kafka, topic, _store_url(services, workdir, store, projection), n
                )
                log(f"ingest {projection} {store} {step}: shopfloor {ours}")
                with dedup_and_history_off():
                    bare_url = _store_url(services, workdir, store, f"bare_{projection}")
                    ours_bare = await _shopfloor(services.kafka, topic, bare_url, n)
                log(f"ingest {projection} {store} {step}: shopfloor bare {ours_bare}")
                entry = {
                    "shopfloor": ours,
                    "shopfloor_bare": ours_bare,
                    "quix": quix["same"],
                    "quix_bare": quix["bare"],
                }
                runs.setdefault((projection, store), []).append(entry)
    rows: list[dict[str, Any]] = []
    for (projection, store), entries in runs.items():
        # a baseline, time-boxed: once is enough to place it
        naive_url = _store_url(services, workdir, store, f"naive_{projection}")
        naive = await _naive(services.kafka, topics[projection], naive_url, projection, n, budget)
        log(f"ingest {projection} {store}: naive {naive}")
        row: dict[str, Any] = {
            "projection": projection,
            "store": store,
            "events": n,
            "produce_rate": round(produce_rates[projection], 1),
            **{name: _median_run([e[name] for e in entries]) for name in entries[0]},
            "naive": naive,
            "rounds": entries,
        }
        for name, key in (("quix", "ratio_vs_quix"), ("quix_bare", "ratio_vs_quix_bare")):
            # each round's shopfloor against that round's Quix: the pair ran minutes apart
            ratios = [
                e["shopfloor"]["rate"] / e[name]["rate"] for e in entries if _rated(e["shopfloor"], e[name])
            ]
            if ratios:
                row[key] = round(statistics.median(ratios), 2)
                row[f"{key}_each"] = [round(r, 2) for r in ratios]
        if row["shopfloor"].get("rate") and naive.get("rate"):
            row["ratio_vs_naive"] = round(row["shopfloor"]["rate"] / naive["rate"], 1)
        rows.append(row)
    expected = sum(e["data"]["delta"] for _, e in _inventory(n, start))
    return {
        "benchmark": "ingest",
        "events_per_projection": n,
        "rounds": rounds,
        "expected_on_hand_total": expected,
        "rows": rows,
        "targets": {f"{projection}/{store}": rate for (projection, store), rate in TARGETS.items()},
        "notes": (
            "quix is store-independent (RocksDB); the same Quix runs are listed beside both stores; "
            "quix = the same work as shopfloor, quix_bare = latest value / sum per key; naive is a baseline; "
            "each contender's figures are its median run of the rounds (every run is in `rounds`), the "
            "ratios the median of each round's ratio"
        ),
    }


def _store_url(services: Services, workdir: Path, store: str, name: str) -> str:
    if store == "sqlite":
        return f"sqlite:///{workdir / f'ingest-{name}-{uuid.uuid4().hex[:6]}.db'}"
    return services.fresh_postgres(f"ingest_{name}")


def _rated(*results: dict[str, Any]) -> bool:
    return all(r.get("rate") and r.get("complete") for r in results)


def _median_run(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The run whose rate is the median (the lower middle of an even count): a real run, not a blend.
    Runs that did not finish count as the slowest."""
    ranked = sorted(results, key=lambda r: (r.get("rate") or 0) if r.get("complete") else -1)
    return ranked[(len(ranked) - 1) // 2]
