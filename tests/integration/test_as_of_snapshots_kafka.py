"""Snapshots: an as-of store from the newest snapshot plus the log after it equals a replay from the
beginning, table for table; and once the broker's retention has dropped the oldest records, moments
after a snapshot are still answered while moments before it say the past is not available."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiokafka import TopicPartition as KafkaTP
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete
from sqlalchemy import Engine, MetaData, select

from shopfloor.history.service import History, PastUnavailable
from shopfloor.history.snapshots import SnapshotStore, Snapshotter
from shopfloor.history.views import parts_for
from shopfloor.store.registry import HANDLERS, PARTS, Part
from tests.integration.harness import projecting, wait_consumed
from tests.integration.test_as_of_kafka import PHASE, phases
from tests.support import T0, unique_settings

NOT_COMPARED = {"store_version", "store_identity", "dead_letters"}  # counters, a random id, receipt times
MINUTE = 60_000


def tables(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of an as-of store, rows sorted: two stores that agree here agree on every page.
    A counter row at zero equals no row (whether one is left depends on where batches were cut)."""
    metadata = MetaData()
    metadata.reflect(engine)
    found = {}
    with engine.connect() as conn:
        for name, table in sorted(metadata.tables.items()):
            if name in NOT_COMPARED:
                continue
            rows = [r for r in conn.execute(select(table)) if r._mapping.get("count", 1) != 0]
            found[name] = sorted(map(tuple, rows), key=repr)
    return found


class _Counted:
    """A History whose builds are counted: the other worker's, taking the same snapshots."""

    def __init__(self, history: History) -> None:
        self.history, self.builds, self.parts = history, 0, history.parts

    async def build(self, at_ms: int, part: Part) -> Any:
        self.builds += 1
        return await self.history.build(at_ms, part)


def ms(moment: Any) -> int:
    return int(moment.timestamp() * 1000)


async def test_snapshot_plus_replay_equals_full_replay_and_survives_retention(
    kafka: str, database_url: str, producer: Any
) -> None:
    settings = unique_settings(kafka, database_url, history_snapshot_minutes=0)
    async with projecting(settings) as runtime:
        sent = 0
        for phase in phases():
            for topic, key, evt in phase:
                await producer.event(getattr(settings, topic), key, evt)
            sent += len(phase)
        await wait_consumed(runtime, sent)
        assert runtime.history is not None
        full = History(settings, runtime.history._open_reader, HANDLERS)
        store = SnapshotStore(runtime.engine)
        newest = ms(T0 + 2 * PHASE + timedelta(seconds=62))
        workers = [_Counted(full), _Counted(History(settings, runtime.history._open_reader, HANDLERS))]
        snapshotter, other = (
            Snapshotter(w, store, runtime.engine, PHASE.total_seconds() / 60, 48, 1, lambda: newest)
            for w in workers
        )
        both = await asyncio.gather(snapshotter.take_due(), other.take_due())  # two workers at once
        taken = max(t for t in both if t is not None)
        assert taken == ms(T0 + PHASE)  # the newest 20-minute mark a full interval behind the newest event
        assert both.count(None) == 1 and sum(w.builds for w in workers) == len(PARTS), (
            both,
            [w.builds for w in workers],
        )
        assert await snapshotter.take_due() is None  # nothing new is due
        snapshotted = History(settings, runtime.history._open_reader, HANDLERS, store)

        moments = [ms(T0 + PHASE + timedelta(minutes=10)), ms(T0 + 2 * PHASE + timedelta(minutes=10))]
        answers = {}
        for moment, part in itertools.product(moments, PARTS):
            reference = await full.build(moment, part)
            quick = await snapshotted.build(moment, part)
            assert quick.snapshot_ms == taken and reference.snapshot_ms is None
            assert quick.replayed.records < reference.replayed.records or reference.replayed.records == 0
            answers[moment, part.name] = tables(reference.engine)
            assert tables(quick.engine) == answers[moment, part.name], part.name
        empty = [p.name for p in PARTS if not any(answers[moments[1], p.name].values())]
        assert empty == ["quality_inspections"]  # the phases send no inspections: every other part folds

        def first(topics: set[str]) -> int:
            times = [evt["time"] for phase in phases() for topic, _, evt in phase if topic in topics]
            return min(ms(datetime.fromisoformat(t)) for t in times)

        # the timeline's range: from the first event (of the board's parts only) while nothing is cut
        assert await snapshotted.earliest() == first({t for phase in phases() for t, _, _ in phase})
        assert await snapshotted.earliest(parts_for("/outbound", PARTS)) == first({"topic_outbound"})
        early = await full.build(ms(T0 + timedelta(minutes=10)), PARTS[0])
        assert tables(early.engine) != answers[moments[0], PARTS[0].name]

        # The broker's retention drops every record the snapshots already hold, and more on one partition.
        positions: dict[Any, int] = {}
        for part in PARTS:
            snapshot = store.latest_before(moments[0], part.name)
            assert snapshot is not None
            positions |= snapshot[2]
        cut = {KafkaTP(tp.topic, tp.partition): RecordsToDelete(offset) for tp, offset in positions.items()}
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
        await admin.start()
        try:
            await admin.delete_records(cut)
        finally:
            await admin.close()
        for moment, part in itertools.product(moments, PARTS):
            assert tables((await snapshotted.build(moment, part)).engine) == answers[moment, part.name]
        assert await snapshotted.earliest() == taken  # once cut: from the snapshots on
        assert await full.earliest() is None  # without snapshots: nothing
        with pytest.raises(PastUnavailable, match="retention"):
            await snapshotted.build(ms(T0 + timedelta(minutes=10)), PARTS[0])  # before the snapshot: gone
        with pytest.raises(PastUnavailable, match="retention"):
            await full.build(moments[1], PARTS[0])  # without snapshots, nothing is answerable any more
