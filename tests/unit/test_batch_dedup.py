"""Duplicates and stale events across batches, on both stores and on both sizes of batch (PostgreSQL
records a big batch's ids by COPY), against a reference model: an id counts once it was applied; a
stale event is not applied, so when it comes again it is stale again, not a duplicate."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select

from shopfloor.consumers.projector import decode_records
from shopfloor.runtime import open_store
from shopfloor.store.batch import APPLIED, VERSIONS, Batch, apply_batch
from shopfloor.store.db import COPY_FROM_ROWS
from shopfloor.store.registry import HANDLERS
from shopfloor.transport.base import Record, TopicPartition
from tests.support import encode, event, unique_settings, wo

TP = TopicPartition("t", 0)
Sent = tuple[str, str, int]  # event id, order, sequence


@dataclass
class Reference:
    """The rules, written as plainly as possible: ids applied so far, each order's newest sequence."""

    applied: set[str] = field(default_factory=set)
    newest: dict[str, int] = field(default_factory=dict)

    def batch(self, events: list[Sent]) -> tuple[int, int, int]:
        applied = duplicates = stale = 0
        this_batch: set[str] = set()
        for event_id, order, sequence in events:
            if event_id in self.applied or event_id in this_batch:
                duplicates += 1
                continue
            this_batch.add(event_id)
            if sequence < self.newest.get(order, -1):
                stale += 1
                continue
            self.newest[order] = sequence
            self.applied.add(event_id)
            applied += 1
        return applied, duplicates, stale


def _records(events: list[Sent], offset: int) -> list[Record]:
    records = []
    for at, (event_id, order, sequence) in enumerate(events, start=offset):
        value, headers = encode(
            event("WorkOrderStatusChanged", wo(order, "RELEASED"), event_id=event_id, sequence=sequence)
        )
        records.append(Record(TP.topic, TP.partition, at, order.encode(), value, tuple(headers), None))
    return records


@pytest.mark.parametrize("size", [20, 2 * COPY_FROM_ROWS])
def test_duplicates_count_once_and_stale_events_stay_stale(database_url: str, size: int) -> None:
    rng = random.Random(size)
    orders = [f"WO-{i}" for i in range(size // 4)]
    sequence = dict.fromkeys(orders, 10)
    sent: list[Sent] = []
    batches: list[list[Sent]] = []
    for _ in range(4):
        batch: list[Sent] = []
        for n in range(size):
            order = rng.choice(orders)
            if sent and n % 5 == 0:  # an event seen before, in this batch or an earlier one
                batch.append(rng.choice(sent))
            elif n % 7 == 0:  # a sequence older than the order's newest: stale
                batch.append((f"old-{len(sent)}-{n}", order, sequence[order] - 5))
            else:
                sequence[order] += 1
                batch.append((f"new-{len(sent)}-{n}", order, sequence[order]))
            sent.append(batch[-1])
        batches.append(batch)
    stale_again = [e for e in sent if e[0].startswith("old-")]
    batches.append(rng.sample(stale_again, len(stale_again)))  # every stale one once more

    reference = Reference()
    engine = open_store(unique_settings(None, database_url))
    offset = 0
    try:
        for batch in batches:
            records = _records(batch, offset)
            expected = {TP: offset or None}
            offset += len(records)
            result = apply_batch(
                engine, Batch("g", decode_records(records), expected, {TP: offset}), HANDLERS
            )
            assert (result.applied, result.duplicates, result.stale) == reference.batch(batch)
        with engine.connect() as conn:
            stored = set(conn.execute(select(APPLIED.c.event_key)).scalars())
            newest = dict(conn.execute(select(VERSIONS.c.entity_id, VERSIONS.c.sequence)).all())
    finally:
        engine.dispose()
    assert stored == {f"test/line\x1f{event_id}" for event_id in reference.applied}
    assert newest == reference.newest


@pytest.mark.parametrize("returning", [True, False], ids=["update-returning", "no-returning"])
def test_each_batch_moves_the_store_version_on_by_one(
    database_url: str, returning: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages ask for what changed since a version, so every batch must get the next one, whether the
    store returns it from its update (PostgreSQL, SQLite 3.35+) or is asked again after (older SQLite)."""
    engine = open_store(unique_settings(None, database_url))
    monkeypatch.setattr(engine.dialect, "update_returning", returning)
    try:
        versions = []
        for n in range(3):
            records = _records([(f"v-{n}", "WO-V", n + 1)], n)
            batch = Batch("g", decode_records(records), {TP: n or None}, {TP: n + 1})
            notice = apply_batch(engine, batch, HANDLERS).notice
            assert notice is not None
            versions.append(notice.version)
    finally:
        engine.dispose()
    assert versions == [1, 2, 3]  # a new store is at version 0
