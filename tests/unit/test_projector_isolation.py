"""A record that makes a projection fail is dead-lettered alone; the rest of its batch is applied."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from sqlalchemy import Connection, text

from shopfloor.config import Settings
from shopfloor.consumers.projector import Projector
from shopfloor.events.envelope import Envelope
from shopfloor.runtime import open_store
from shopfloor.store.changes import Changes
from shopfloor.store.registry import HANDLERS
from shopfloor.transport.memory import MemoryLog, MemorySink, MemorySource
from tests.support import encode, event, wait_until, wo


class ExplodesOnMarker:
    """A projection with a bug that only one record triggers."""

    event_types = frozenset({"WorkOrderStatusChanged"})

    def apply(self, conn: Connection, events: Sequence[Envelope], changes: Changes) -> None:
        if any(e.data.entity_id() == "WO-BOOM" for e in events):
            raise ZeroDivisionError("bug in a projection")


async def test_failing_record_is_isolated_and_dead_lettered(sqlite_url: str) -> None:
    engine = open_store(Settings(database_url=sqlite_url))
    log = MemoryLog(partitions=1)
    topic = "mes.work-orders"
    for i, order in enumerate(["WO-1", "WO-BOOM", "WO-2"]):
        value, headers = encode(event("WorkOrderStatusChanged", wo(order, "RELEASED"), offset_s=i))
        log.append(topic, value, order.encode(), headers)
    projector = Projector(
        MemorySource(log),
        MemorySink(log),
        engine,
        "g",
        [topic],
        [*HANDLERS, ExplodesOnMarker()],
        on_commit=lambda notice: None,
    )
    task = asyncio.create_task(projector.run())
    try:
        await wait_until(lambda: projector.status.applied + projector.status.dead >= 3, 20, "3 records")
    finally:
        projector.stop()
        await task
    with engine.connect() as conn:
        orders = [r[0] for r in conn.execute(text("SELECT work_order_id FROM work_orders ORDER BY 1"))]
        reasons = [r[0] for r in conn.execute(text("SELECT reason FROM dead_letters"))]
    assert orders == ["WO-1", "WO-2"]
    assert len(reasons) == 1 and "projection failed: ZeroDivisionError" in reasons[0]
    assert log.end_offset(log.partitions_for(f"{topic}.dlq")[0]) == 1
