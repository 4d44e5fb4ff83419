"""The projector reports what it has read, what the log holds and what it has in hand, and the server
judges freshness by them: a batch that hangs in its transaction makes the data trail the plant."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import Connection

from shopfloor.config import Settings
from shopfloor.consumers.projector import Projector
from shopfloor.events.envelope import Envelope
from shopfloor.live.hub import Hub
from shopfloor.runtime import Runtime, open_store
from shopfloor.store.changes import Changes
from shopfloor.store.registry import HANDLERS
from shopfloor.transport.memory import MemoryLog, MemorySink, MemorySource
from tests.support import encode, event, wait_until, wo

TOPIC = "mes.work-orders"


class HangsOnMarker:
    """A transaction that waits on something (a lock, a slow disk) once it meets `WO-HANG`."""

    event_types = frozenset({"WorkOrderStatusChanged"})

    def __init__(self) -> None:
        self.hanging = threading.Event()
        self.release = threading.Event()

    def apply(self, conn: Connection, events: Sequence[Envelope], changes: Changes) -> None:
        if any(e.data.entity_id() == "WO-HANG" for e in events):
            self.hanging.set()
            self.release.wait(30)


def append_orders(log: MemoryLog, names: list[str]) -> None:
    for n, name in enumerate(names):
        value, headers = encode(event("WorkOrderStatusChanged", wo(name, "RELEASED"), offset_s=n))
        log.append(TOPIC, value, name.encode(), headers)


async def test_a_hanging_batch_is_in_hand_and_the_data_trails_by_as_long(sqlite_url: str) -> None:
    engine = open_store(Settings(database_url=sqlite_url))
    log = MemoryLog(partitions=2)
    hang = HangsOnMarker()
    projector = Projector(
        MemorySource(log), MemorySink(log), engine, "g", [TOPIC], [*HANDLERS, hang], on_commit=lambda _: None
    )
    runtime = Runtime(settings=Settings(database_url=sqlite_url), engine=engine, hub=Hub(0, 0.1))
    runtime.projector = projector
    append_orders(log, [f"WO-{n}" for n in range(40)])
    task = asyncio.create_task(projector.run())
    try:
        await wait_until(lambda: projector.status.consumed >= 40, 30, "40 records")
        ends = {tp: (log.end_offset(tp), log.end_offset(tp)) for tp in log.partitions_for(TOPIC)}
        await wait_until(lambda: projector.status.progress == ends, 30, "read to the log's ends, as reported")
        assert runtime.consumer_behind() == 0.0

        append_orders(log, ["WO-HANG"])
        await asyncio.to_thread(hang.hanging.wait, 30)
        seen_hanging = time.monotonic()
        assert [n for _, n in projector.status.in_hand] == [1]  # taken, so the log shows no lag for it
        await asyncio.sleep(0.3)
        hung_for = time.monotonic() - seen_hanging  # at least; it was taken before it hung
        assert runtime.consumer_behind() >= hung_for >= 0.3
        hang.release.set()
        await wait_until(lambda: projector.status.consumed >= 41, 30, "the hung batch applied")
        assert not projector.status.in_hand
        assert runtime.consumer_behind() == 0.0

        append_orders(log, [f"WO-B{n}" for n in range(3_000)])  # a backlog: batches overlap
        await wait_until(lambda: projector.status.consumed >= 3_041, 60, "the backlog applied")
        assert not projector.status.in_hand
        assert runtime.consumer_behind() == 0.0
    finally:
        hang.release.set()
        projector.stop()
        await task


async def test_a_batch_that_fails_stays_in_hand_until_one_taken_after_it_applies(sqlite_url: str) -> None:
    """A consumer that fails and is restarted is not live meanwhile, however often it restarts."""
    engine = open_store(Settings(database_url=sqlite_url))
    log = MemoryLog(partitions=1)
    projector = Projector(
        MemorySource(log), MemorySink(log), engine, "g", [TOPIC], HANDLERS, on_commit=lambda _: None
    )
    applying = projector._apply
    failures = 2

    async def fails_twice(*args: Any) -> None:
        nonlocal failures
        if failures:
            failures -= 1
            raise RuntimeError("the store went away mid-batch")
        await applying(*args)

    projector._apply = fails_twice  # type: ignore[method-assign]
    append_orders(log, [f"WO-{n}" for n in range(10)])
    with pytest.raises(RuntimeError):
        await projector.run()
    first = projector.status.in_hand[0][0]
    with pytest.raises(RuntimeError):
        await projector.run()  # restarted: the same records taken again, failing again
    assert projector.status.in_hand[0][0] == first and len(projector.status.in_hand) == 2
    task = asyncio.create_task(projector.run())
    try:
        await wait_until(lambda: projector.status.consumed >= 10, 30, "10 records")
        assert not projector.status.in_hand  # the third try applied them
    finally:
        projector.stop()
        await task
