"""Parts: the registry's handlers split by the tables they write, and snapshots kept per part, with
whole-store images of earlier versions still serving every part until each part has its own."""

from __future__ import annotations

import contextlib
import itertools
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import insert

from shopfloor.config import Settings
from shopfloor.history.replay import Replayed, memory_store
from shopfloor.history.service import AsOf, PastUnavailable
from shopfloor.history.snapshots import (
    BUSY_RECORDS,
    QUIET_RECORDS,
    WHOLE_SNAPSHOTS,
    SnapshotStore,
    Snapshotter,
    due_moments,
    pack,
    step_after,
)
from shopfloor.store.db import make_engine
from shopfloor.store.lines import LineMachineHandler, LineOrderHandler
from shopfloor.store.registry import BOOKKEEPING, HANDLERS, PARTS, TABLES, Part
from shopfloor.transport.base import TopicPartition

TP = TopicPartition("plant.sensors", 0)
MINUTE = 60_000
UNANSWERABLE = -2


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
    assert len(PARTS) <= 10  # a board reading every part attaches each: SQLite attaches at most 10


def _whole(store: SnapshotStore, at_ms: int, image: bytes) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            insert(WHOLE_SNAPSHOTS).values(at_ms=at_ms, taken_ms=0, positions="[]", image=pack(image))
        )


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
    store.save(1_000, "renamed", b"of an earlier registry", {})
    store.prune(3_500, ["a", "b"])
    assert store.moments("renamed") == []
    assert store.latest_before(2_500, "b") is None  # every part has its own: the whole image is gone
    assert store.moments("b") == [3_000]


class _Quiet:
    """A history whose parts replay a set number of records: `a` is quiet, `b` busy."""

    def __init__(self, store: SnapshotStore) -> None:
        self.parts = (Part("a", (), ()), Part("b", (), ()))
        self.records = {"a": QUIET_RECORDS - 1, "b": QUIET_RECORDS}
        self.store, self.builds = store, 0

    async def build(self, at_ms: int, part: Part) -> AsOf:
        self.builds += 1
        if self.records[part.name] == UNANSWERABLE:
            raise PastUnavailable("the broker's retention has dropped the events")
        if self.records[part.name] < 0:
            raise OSError("disk full")
        last = self.store.latest_before(at_ms, part.name)
        replayed = Replayed(records=self.records[part.name])
        return AsOf(at_ms, memory_store(), replayed, None if last is None else last[0])


async def test_a_quiet_part_is_snapshotted_again_only_when_busy_enough_or_an_hour_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = SnapshotStore(make_engine(f"sqlite:///{tmp_path / 'store.db'}"))
    history = _Quiet(store)
    timed_before = {part: _timed(part) for part in ("a", "b")}
    newest = 10 * MINUTE
    _whole(
        store, MINUTE, b"whole"
    )  # an earlier version's: quiet parts start from it, but have none of their own
    snapshotter = Snapshotter(history, store, store.engine, 1, 48, newest_event_ms=lambda: newest)  # type: ignore[arg-type]
    assert await snapshotter.take_due() == 9 * MINUTE  # the first of each part is always taken
    newest = 11 * MINUTE
    assert await snapshotter.take_due() == 10 * MINUTE
    assert store.moments("a") == [9 * MINUTE] and store.moments("b") == [9 * MINUTE, 10 * MINUTE]
    builds = history.builds
    assert (
        await snapshotter.take_due() is None and history.builds == builds
    )  # not rebuilt for the same moment
    newest = 12 * MINUTE
    await snapshotter.take_due()
    assert store.moments("a") == [9 * MINUTE]  # passed at 10 and 11, still quiet
    assert "fell behind" not in caplog.text  # a quiet part's passed moments are not missed ones
    newest = 9 * MINUTE + 61 * MINUTE
    await snapshotter.take_due()
    assert store.moments("a") == [9 * MINUTE, 69 * MINUTE]  # an hour after its last: taken, however quiet
    for part in ("a", "b"):  # the build time is exported for the snapshots taken, not the quiet ones
        assert _timed(part) - timed_before[part] == len(store.moments(part))


