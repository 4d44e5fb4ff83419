"""The projector against records that once stopped it or poisoned its clocks (embedded log, real store)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx
from prometheus_client import REGISTRY
from sqlalchemy import Connection, Engine, insert, text

from shopfloor.config import Settings
from shopfloor.consumers.projector import Projector
from shopfloor.events.codec import Admission
from shopfloor.events.envelope import Envelope
from shopfloor.runtime import build, open_store
from shopfloor.store import sensors as sensor_store
from shopfloor.store.batch import APPLIED, Rejected
from shopfloor.store.changes import Changes
from shopfloor.store.registry import HANDLERS
from shopfloor.transport.base import Record, TopicPartition
from shopfloor.transport.memory import MemoryLog, MemorySink, MemorySource
from shopfloor.web.app import create_app
from tests.support import encode, event, wait_until, wo

FAR = Admission(max_skew_ms=10**13)  # lets a 2030 event through decoding, to test the clocks behind it


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class ExplodesOnMarker:
    """A projection bug one record triggers; its SQL carries that record's data."""

    event_types = frozenset({"WorkOrderStatusChanged"})

    def apply(self, conn: Connection, events: Sequence[Envelope], changes: Changes) -> None:
        for e in events:
            if e.data.entity_id().startswith("WO-BOOM"):
                row = {"event_key": f"secret-{e.data.entity_id()}", "event_ms": 1}
                conn.execute(insert(APPLIED).values(**row))
                conn.execute(insert(APPLIED).values(**row))  # a primary-key violation


@asynccontextmanager
async def projecting(
    engine: Engine, log: MemoryLog, topics: list[str], **options: object
) -> AsyncIterator[Projector]:
    projector = Projector(
        MemorySource(log),
        MemorySink(log),
        engine,
        "g",
        topics,
        [*HANDLERS, ExplodesOnMarker()],
        on_commit=lambda notice: None,
        **options,  # type: ignore[arg-type]
    )
    task = asyncio.create_task(projector.run())
    try:
        yield projector
    finally:
        projector.stop()
        await task


def consumed(projector: Projector) -> int:
    return projector.status.consumed


def rows(engine: Engine, sql: str) -> list[tuple]:  # type: ignore[type-arg]
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


async def test_null_headers_on_dead_letters_and_failing_records_never_stop_the_line(
    database_url: str,
) -> None:
    engine = open_store(Settings(database_url=database_url))
    log = MemoryLog(partitions=1)
    topic = "mes.work-orders"
    log.append(topic, b"\xff not json", b"k", [("trace", None), ("bin", b"\xff\x00")])
    value, headers = encode(event("WorkOrderStatusChanged", wo("WO-BOOM-1", "RELEASED")), binary=True)
    log.append(topic, value, b"WO-BOOM-1", [*headers, ("null", None)])
    for n in range(20):
        value, headers = encode(event("WorkOrderStatusChanged", wo(f"WO-{n}", "RELEASED"), offset_s=n))
        log.append(topic, value, f"WO-{n}".encode(), headers)
    async with projecting(engine, log, [topic]) as projector:
        await wait_until(lambda: consumed(projector) >= 22, 30, "22 records")
        assert projector.status.running and projector.status.dead == 2
    assert rows(engine, "SELECT count(*) FROM work_orders") == [(20,)]
    letters = rows(engine, 'SELECT "offset", reason, headers, status FROM dead_letters ORDER BY "offset"')
    assert [(offset, status) for offset, _, _, status in letters] == [(0, "NEW"), (1, "NEW")]
    assert json.loads(letters[0][2]) == [["trace", None], ["bin", {"base64": "/wA="}]]
    assert ["null", None] in json.loads(letters[1][2])
    reason = letters[1][1]
    assert reason.startswith(("projection failed: IntegrityError", "projection failed: UniqueViolation"))
    assert "applied_events" in reason  # the constraint or table it broke
    assert "INSERT" not in reason and "secret" not in reason.lower(), "SQL or data in a dead-letter reason"
    dlq = log.read(log.partitions_for(f"{topic}.dlq")[0], 0, 10)
    assert len(dlq) == 2, "the .dlq topic and the table disagree"
    assert dlq[0].value == b"\xff not json" and ("trace", None) in dlq[0].headers


async def test_one_event_from_2030_does_not_erase_the_dedup_memory(sqlite_url: str) -> None:
    """+10 applied, a 2030 event, the +10 redelivered: on hand stays 10 (it was 20 when pruning
    followed the newest event time)."""
    engine = open_store(Settings(database_url=sqlite_url))
    log = MemoryLog(partitions=1)
    topic = "wms.inventory"
    adjust = {"sku": "S1", "location": "A", "delta": 10, "reason": "RECEIPT"}
    plus_ten = encode(event("InventoryAdjusted", adjust, event_id="adj-1", at=_now() - timedelta(minutes=2)))
    future = {**adjust, "sku": "S2"}
    log.append(topic, *plus_ten[:1], b"S1", plus_ten[1])
    log.append(
        topic, *encode(event("InventoryAdjusted", future, at=datetime(2030, 1, 1, tzinfo=UTC)))[:1], b"S2"
    )
    async with projecting(engine, log, [topic], admission=FAR, prune_interval_seconds=0) as projector:
        await wait_until(lambda: consumed(projector) >= 2, 30, "2 records")
        log.append(topic, plus_ten[0], b"S1", plus_ten[1])  # redelivered
        await wait_until(lambda: consumed(projector) >= 3, 30, "the redelivery")
        assert (projector.status.applied, projector.status.duplicates) == (2, 1)
    assert rows(engine, "SELECT on_hand FROM inventory_stock WHERE sku = 'S1'") == [(10,)]


