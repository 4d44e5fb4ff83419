"""Parts: the registry's handlers split by the tables they write, and snapshots kept per part, with
whole-store images of earlier versions still serving every part until each part has its own."""

from __future__ import annotations

import itertools
from pathlib import Path

from sqlalchemy import insert

from shopfloor.history.snapshots import WHOLE, SnapshotStore, pack
from shopfloor.store.db import make_engine
from shopfloor.store.lines import LineMachineHandler, LineOrderHandler
from shopfloor.store.registry import BOOKKEEPING, HANDLERS, PARTS, TABLES
from shopfloor.transport.base import TopicPartition

TP = TopicPartition("plant.sensors", 0)


def test_every_handler_is_in_one_part_and_no_table_in_two() -> None:
    assert sorted(map(id, HANDLERS)) == sorted(id(h) for p in PARTS for h in p.handlers)
    for one, other in itertools.combinations(PARTS, 2):
        assert not {t.name for t in one.tables} & {t.name for h in other.handlers for t in h.tables}
    folded = {t.name for t in TABLES} - {t.name for t in BOOKKEEPING}
    assert folded == {t.name for p in PARTS for t in p.tables}
    # handlers sharing no table are parts of their own, even inside one read model (lines)
    lines = [
        p for p in PARTS if any(isinstance(h, (LineOrderHandler, LineMachineHandler)) for h in p.handlers)
    ]
    assert len(lines) == 2


def _whole(store: SnapshotStore, at_ms: int, image: bytes) -> None:
    with store.engine.begin() as conn:
        conn.execute(insert(WHOLE).values(at_ms=at_ms, taken_ms=0, positions="[]", image=pack(image)))


def test_a_part_starts_from_its_own_snapshot_or_an_older_whole_image(tmp_path: Path) -> None:
    store = SnapshotStore(make_engine(f"sqlite:///{tmp_path / 'store.db'}"))
    _whole(store, 1_000, b"whole")
    store.save(2_000, "a", b"a at 2000", {TP: 7})
    assert store.latest_before(1_500, "a") == (1_000, b"whole", {})
    assert store.latest_before(2_500, "a") == (2_000, b"a at 2000", {TP: 7})
    assert store.latest_before(2_500, "b") == (1_000, b"whole", {})
    assert store.latest_before(999, "a") is None
    assert store.moments("a") == [2_000] and store.moments("b") == []
    assert store.oldest_usable({TP: 5}, "a") == 2_000  # the whole image's positions lack the partition
    assert store.oldest_usable({TP: 0}, "b") == 1_000


def test_retention_keeps_each_parts_newest_before_the_cut_and_the_whole_image_until_superseded(
    tmp_path: Path,
) -> None:
    store = SnapshotStore(make_engine(f"sqlite:///{tmp_path / 'store.db'}"))
    _whole(store, 1_000, b"whole")
    for at_ms in (2_000, 3_000, 4_000):
        store.save(at_ms, "a", b"a", {})
    store.prune(3_500, ["a", "b"])
    assert store.moments("a") == [3_000, 4_000]
    assert store.latest_before(3_600, "b") == (1_000, b"whole", {})  # b has nothing of its own yet
    store.save(3_000, "b", b"b", {})
    store.prune(3_500, ["a", "b"])
    assert store.latest_before(2_500, "b") is None  # every part has its own: the whole image is gone
    assert store.moments("b") == [3_000]
