"""Lean parts: the work-order board's past loads its parts without the facts they append (status
histories, line progress), replays the same log after them, and reads the same orders, plans and
counts as from the whole parts; anything that reads the facts still loads them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from shopfloor.config import Settings
from shopfloor.events.codec import encode_structured
from shopfloor.history.replay import memory_store
from shopfloor.history.service import History
from shopfloor.history.snapshots import SnapshotStore, Snapshotter, save_part
from shopfloor.history.views import lean_parts, parts_for
from shopfloor.store.db import make_engine, to_ms
from shopfloor.store.registry import HANDLERS, LEAN
from shopfloor.transport.memory import MemoryLog, MemoryReader
from tests.support import T0, event, wo

HOUR = timedelta(hours=1)
STEPS = ("RELEASED", "IN_PROGRESS", "IN_PROGRESS", "COMPLETED")


def _orders(log: MemoryLog, topic: str, first: int, count: int, start_s: int) -> None:
    """`count` orders, each through STEPS a minute apart, counts and due time given as it goes."""
    for n in range(first, first + count):
        for step, status in enumerate(STEPS):
            data = wo(f"WO-{n}", status, line=f"L{n % 3}", quantity_planned=40, quantity_done=10 * step)
            data["due_at"] = (T0 + timedelta(hours=2, minutes=n)).isoformat()
            value, headers = encode_structured(
                event("WorkOrderStatusChanged", data, offset_s=start_s + 60 * step)
            )
            log.append(topic, value, f"WO-{n}".encode(), headers)


def _rows(engine: Engine, table: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(text(f"SELECT * FROM {table}")))


async def test_the_work_order_boards_past_loads_its_parts_lean_and_reads_the_same(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'store.db'}")
    log = MemoryLog(partitions=3)
    _orders(log, settings.topic_work_orders, 0, 12, 0)  # before the snapshot
    _orders(log, settings.topic_work_orders, 12, 6, 3660)  # after it: replayed onto the lean images
    store = SnapshotStore(make_engine(settings.database_url))
    history = History(settings, lambda: MemoryReader(log), HANDLERS, store)
    snapshot_ms = to_ms(T0 + HOUR)
    lean = lean_parts(history.parts)
    assert lean == {"work_orders", "line_orders"}  # the parts a board loads lean, nothing else
    for part in history.parts:
        save_part(store, await history.build(snapshot_ms, part), 24 * 3_600_000, part, lean=part.name in lean)
    assert store.moments(f"outbound_orders{LEAN}") == []

    board = parts_for("/work-orders", history.parts)
    assert {p.name for p in board} == {f"work_orders{LEAN}", f"line_orders{LEAN}", "quality_inspections"}
    assert parts_for("/work-orders/board", history.parts) == board
    assert parts_for("/api/work-orders", history.parts) == board
    assert {p.name for p in parts_for("/api/work-orders/WO-1/history", history.parts)} == {
        "work_orders",
        "line_orders",
        "quality_inspections",
    }
    assert not any(p.name.endswith(LEAN) for p in parts_for("/lines", history.parts))

    for name, facts in (("work_orders", "work_order_history"), ("line_orders", "line_progress")):
        whole, lean = store.latest_before(snapshot_ms, name), store.latest_before(snapshot_ms, name + LEAN)
        assert whole is not None and lean is not None and lean[0] == whole[0] == snapshot_ms
        assert len(_rows(memory_store(whole[1]), facts)) >= 12  # every order's facts before the snapshot
        assert _rows(memory_store(lean[1]), facts) == []

    later = to_ms(T0 + 2 * HOUR)
    lines = next(p for p in board if p.name == f"line_orders{LEAN}")
    started = await history.build(later, lines)
    assert started.snapshot_ms == snapshot_ms
    assert len(_rows(started.engine, "line_progress")) == 6 * len(STEPS)  # the lean image's: none before
    seen = await history.as_of(later, board)
    with pytest.raises(OperationalError, match=r"no such table: main\.line_progress"):
        _rows(seen.engine, "line_progress")  # a lean part's fact is not read, not even empty
    reference = await History(settings, lambda: MemoryReader(log), HANDLERS).as_of(later)  # log only
    for table in ("work_orders", "work_order_counts", "line_orders"):
        mine, theirs = _rows(seen.engine, table), _rows(reference.engine, table)
        if table == "work_order_counts":  # a count back at 0 may or may not keep its row
            mine, theirs = [r for r in mine if r[-1]], [r for r in theirs if r[-1]]
        assert mine == theirs
    assert len(_rows(reference.engine, "line_orders")) == 18


def test_a_lean_part_starts_from_the_whole_parts_snapshot_until_it_has_its_own(tmp_path: Path) -> None:
    store = SnapshotStore(make_engine(f"sqlite:///{tmp_path / 'store.db'}"))
    store.save(1_000, "a", b"whole part", {})
    assert store.latest_before(1_500, "a" + LEAN) == (1_000, b"whole part", {})
    assert store.oldest_usable({}, "a" + LEAN) == 1_000
    store.save(1_000, "a" + LEAN, b"lean", {})
    assert store.latest_before(1_500, "a" + LEAN) == (1_000, b"lean", {})  # the same moment: the lean one
    store.save(2_000, "a", b"newer whole part", {})
    assert store.latest_before(2_500, "a" + LEAN) == (2_000, b"newer whole part", {})
    assert store.latest_before(2_500, "a") == (2_000, b"newer whole part", {})


async def test_lean_snapshots_are_taken_and_kept_with_their_parts(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'store.db'}")
    log = MemoryLog(partitions=3)
    _orders(log, settings.topic_work_orders, 0, 40, 0)
    store = SnapshotStore(make_engine(settings.database_url))
    history = History(settings, lambda: MemoryReader(log), HANDLERS, store)
    newest = [to_ms(T0) + 3 * 60_000]
    snapshotter = Snapshotter(history, store, store.engine, 1, 1 / 60, newest_event_ms=lambda: newest[0])
    assert await snapshotter.take_due() == to_ms(T0) + 2 * 60_000
    newest[0] += 61 * 60_000  # quiet parts wait up to an hour; then retention cuts a minute back
    assert await snapshotter.take_due() == to_ms(T0) + 63 * 60_000
    for name in ("work_orders", "line_orders"):
        assert store.moments(name + LEAN) == store.moments(name) == [to_ms(T0) + m * 60_000 for m in (2, 63)]
    assert store.moments(f"outbound_orders{LEAN}") == []