async def test_a_future_reading_neither_wipes_trends_nor_freezes_the_value(sqlite_url: str) -> None:
    engine = open_store(Settings(database_url=sqlite_url))
    log = MemoryLog(partitions=1)
    topic = "iot.sensors"
    start = _now() - timedelta(minutes=3)

    def reading(machine: str, value: float, at: datetime) -> None:
        data = {"equipment_id": machine, "sensor": "temperature", "value": value}
        log.append(topic, encode(event("SensorReading", data, at=at))[0], machine.encode())

    for n in range(5):
        reading("M1", 20.0 + n, start + timedelta(seconds=n))
    reading("M2", 99.0, datetime(2030, 1, 1, tzinfo=UTC))
    async with projecting(engine, log, [topic], admission=FAR) as projector:
        await wait_until(lambda: consumed(projector) >= 6, 30, "6 readings")
    with engine.connect() as conn:
        kept = sensor_store.trend(conn, "M1", 0)["temperature"]
    assert [bucket[2] for bucket in kept] == [20.0, 21.0, 22.0, 23.0, 24.0], "M1's trend was cut away"

    # With the configured skew (default 5 minutes) the 2030 reading is a dead letter, and the value moves.
    log = MemoryLog(partitions=1)
    reading("M3", 1.0, datetime(2030, 1, 1, tzinfo=UTC))
    reading("M3", 2.0, _now() - timedelta(seconds=5))
    engine = open_store(Settings(database_url=sqlite_url.replace("store.db", "store2.db")))
    async with projecting(engine, log, [topic], admission=Admission()) as projector:
        await wait_until(lambda: consumed(projector) >= 2, 30, "2 readings")
    assert rows(engine, "SELECT value FROM sensor_latest WHERE equipment_id = 'M3'") == [(2.0,)]
    [(reason,)] = rows(engine, "SELECT reason FROM dead_letters")
    assert "s ahead of the record's log timestamp" in reason


async def test_dates_past_9999_utc_are_dead_letters_and_every_board_still_answers(sqlite_url: str) -> None:
    settings = Settings(database_url=sqlite_url)
    runtime = build(settings, consume=True, serve_web=False)
    hostile = "9999-12-31T23:59:59-14:00"
    async with runtime.lifespan(None):
        assert runtime.sink is not None and runtime.projector is not None
        sends = [
            (settings.topic_outbound, event("OrderCreated", {"order_id": "SO-X", "due_at": hostile})),
            (settings.topic_alert_commands, event("AlertShelved", {"alert_id": "A-1", "until": hostile})),
            (
                settings.topic_outbound,
                event("OrderCreated", {"order_id": "SO-OK", "due_at": "2099-01-01T00:00:00Z"}),
            ),
            (
                settings.topic_outbound,
                event("PaymentProcessed", {"order_id": "SO-OK", "amount": 12345.5}),  # sent as 1e400
            ),
            (settings.topic_work_orders, event("OrderCreated", {"order_id": "SO-WRONG-TOPIC"})),
        ]
        for topic, evt in sends:
            value, headers = encode(evt)
            value = value.replace(b"12345.5", b"1e400")  # JSON reads it as infinity
            await runtime.sink.send(topic, value, b"k", headers)
        projector = runtime.projector
        await wait_until(lambda: consumed(projector) >= len(sends), 30, "the hostile dates")
        assert (projector.status.applied, projector.status.dead) == (1, 4)
        app = create_app(runtime)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            for path in ("/outbound", "/api/outbound", "/equipment", "/api/alerts", "/api/equipment"):
                assert (await client.get(path)).status_code == 200, path
            orders = (await client.get("/api/outbound")).json()
            assert "SO-OK" in json.dumps(orders) and "SO-X" not in json.dumps(orders)
    reasons = sorted(r for (r,) in rows(runtime.engine, "SELECT reason FROM dead_letters"))
    assert any("amount" in r and "finite" in r for r in reasons)
    assert any("belongs on topic 'wms.outbound', not 'mes.work-orders'" in r for r in reasons)
    assert sum("1970-01-01 and 2100-01-01" in r for r in reasons) == 2


async def test_dead_letter_copies_of_a_batch_that_lost_its_partition_are_counted(sqlite_url: str) -> None:
    """Another worker moved the partition: the batch is not committed, but its `.dlq` copy was sent.
    The topic now holds one more record than the table, and the metric says so."""
    engine = open_store(Settings(database_url=sqlite_url))
    log = MemoryLog(partitions=1)
    topic = f"t{uuid.uuid4().hex[:6]}"
    projector = Projector(MemorySource(log), MemorySink(log), engine, "g", [topic], HANDLERS, lambda n: None)
    projector._expected[TopicPartition(topic, 0)] = 7  # where this worker believes it is
    record = Record(topic, 0, 7, None, b"junk")
    metric = ("shopfloor_dead_letter_extra_copies_total", {"topic": topic})
    [letter] = await projector._dead_letters.write([Rejected(record, "not JSON")])
    await projector._commit([record], [letter])
    assert REGISTRY.get_sample_value(*metric) == 1.0
    assert len(log.read(log.partitions_for(f"{topic}.dlq")[0], 0, 10)) == 1
    assert rows(engine, "SELECT count(*) FROM dead_letters") == [(0,)]