def _timed(part: str) -> float:
    return REGISTRY.get_sample_value("shopfloor_history_snapshot_seconds_count", {"part": part}) or 0.0


async def test_a_part_that_fails_does_not_stop_the_others(tmp_path: Path) -> None:
    store = SnapshotStore(make_engine(f"sqlite:///{tmp_path / 'store.db'}"))
    history = _Quiet(store)
    history.records["a"] = -1
    snapshotter = Snapshotter(history, store, store.engine, 1, 48, newest_event_ms=lambda: 10 * MINUTE)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="a: OSError"):
        await snapshotter.take_due()
    assert store.moments("a") == [] and store.moments("b") == [9 * MINUTE]
    history.records["a"] = 1
    assert await snapshotter.take_due() == 9 * MINUTE  # tried again at the next check
    assert store.moments("a") == [9 * MINUTE]


def test_snapshot_moments_follow_a_grid_one_interval_behind() -> None:
    assert due_moments(None, 10 * MINUTE, []) == []
    assert due_moments(125 * MINUTE, 10 * MINUTE, []) == [110 * MINUTE]
    assert due_moments(125 * MINUTE, 10 * MINUTE, [110 * MINUTE]) == []
    assert due_moments(131 * MINUTE, 10 * MINUTE, [110 * MINUTE]) == [120 * MINUTE]
    assert due_moments(131 * MINUTE, 0, []) == []
    assert due_moments(5 * MINUTE, 10 * MINUTE, []) == []  # no moment before the epoch's first
    # a busy part's finer grid: every step after its last, one interval's worth at most
    assert due_moments(131 * MINUTE, 10 * MINUTE, [110 * MINUTE], 5 * MINUTE) == [115 * MINUTE, 120 * MINUTE]
    assert due_moments(131 * MINUTE, 10 * MINUTE, [50 * MINUTE], 5 * MINUTE) == [115 * MINUTE, 120 * MINUTE]
    # a step that does not divide the interval: its own grid, an interval's worth (600 // 85 = 7)
    assert due_moments(20 * MINUTE, 10 * MINUTE, [], 85_000) == [85_000 * k for k in range(1, 8)]
    assert due_moments(20 * MINUTE, 10 * MINUTE, [9 * MINUTE], 85_000) == [595_000]
    assert due_moments(131 * MINUTE, 10 * MINUTE, [], 20 * MINUTE) == [120 * MINUTE]  # never coarser


def _built(at_ms: int, records: int, since_ms: int | None, first_ms: int | None = None) -> AsOf:
    return AsOf(at_ms, None, Replayed(records=records, first_ms=first_ms), since_ms)  # type: ignore[arg-type]


def test_a_busy_part_is_taken_on_a_grid_holding_no_more_than_busy_records() -> None:
    minute = 60_000
    assert step_after(_built(10 * minute, BUSY_RECORDS, 9 * minute), minute) == minute
    assert step_after(_built(10 * minute, 57_000, 9 * minute), minute) == 30_000  # 2 shares of 28,500
    assert step_after(_built(10 * minute, 95_000, 9 * minute), minute) == 15_000  # 4 of 23,750
    assert step_after(_built(10 * minute, 70_000, 9 * minute), minute) == 20_000  # 3 of 23,333
    assert (
        step_after(_built(10 * minute, 7 * BUSY_RECORDS, 9 * minute), minute) == 10_000
    )  # 8.57 s: the finest
    # from the log's beginning: the rate over the span its first records began
    assert step_after(_built(10 * minute, 40_000, None, 10 * minute - 20_000), minute) == 15_000
    assert step_after(_built(10 * minute, 40_000, None), minute) == minute  # no span known
    # a quiet hour: the rate over the hour, not over one interval
    assert step_after(_built(70 * minute, 120_000, 10 * minute), minute) == minute
    # set by SHOPFLOOR_HISTORY_SNAPSHOT_RECORDS; 0: the interval only
    assert step_after(_built(10 * minute, 57_000, 9 * minute), minute, 10_000) == 10_000
    assert step_after(_built(10 * minute, 570_000, 9 * minute), minute, 0) == minute


