"""The least one Python process can do for the work-order read models through real Kafka:
`python bench/ingest_floor.py [--runs 3] [--events 100000]`.

Not shopfloor: a floor to hold its figure against. The same 100,000 work-order events as the ingest
benchmark are read back from Kafka three ways, each from the start of the topic with a new group:

- `consume`: aiokafka hands out the records (nothing else);
- `decode`: and msgspec decodes each into a typed struct (types checked, nothing else);
- `write`: and each fetch is written to a store with shopfloor's schema, in one SQLite transaction
  through the bare `sqlite3` driver: the rows the work-order and line read models need (one status
  history row, one progress fact and one applied id per event; per order the order, its line row and
  its sequence, upserted; per line and status a count; the position and the store version), after
  looking up the batch's applied ids, sequences and orders. The fold is the least that fills those
  rows: no validation beyond types, no duplicate or stale handling beyond the lookups, no notices.

The rate is events over the span from the first fetch to the last commit, as in `bench/ingest.py`.
Kafka from SHOPFLOOR_TEST_KAFKA (already running).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ensure_topics
from bench.ingest import GENERATORS, TARGETS, _produce, open_store_url
from shopfloor.runtime import tune_gc

STAGES = ("consume", "decode", "write")
STREAM = "WorkOrder"


class OrderData(msgspec.Struct, gc=False):
    work_order_id: str
    status: str
    line_id: str | None = None
    product: str | None = None
    quantity_planned: int | None = None
    quantity_done: int | None = None
    quantity_scrap: int | None = None
    operator: str | None = None
    reason: str | None = None


class OrderEvent(msgspec.Struct, gc=False):
    id: str
    source: str
    type: str
    time: str
    data: OrderData
    sequence: int | str | None = None  # an extension attribute: producers may send it as text
    correlationid: str | None = None


_DECODER = msgspec.json.Decoder(OrderEvent)


def _decode(value: bytes) -> tuple[OrderEvent, int]:
    event = _DECODER.decode(value)
    if type(event.sequence) is str:
        event.sequence = int(event.sequence)
    return event, int(datetime.fromisoformat(event.time).timestamp() * 1000)


def _lookup(db: sqlite3.Connection, sql: str, values: Sequence[Any], *fixed: Any) -> list[Any]:
    """Rows of `sql` (ending in `IN ({})`) for `values`, 500 placeholders a statement."""
    rows: list[Any] = []
    for at in range(0, len(values), 500):
        chunk = values[at : at + 500]
        rows += db.execute(sql.format(",".join("?" * len(chunk))), (*fixed, *chunk)).fetchall()
    return rows


class FloorWriter:
    """One transaction per fetch with the rows the read models need, through the bare driver."""

    def __init__(self, db: sqlite3.Connection, group: str) -> None:
        self._db = db
        self._group = group

    def write(self, events: list[tuple[OrderEvent, int]], positions: dict[tuple[str, int], int]) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        keys = [f"{e.source}\x1f{e.id}" for e, _ in events]
        seen = {
            k for (k,) in _lookup(db, "SELECT event_key FROM applied_events WHERE event_key IN ({})", keys)
        }
        ids = sorted({e.data.work_order_id for e, _ in events})
        versions = "SELECT entity_id, sequence FROM entity_versions WHERE stream = ? AND entity_id IN ({})"
        sequences: dict[str, int] = dict(_lookup(db, versions, ids, STREAM))
        orders = {
            r[0]: list(r) for r in _lookup(db, "SELECT * FROM work_orders WHERE work_order_id IN ({})", ids)
        }
        lines = {
            r[0]: list(r) for r in _lookup(db, "SELECT * FROM line_orders WHERE work_order_id IN ({})", ids)
        }
        applied: list[tuple[str, int]] = []
        history: list[tuple[Any, ...]] = []
        facts: list[tuple[Any, ...]] = []
        counts: dict[tuple[str, str], int] = {}
        for (event, at_ms), key in zip(events, keys, strict=True):
            data = event.data
            oid = data.work_order_id
            if key in seen or int(event.sequence or 0) < sequences.get(oid, -1):
                continue
            seen.add(key)
            sequences[oid] = int(event.sequence or 0)
            order = orders.get(oid)
            if order is None:
                line = data.line_id or "unassigned"
                planned = data.quantity_planned
                order = [oid, data.status, line, data.product, planned, None, None, None, None]
                order = orders[oid] = [*order, event.correlationid, at_ms, at_ms, at_ms, 0]
                lines[oid] = [oid, line, data.status, 0, 0, data.quantity_planned, None, None]
                previous = None
            else:
                previous = order[1]
                counts[(order[2], previous)] = counts.get((order[2], previous), 0) - 1
                order[1] = lines[oid][2] = data.status
                order[11] = order[12] = at_ms
            counts[(order[2], data.status)] = counts.get((order[2], data.status), 0) + 1
            order[13] += 1
            applied.append((key, at_ms))
            entry = (oid, order[13], data.status, previous, at_ms, data.operator, data.reason, event.id)
            history.append((*entry, event.correlationid))
            facts.append((event.id, oid, order[2], at_ms, 0, 0, None))
        db.executemany("INSERT INTO applied_events VALUES (?, ?) ON CONFLICT DO NOTHING", applied)
        db.executemany("INSERT INTO work_order_history VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", history)
        db.executemany("INSERT INTO line_progress VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", facts)
        db.executemany(f"INSERT OR REPLACE INTO work_orders VALUES ({','.join('?' * 14)})", orders.values())
        db.executemany(f"INSERT OR REPLACE INTO line_orders VALUES ({','.join('?' * 8)})", lines.values())
        db.executemany("INSERT OR REPLACE INTO entity_versions VALUES (?, ?, ?)",
                       [(STREAM, oid, sequences[oid]) for oid in orders])  # fmt: skip
        db.executemany(
            "INSERT INTO work_order_counts VALUES (?, ?, ?) "
            "ON CONFLICT (line_id, status) DO UPDATE SET count = count + excluded.count",
            [(line, status, n) for (line, status), n in counts.items()],
        )
        db.executemany("INSERT OR REPLACE INTO consumer_positions VALUES (?, ?, ?, ?)",
                       [(self._group, t, p, o) for (t, p), o in positions.items()])  # fmt: skip
        db.execute("UPDATE store_version SET version = version + 1 WHERE id = 1")
        db.execute("COMMIT")


async def _run(bootstrap: str, topic: str, n: int, stage: str, database: str) -> dict[str, Any]:
    from aiokafka import AIOKafkaConsumer

    engine = open_store_url(database)
    raw = engine.raw_connection()  # the driver connection with shopfloor's pragmas
    group = f"bench-floor-{uuid.uuid4().hex[:8]}"
    writer = FloorWriter(raw.driver_connection, group)  # type: ignore[arg-type]
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 * 1024 * 1024,
        fetch_max_wait_ms=50,
    )
    await consumer.start()
    tune_gc()
    decode: Callable[[bytes], tuple[OrderEvent, int]] = _decode
    done = 0
    first: float | None = None
    began_cpu = time.process_time()
    try:
        while done < n:
            fetched = await consumer.getmany(timeout_ms=1000, max_records=5000)
            if not fetched:
                continue
            first = first or time.perf_counter()
            records = [m for messages in fetched.values() for m in messages]
            if stage != "consume":
                events = [decode(m.value) for m in records]
                if stage == "write":
                    positions = {(tp.topic, tp.partition): ms[-1].offset + 1 for tp, ms in fetched.items()}
                    writer.write(events, positions)
            done += len(records)
        last = time.perf_counter()
        rows = {
            table: raw.driver_connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[union-attr]
            for table in ("applied_events", "work_order_history", "line_progress", "work_orders")
        }
    finally:
        await consumer.stop()
        raw.close()
        engine.dispose()
    assert first is not None
    cpu_us = round((time.process_time() - began_cpu) / done * 1e6, 1)
    return {"rate": round(done / (last - first)), "cpu_us_per_event": cpu_us, "rows": rows}


async def main_async(args: argparse.Namespace) -> None:
    kafka = os.environ["SHOPFLOOR_TEST_KAFKA"]
    topic = f"f{uuid.uuid4().hex[:8]}.ingest.work_orders"
    await ensure_topics(kafka, [topic], 3)
    start = datetime.now(UTC) - timedelta(hours=2)
    rate = await _produce(kafka, topic, GENERATORS["work_orders"](args.events, start))
    print(f"work_orders: {args.events} events produced at {rate:,.0f}/s", flush=True)
    rates: dict[str, list[float]] = {stage: [] for stage in STAGES}
    for _ in range(args.runs):
        for stage in STAGES:  # alternated, so each stage sees the same machine
            with tempfile.TemporaryDirectory() as tmp:
                result = await _run(kafka, topic, args.events, stage, f"sqlite:///{tmp}/floor.db")
            print(f"  {stage:8} {result} load {os.getloadavg()[0]:.2f}", flush=True)
            rates[stage].append(result["rate"])
    target = TARGETS[("work_orders", "sqlite")]
    print(f"\nmedians (events/s), against shopfloor's target of {target:,} for work orders on SQLite:")
    for stage, values in rates.items():
        median = statistics.median(values)
        print(f"  {stage:8} {median:10,.0f}  {'at or above' if median >= target else 'BELOW'} the target")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench/ingest_floor.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--events", type=int, default=100_000)
    asyncio.run(main_async(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
