"""Shift calendar and plan-vs-actual figures against hand-worked examples."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise

import pytest

from shopfloor.projections.calendar import Calendar, breaks_in, planned_ms, shift_at, shifts_between
from shopfloor.projections.lines import MachineChange, Progress, Rules, downtime_by_reason, figures

MIN = 60_000


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


DEFAULT = Calendar.parse("UTC", "06:00-14:00,14:00-22:00,22:00-06:00", "10:00-10:15")


def test_shift_over_midnight_belongs_to_the_evening_it_started() -> None:
    shift = shift_at(DEFAULT, ms("2026-12-02T03:00:00"))
    assert (shift.start_ms, shift.end_ms) == (ms("2026-12-01T22:00:00"), ms("2026-12-02T06:00:00"))
    assert shift.label == "2026-12-01 22:00"
    assert shift_at(DEFAULT, ms("2026-12-02T06:00:00")).label == "2026-12-02 06:00"


def test_shifts_are_local_time_and_dst_night_is_seven_hours() -> None:
    berlin = Calendar.parse("Europe/Berlin", "06:00-14:00,14:00-22:00,22:00-06:00")
    assert shift_at(berlin, ms("2026-12-01T05:30:00")).start_ms == ms("2026-12-01T05:00:00")
    night = shift_at(berlin, ms("2026-03-29T02:00:00"))  # clocks go 02:00 -> 03:00 that night
    assert night.end_ms - night.start_ms == 7 * 60 * MIN
    assert planned_ms(berlin, night, night.end_ms) == 7 * 60 * MIN


def test_planned_time_so_far_is_elapsed_minus_breaks() -> None:
    shift = shift_at(DEFAULT, ms("2026-12-01T12:00:00"))
    assert planned_ms(DEFAULT, shift, ms("2026-12-01T10:05:00")) == (4 * 60 + 0) * MIN  # 06:00-10:05 minus 5
    assert planned_ms(DEFAULT, shift, ms("2026-12-01T12:00:00")) == 345 * MIN
    assert planned_ms(DEFAULT, shift, ms("2026-12-01T23:00:00")) == (8 * 60 - 15) * MIN
    assert breaks_in(DEFAULT, shift.start_ms, shift.end_ms) == [
        (ms("2026-12-01T10:00:00"), ms("2026-12-01T10:15:00"))
    ]


def test_gaps_between_shifts_plan_nothing() -> None:
    days = Calendar.parse("UTC", "06:00-14:00")
    gap = shift_at(days, ms("2026-12-01T15:00:00"))
    assert gap.label == "off shift" and planned_ms(days, gap, ms("2026-12-01T16:00:00")) == 0
    found = shifts_between(days, ms("2026-12-01T00:00:00"), ms("2026-12-03T00:00:00"))
    assert [s.label for s in found] == ["2026-12-01 06:00", "2026-12-02 06:00"]


@pytest.mark.parametrize("bad", ["06:00", "6-14", "06:00-06:00", "25:00-26:00"])
def test_bad_calendar_settings_are_refused_with_a_message(bad: str) -> None:
    with pytest.raises(ValueError, match=r"HH:MM|empty"):
        Calendar.parse("UTC", bad)
    with pytest.raises(ValueError, match="time zone"):
        Calendar.parse("Mars/Olympus", "06:00-14:00")


CHANGES = [
    MachineChange("M1", ms("2026-12-01T05:00:00"), "RUNNING"),
    MachineChange("M2", ms("2026-12-01T05:30:00"), "RUNNING"),
    MachineChange("M1", ms("2026-12-01T07:00:00"), "DOWN", "jam"),  # stoppage 1: 20 min
    MachineChange("M1", ms("2026-12-01T07:20:00"), "RUNNING"),
    MachineChange("M2", ms("2026-12-01T09:50:00"), "DOWN", "material"),  # stoppage 2: 40 min, 15 in the break
    MachineChange("M1", ms("2026-12-01T09:55:00"), "DOWN", "jam"),  # overlaps stoppage 2: line time unchanged
    MachineChange("M1", ms("2026-12-01T10:05:00"), "RUNNING"),
    MachineChange("M2", ms("2026-12-01T10:30:00"), "RUNNING"),
]
PROGRESS = [
    Progress("WO1", ms("2026-12-01T05:50:00"), 10, 0, 30.0),  # before the shift: its baseline
    Progress("WO1", ms("2026-12-01T11:00:00"), 410, 20, 30.0),
    Progress("WO2", ms("2026-12-01T08:00:00"), 0, 0, 20.0),
    Progress("WO2", ms("2026-12-01T11:30:00"), 150, 10, None),  # cycle carried from the earlier event
]
NOON = ms("2026-12-01T12:00:00")


def test_a_shift_with_two_stoppages_a_break_and_scrap() -> None:
    shift = shift_at(DEFAULT, NOON)
    f = figures("L1", DEFAULT, shift, NOON, reversed(CHANGES), reversed(PROGRESS))
    # planned 06:00-12:00 minus the 15 min break = 345 min; down 20 + (40 - 15) = 45 min; run 300 min.
    assert f.planned_s == 345 * 60 and f.run_s == 300 * 60
    assert f.availability == pytest.approx(300 / 345)
    # ideal: WO1 (400 good + 20 scrap) x 30 s + WO2 (150 + 10) x 20 s = 12600 + 3200 = 15800 s
    assert f.performance == pytest.approx(15800 / 18000)
    assert (f.good, f.scrap) == (550, 30)
    assert f.quality == pytest.approx(550 / 580)
    assert f.oee == pytest.approx((300 / 345) * (15800 / 18000) * (550 / 580))
    assert round(f.oee, 3) == 0.724
    # target: 345 min at the ideal rate of the mix made, 580 units in 15800 s: 20700 x 580 / 15800
    # = 759.9 units; 550 made -> behind
    assert (f.target, f.actual, f.gap, f.state) == (759, 550, -209, "behind")


def test_downtime_minutes_by_machine_and_reason_leave_out_the_break() -> None:
    shift = shift_at(DEFAULT, NOON)
    breaks = breaks_in(DEFAULT, shift.start_ms, NOON)
    totals = downtime_by_reason(CHANGES, shift.start_ms, NOON, breaks)
    assert {k: v / MIN for k, v in totals.items()} == {("M1", "jam"): 25.0, ("M2", "material"): 25.0}


def test_a_down_machine_stops_its_line_and_the_target_excludes_nothing_then() -> None:
    at = ms("2026-12-01T07:10:00")
    f = figures("L1", DEFAULT, shift_at(DEFAULT, at), at, CHANGES, PROGRESS)
    assert f.state == "stopped"
    assert f.planned_s == 70 * 60 and f.run_s == 60 * 60


def test_missing_ideal_cycle_makes_performance_and_oee_unknown_not_full() -> None:
    progress = [
        Progress("WO9", ms("2026-12-01T07:00:00"), 0, 0),
        Progress("WO9", ms("2026-12-01T08:00:00"), 90, 10),
    ]
    at = ms("2026-12-01T08:00:00")
    f = figures("L1", DEFAULT, shift_at(DEFAULT, at), at, CHANGES, progress)
    assert f.performance is None and f.oee is None and f.target is None
    assert f.quality == pytest.approx(0.9) and f.availability == pytest.approx(100 / 120)
    assert f.state == "running"  # no target to be behind of


def test_units_made_without_a_rate_leave_the_target_unknown_like_performance() -> None:
    progress = [
        Progress("TIMED", ms("2026-12-01T06:30:00"), 0, 0, 10.0),
        Progress("TIMED", ms("2026-12-01T07:00:00"), 100, 0),
        Progress("UNTIMED", ms("2026-12-01T07:30:00"), 50, 0),  # no ideal_cycle_s ever: no rate for it
    ]
    at = ms("2026-12-01T08:00:00")
    f = figures("L1", DEFAULT, shift_at(DEFAULT, at), at, [], progress)
    # not TIMED's 10 s applied to all 150 units (360 a target): the mix's rate is not known
    assert f.performance is None and f.target is None and f.state == "running"


def test_behind_margin_decides_between_running_and_behind() -> None:
    progress = [
        Progress("W", ms("2026-12-01T06:00:00"), 0, 0, 60.0),
        Progress("W", ms("2026-12-01T07:00:00"), 57, 0),
    ]
    at = ms("2026-12-01T07:00:00")
    shift = shift_at(DEFAULT, at)
    # target 60 units in the first hour; 57 is 5 % short
    assert figures("L", DEFAULT, shift, at, [], progress, Rules(behind_margin=0.05)).state == "running"
    assert figures("L", DEFAULT, shift, at, [], progress, Rules(behind_margin=0.04)).state == "behind"
    assert figures("L", DEFAULT, shift, at, [], progress, Rules(target_share=0.9)).target == 54


def test_an_update_of_one_order_does_not_swap_the_shifts_target_onto_its_rate() -> None:
    """Two products at once, a fast one (10 s a unit) and a slow one (30 s), reporting in turn: the
    target follows the mix made, so it does not jump with whichever order spoke last."""
    start = ms("2026-12-01T06:00:00")
    progress = [Progress("FAST", start, 0, 0, 10.0), Progress("SLOW", start, 0, 0, 30.0)]
    targets = []
    for minute in range(1, 61):  # FAST reports on the minute, SLOW on the half minute before it
        progress.append(Progress("SLOW", start + minute * MIN - 30_000, minute - 1, 0))
        progress.append(Progress("FAST", start + minute * MIN, 5 * minute, 0))
        for at in (start + minute * MIN - 30_000, start + minute * MIN):
            targets.append(figures("L", DEFAULT, shift_at(DEFAULT, at), at, [], progress).target)
    assert all(b >= a for a, b in pairwise(targets)), targets
    # at 07:00: FAST 300 units x 10 s + SLOW 59 x 30 s = 4770 ideal s for 359 units; 3600 s planned at
    # that mix is 3600 x 359 / 4770 = 270.9 units (FAST's rate alone would say 360, SLOW's 120)
    assert targets[-1] == 270


def test_figures_depend_on_event_time_only_not_on_arrival_order() -> None:
    shift = shift_at(DEFAULT, NOON)
    a = figures("L1", DEFAULT, shift, NOON, CHANGES, PROGRESS)
    b = figures("L1", DEFAULT, shift, NOON, sorted(CHANGES, key=lambda c: c.equipment_id), PROGRESS[::-1])
    assert a == b


def test_due_flags_late_and_at_risk_from_units_left_at_the_ideal_rate() -> None:
    from shopfloor.web.lines import due_flag

    order = {
        "status": "IN_PROGRESS",
        "due_ms": 1_000_000,
        "quantity_planned": 100,
        "quantity_done": 40,
        "ideal_cycle_s": 10.0,
    }
    assert due_flag(order, 1_000_001) == "late"
    assert due_flag(order, 1_000_000 - 600_000) is None  # 60 units x 10 s = 600 s: just in time
    assert due_flag(order, 1_000_000 - 599_000) == "at-risk"
    assert due_flag({**order, "status": "COMPLETED"}, 2_000_000) is None
    assert due_flag({**order, "due_ms": None}, 2_000_000) is None


def test_new_event_fields_are_optional_and_checked() -> None:
    from pydantic import ValidationError

    from shopfloor.events.models import WorkOrderStatusChanged

    old = WorkOrderStatusChanged(work_order_id="W", status="RELEASED")
    assert old.due_at is None and old.ideal_cycle_s is None
    new = WorkOrderStatusChanged(
        work_order_id="W", status="IN_PROGRESS", due_at="2026-12-01T15:00:00+01:00", ideal_cycle_s=2.5
    )
    assert new.due_at is not None and new.due_at.utcoffset() is not None and new.ideal_cycle_s == 2.5
    for bad in (
        {"ideal_cycle_s": 0},
        {"ideal_cycle_s": -1},
        {"ideal_cycle_s": True},
        {"ideal_cycle_s": "5"},
        {"ideal_cycle_s": float("nan")},
        {"due_at": "2026-12-01T15:00:00"},
        {"due_at": "soon"},
    ):
        with pytest.raises(ValidationError):
            WorkOrderStatusChanged(work_order_id="W", status="IN_PROGRESS", **bad)


def test_settings_refuse_a_bad_calendar() -> None:
    from pydantic import ValidationError

    from shopfloor.config import Settings

    assert Settings(timezone="Europe/Berlin", breaks="10:00-10:15").calendar().breaks
    for bad in ({"timezone": "Nowhere/Else"}, {"shifts": ""}, {"breaks": "lunch"}):
        with pytest.raises(ValidationError):
            Settings(**bad)


def test_down_rule_all_counts_only_time_when_every_machine_is_down() -> None:
    # M1 down 07:00-07:30, M2 down 07:20-07:40; shift from 06:00, now 08:00: planned 120 min.
    # any: line down 07:00-07:40 = 40 min -> availability 80/120; all: 07:20-07:30 = 10 min -> 110/120.
    changes = [
        MachineChange("M1", ms("2026-12-01T05:50:00"), "RUNNING"),
        MachineChange("M2", ms("2026-12-01T05:50:00"), "RUNNING"),
        MachineChange("M1", ms("2026-12-01T07:00:00"), "DOWN", "jam"),
        MachineChange("M1", ms("2026-12-01T07:30:00"), "RUNNING"),
        MachineChange("M2", ms("2026-12-01T07:20:00"), "DOWN", "material"),
        MachineChange("M2", ms("2026-12-01T07:40:00"), "RUNNING"),
    ]
    now = ms("2026-12-01T08:00:00")
    shift = shift_at(DEFAULT, now)
    any_down = figures("L", DEFAULT, shift, now, changes, [], Rules(down_rule="any"))
    all_down = figures("L", DEFAULT, shift, now, changes, [], Rules(down_rule="all"))
    assert any_down.run_s == 80 * 60 and round(any_down.availability or 0, 3) == 0.667
    assert all_down.run_s == 110 * 60 and round(all_down.availability or 0, 3) == 0.917
    at_0710, at_0725 = ms("2026-12-01T07:10:00"), ms("2026-12-01T07:25:00")
    assert figures("L", DEFAULT, shift, at_0710, changes, [], Rules(down_rule="any")).state == "stopped"
    assert figures("L", DEFAULT, shift, at_0710, changes, [], Rules(down_rule="all")).state == "running"
    assert figures("L", DEFAULT, shift, at_0725, changes, [], Rules(down_rule="all")).state == "stopped"
    # Downtime by reason stays per machine whatever the rule.
    assert downtime_by_reason(changes, shift.start_ms, now) == {
        ("M1", "jam"): 30 * MIN,
        ("M2", "material"): 20 * MIN,
    }
