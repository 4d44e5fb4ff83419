"""The quality folds: inspections recorded once, first/latest per order by event time, first-pass
yield per line and shift, and top defect codes, against figures worked out by hand."""

from __future__ import annotations

import itertools

import pytest

from shopfloor.events.codec import decode
from shopfloor.projections.calendar import Calendar
from shopfloor.projections.quality import (
    Inspection,
    OrderQuality,
    ShiftYield,
    fold_order,
    recent_shifts,
    record,
    top_defects,
)
from tests.quality_events import SHIFT_DAY, inspection
from tests.support import T0, encode

CALENDAR = Calendar.parse("UTC", "06:00-14:00,14:00-22:00,22:00-06:00")


def _env(evt):  # type: ignore[no-untyped-def]
    return decode(*encode(evt))


def _replay(events):  # type: ignore[no-untyped-def]
    """Inspections, per-order states and summed count deltas after the events, as the handler keeps them."""
    inspections: dict[str, Inspection] = {}
    orders: dict[str, OrderQuality] = {}
    results: dict[tuple[str, str], int] = {}
    defects: dict[tuple[str, str], int] = {}
    for evt in events:
        env = _env(evt)
        recorded = record(inspections.get(env.data.inspection_id), env)
        if recorded.inspection is None:
            continue
        inspections[recorded.inspection.inspection_id] = recorded.inspection
        wo = recorded.inspection.work_order_id
        if wo is not None:
            orders[wo] = fold_order(orders.get(wo), recorded.inspection)
        for cell, n in recorded.result_deltas.items():
            results[cell] = results.get(cell, 0) + n
        for cell, n in recorded.defect_deltas.items():
            defects[cell] = defects.get(cell, 0) + n
    return inspections, orders, results, defects


def test_first_inspection_per_order_by_hand() -> None:
    """The terms of first-pass yield: each order's first inspection (by time), its line and result."""
    _, orders, _, _ = _replay(SHIFT_DAY)
    firsts = {
        wo: (o.line_id, o.first_inspection_id, o.first_result, o.first_at_ms) for wo, o in orders.items()
    }
    t0 = int(T0.timestamp() * 1000)
    hour = 3_600_000
    assert firsts == {
        "WO-1": ("L1", "I1", "PASS", t0),
        "WO-2": ("L1", "I2", "FAIL", t0 + hour),
        "WO-3": ("L1", "I4", "REWORK", t0 + 5 * hour + 59 * 60_000),
        "WO-4": ("L1", "I6", "PASS", t0 + 7 * hour),
        "WO-5": ("L2", "I7", "PASS", t0 - hour),
        "WO-6": ("L2", "I9", "FAIL", t0 + 2 * hour + 30 * 60_000),  # arrived after I10, earlier by time
    }


def test_recent_shifts_walk_back_through_the_calendar_gaps_included() -> None:
    at = int(T0.timestamp() * 1000) + 7 * 3_600_000  # 15:00
    assert [s.label for s in recent_shifts(CALENDAR, at, 3)] == [
        "2026-11-27 14:00",
        "2026-11-27 06:00",
        "2026-11-26 22:00",
    ]
    two = Calendar.parse("UTC", "06:00-14:00,14:00-22:00")
    late = int(T0.timestamp() * 1000) + 15 * 3_600_000  # 23:00, between the last shift and the first
    gap, evening = recent_shifts(two, late, 2)
    assert (gap.label, gap.end_ms - gap.start_ms) == ("off shift", 8 * 3_600_000)
    assert evening.label == "2026-11-27 14:00"
    assert ShiftYield("L1", "x", 0, 1, 3, 1).fpy == pytest.approx(1 / 3)


def test_top_defects_merge_codes_and_break_ties_by_code() -> None:
    _, _, _, defects = _replay(SHIFT_DAY)
    assert defects == {
        ("L1", "SCRATCH"): 3,
        ("L1", "DENT"): 1,
        ("L1", "BURR"): 3,
        ("L2", "DENT"): 3,
        ("L2", "BURR"): 1,
    }
    assert top_defects([(code, n) for (_, code), n in defects.items()], 2) == [("BURR", 4), ("DENT", 4)]
    assert top_defects([(code, n) for (_, code), n in defects.items()], 10) == [
        ("BURR", 4),
        ("DENT", 4),
        ("SCRATCH", 3),
    ]


def test_results_per_line_and_per_order() -> None:
    _, orders, results, _ = _replay(SHIFT_DAY)
    assert results == {
        ("L1", "PASS"): 4,
        ("L1", "FAIL"): 1,
        ("L1", "REWORK"): 1,
        ("L2", "PASS"): 2,
        ("L2", "FAIL"): 2,
    }
    latest = {wo: (o.latest_inspection_id, o.latest_result) for wo, o in orders.items()}
    assert latest == {
        "WO-1": ("I1", "PASS"),
        "WO-2": ("I3", "PASS"),
        "WO-3": ("I5", "PASS"),
        "WO-4": ("I6", "PASS"),
        "WO-5": ("I7", "PASS"),
        "WO-6": ("I10", "PASS"),
    }
    wo6 = orders["WO-6"]
    assert (wo6.first_inspection_id, wo6.first_result, wo6.inspections, wo6.passed, wo6.failed) == (
        "I9",
        "FAIL",
        2,
        1,
        1,
    )


def test_order_state_does_not_depend_on_arrival_order() -> None:
    wo2 = [e for e in SHIFT_DAY if e["data"].get("work_order_id") in ("WO-2", "WO-3", "WO-6")]
    states = {tuple(sorted(_replay(p)[1].items())) for p in itertools.permutations(wo2[:4])}
    assert len(states) == 1


def test_an_inspection_id_seen_again_changes_nothing() -> None:
    first = _env(inspection("I1", "PASS", 0, work_order="WO-1"))
    recorded = record(None, first)
    assert recorded.inspection is not None
    again = record(
        recorded.inspection, _env(inspection("I1", "FAIL", 1, work_order="WO-1", defects=[("DENT", 1)]))
    )
    assert again == type(again)(None, {}, {})


def test_inspection_without_line_is_unassigned_and_defects_are_kept_as_json() -> None:
    recorded = record(
        None, _env(inspection("I1", "FAIL", 0, work_order=None, line=None, defects=[("A", 1), ("A", 2)]))
    )
    assert recorded.inspection is not None
    assert recorded.inspection.line_id == "unassigned"
    assert recorded.inspection.defects == '[{"code":"A","count":3}]'
    assert recorded.inspection.defect_units == 3
    assert recorded.defect_deltas == {("unassigned", "A"): 3}


def test_fpy_is_unknown_without_inspected_orders() -> None:
    assert ShiftYield("L1", "off shift", 0, 1, 0, 0).fpy is None
