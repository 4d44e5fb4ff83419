"""The quality batch handler on in-memory SQLite: what it stores, what it marks, batches vs one by one."""

from __future__ import annotations

from sqlalchemy import create_engine

from shopfloor.events.codec import decode
from shopfloor.store import quality as store
from shopfloor.store.changes import Changes
from tests.quality_events import SHIFT_DAY, inspection
from tests.support import T0, encode

T0_MS, HOUR = int(T0.timestamp() * 1000), 3_600_000
TABLES = [store.INSPECTIONS, store.ORDERS, store.RESULTS, store.DEFECTS]


def _engine():  # type: ignore[no-untyped-def]
    engine = create_engine("sqlite://")
    for table in TABLES:
        table.create(engine)
    return engine


def _apply(engine, events) -> Changes:  # type: ignore[no-untyped-def]
    changes = Changes()
    with engine.begin() as conn:
        store.QualityHandler().apply(conn, [decode(*encode(e)) for e in events], changes)
    return changes


def _dump(engine):  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return {t.name: sorted(tuple(r) for r in conn.execute(t.select())) for t in TABLES}


def test_one_batch_stores_the_hand_worked_figures() -> None:
    engine = _engine()
    changes = _apply(engine, SHIFT_DAY)
    with engine.connect() as conn:
        assert store.line_results(conn) == {
            "L1": {"FAIL": 1, "PASS": 4, "REWORK": 1},
            "L2": {"FAIL": 2, "PASS": 2},
        }
        assert sorted(store.defect_counts(conn)) == [("BURR", 4), ("DENT", 4), ("SCRATCH", 3)]
        assert store.defect_counts(conn, "L2") in ([("BURR", 1), ("DENT", 3)], [("DENT", 3), ("BURR", 1)])
        latest = store.latest_results(conn, ["WO-2", "WO-6", "WO-404"])
        assert {k: (v["latest_inspection_id"], v["latest_result"]) for k, v in latest.items()} == {
            "WO-2": ("I3", "PASS"),
            "WO-6": ("I10", "PASS"),
        }
        morning, afternoon = T0_MS - 2 * HOUR, T0_MS + 6 * HOUR  # 06:00, 14:00
        # by hand: L1 WO-1 PASS, WO-2 FAIL, WO-3 REWORK; L2 WO-5 PASS, WO-6 FAIL (I9 at 10:30 is first)
        assert store.first_pass_counts(conn, morning, afternoon) == {"L1": (3, 1), "L2": (2, 1)}
        assert store.first_pass_counts(conn, afternoon, afternoon + 8 * HOUR) == {"L1": (1, 1)}  # WO-4
        assert store.first_pass_counts(conn, morning - 8 * HOUR, morning) == {}
        newest = [r["inspection_id"] for r in store.recent_inspections(conn, 3)]
        assert newest == ["I6", "I5", "I4"]  # 15:00, 14:30, 13:59
    assert changes.keys["quality"] >= {"i:I1", "i:I10", "l:L1", "l:L2"}
    assert changes.keys["work-orders"] == {"WO-1", "WO-2", "WO-3", "WO-4", "WO-5", "WO-6"}


def test_batches_of_one_and_redeliveries_give_the_same_tables() -> None:
    together, apart = _engine(), _engine()
    _apply(together, SHIFT_DAY)
    for evt in SHIFT_DAY:
        _apply(apart, [evt])
    # the same inspection id again (a corrected copy, new event id) changes nothing
    again = inspection("I1", "FAIL", 3, work_order="WO-1", defects=[("DENT", 5)])
    again["id"] = "ev-I1-corrected"
    changes = _apply(apart, [again])
    assert _dump(apart) == _dump(together)
    assert not changes