async def test_a_busy_part_is_snapshotted_on_a_finer_grid(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = SnapshotStore(make_engine(f"sqlite:///{tmp_path / 'store.db'}"))
    history = _Quiet(store)
    history.records["b"] = 2 * BUSY_RECORDS  # a minute's
    newest = 10 * MINUTE
    snapshotter = Snapshotter(history, store, store.engine, 1, 48, newest_event_ms=lambda: newest)  # type: ignore[arg-type]
    await snapshotter.take_due()
    newest = 11 * MINUTE
    await snapshotter.take_due()  # b's rate known from here: 60,000 records a minute
    history.records["b"] = BUSY_RECORDS
    newest = 12 * MINUTE
    assert await snapshotter.take_due() == 11 * MINUTE
    assert store.moments("b") == [9 * MINUTE, 10 * MINUTE, 10 * MINUTE + 30_000, 11 * MINUTE]
    assert store.moments("a") == [9 * MINUTE]  # quiet: one
    newest = 13 * MINUTE
    await snapshotter.take_due()  # 30,000 records a half minute: still busy
    assert store.moments("b")[-2:] == [11 * MINUTE + 30_000, 12 * MINUTE]
    assert "fell behind" not in caplog.text
    newest = 20 * MINUTE  # the snapshotter paused: one interval's worth is taken, the rest said
    await snapshotter.take_due()
    assert store.moments("b")[-3:] == [12 * MINUTE, 18 * MINUTE + 30_000, 19 * MINUTE]
    assert "snapshots of b fell behind" in caplog.text


async def test_after_a_restart_a_busy_part_keeps_the_grid_its_snapshots_show(tmp_path: Path) -> None:
    store = SnapshotStore(make_engine(f"sqlite:///{tmp_path / 'store.db'}"))
    for at_ms in (9 * MINUTE, 9 * MINUTE + 30_000, 10 * MINUTE, 10 * MINUTE + 30_000):
        store.save(at_ms, "b", b"b", {})
    store.save(10 * MINUTE, "a", b"a", {})
    history = _Quiet(store)
    history.records["b"] = BUSY_RECORDS
    snapshotter = Snapshotter(
        history, store, store.engine, 1, 48, newest_event_ms=lambda: 12 * MINUTE + 30_000
    )  # type: ignore[arg-type]
    await snapshotter.take_due()
    assert store.moments("b")[-2:] == [11 * MINUTE, 11 * MINUTE + 30_000] and history.builds == 3


async def test_a_moment_the_log_cannot_show_is_not_built_again(tmp_path: Path) -> None:
    store = SnapshotStore(make_engine(f"sqlite:///{tmp_path / 'store.db'}"))
    for at_ms in (9 * MINUTE, 9 * MINUTE + 30_000):
        store.save(at_ms, "b", b"b", {})
    store.save(9 * MINUTE, "a", b"a", {})
    history = _Quiet(store)
    history.records["b"] = UNANSWERABLE
    newest = 11 * MINUTE + 30_000  # due: 10:00 and 10:30
    snapshotter = Snapshotter(history, store, store.engine, 1, 48, newest_event_ms=lambda: newest)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="retention") as failed:
        await snapshotter.take_due()
    assert str(failed.value).count("retention") == 1  # one build of b, not one per due moment
    builds = history.builds
    with contextlib.suppress(RuntimeError):
        await snapshotter.take_due()
    assert history.builds == builds  # passed: neither due moment is built again
    history.records["b"] = BUSY_RECORDS
    newest = 12 * MINUTE
    await snapshotter.take_due()
    assert store.moments("b")[-2:] == [9 * MINUTE + 30_000, 11 * MINUTE]  # the next due one is


def test_the_busy_records_setting_is_none_or_above_the_quiet_threshold() -> None:
    assert Settings(history_snapshot_records=0).history_snapshot_records == 0
    assert Settings(history_snapshot_records=QUIET_RECORDS).history_snapshot_records == QUIET_RECORDS
    with pytest.raises(ValueError, match="at least"):
        Settings(history_snapshot_records=QUIET_RECORDS - 1)
