"""Carrier cutoffs and the at-risk flag against hand-worked cases."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from shopfloor.projections.cutoffs import (
    at_risk,
    expected_dispatch_ms,
    next_cutoff,
    parse_cutoffs,
    stage_medians,
)

MIN = 60_000
UTC_ZONE = ZoneInfo("UTC")
CUTOFFS = parse_cutoffs("DHL=15:00;17:30, UPS=16:00")


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def test_cutoff_settings_parse_and_refuse_bad_input() -> None:
    assert [t.isoformat("minutes") for t in CUTOFFS["DHL"]] == ["15:00", "17:30"]
    for bad in ("DHL", "DHL=", "DHL=3pm", "=15:00"):
        with pytest.raises(ValueError, match="CARRIER=HH:MM"):
            parse_cutoffs(bad)


def test_next_cutoff_is_today_or_tomorrow_in_plant_time() -> None:
    assert next_cutoff(UTC_ZONE, CUTOFFS["DHL"], ms("2026-12-01T14:00:00")) == ms("2026-12-01T15:00:00")
    assert next_cutoff(UTC_ZONE, CUTOFFS["DHL"], ms("2026-12-01T15:00:00")) == ms("2026-12-01T17:30:00")
    assert next_cutoff(UTC_ZONE, CUTOFFS["DHL"], ms("2026-12-01T18:00:00")) == ms("2026-12-02T15:00:00")
    berlin = ZoneInfo("Europe/Berlin")  # 15:00 in Berlin is 14:00 UTC in winter
    assert next_cutoff(berlin, CUTOFFS["DHL"], ms("2026-12-01T13:00:00")) == ms("2026-12-01T14:00:00")


# last hour: CREATED->PAID took 2, 4, 30 min (median 4); PAID->PICKED 20, 30 (median 25);
# PICKED->DISPATCHED 10 min
MEDIANS = stage_medians(
    {"CREATED": [2 * MIN, 30 * MIN, 4 * MIN], "PAID": [20 * MIN, 30 * MIN], "PICKED": [10 * MIN]}
)


def test_expected_dispatch_at_the_current_pace() -> None:
    assert MEDIANS == {"CREATED": 4 * MIN, "PAID": 25 * MIN, "PICKED": 10 * MIN}
    now = ms("2026-12-01T14:00:00")
    # paid 10 min ago: 15 min of picking left, then 10 min to dispatch -> 14:25
    assert expected_dispatch_ms("PAID", now - 10 * MIN, now, MEDIANS) == ms("2026-12-01T14:25:00")
    # created an hour ago (over its median already): 0 + 25 + 10 -> 14:35
    assert expected_dispatch_ms("CREATED", now - 60 * MIN, now, MEDIANS) == ms("2026-12-01T14:35:00")


def test_at_risk_when_the_pace_misses_the_next_cutoff() -> None:
    since = ms("2026-12-01T14:20:00")  # just paid: 25 + 10 min -> dispatched 14:55 at best
    assert not at_risk("PAID", since, "DHL", since, MEDIANS, CUTOFFS, UTC_ZONE)  # DHL 15:00: makes it
    late = since + 10 * MIN  # 14:30, 10 min into PAID: 15 + 10 min left -> 14:55, still before 15:00
    assert not at_risk("PAID", since, "DHL", late, MEDIANS, CUTOFFS, UTC_ZONE)
    later = ms("2026-12-01T14:40:00")  # created at 14:40: 4 + 25 + 10 min -> 15:19, after DHL's 15:00
    assert at_risk("CREATED", later, "DHL", later, MEDIANS, CUTOFFS, UTC_ZONE)
    assert not at_risk("CREATED", later, "UPS", later, MEDIANS, CUTOFFS, UTC_ZONE)  # UPS 16:00
    assert not at_risk("CREATED", later, "GLS", later, MEDIANS, CUTOFFS, UTC_ZONE)  # no cutoffs known
    assert not at_risk("DISPATCHED", later, "DHL", later, MEDIANS, CUTOFFS, UTC_ZONE)
    assert not at_risk("CREATED", later, "DHL", later, {}, CUTOFFS, UTC_ZONE)  # no pace known: no flag


def test_demo_cutoffs_put_some_truck_within_six_minutes_at_any_time_of_day() -> None:
    from shopfloor.simulator.demo import demo_cutoffs

    cutoffs = parse_cutoffs(demo_cutoffs(["A", "B", "C", "D", "E"]))
    # Every 30 min per carrier, staggered by 6 min: A at :00, :30, B at :06, :36 ..., E at :24, :54
    assert [t.isoformat("minutes") for t in cutoffs["A"][:2]] == ["00:00", "00:30"]
    assert [t.isoformat("minutes") for t in cutoffs["E"][:2]] == ["00:24", "00:54"]
    assert all(len(times) == 48 for times in cutoffs.values())
    now = ms("2026-12-01T13:43:30")  # next trucks: D at 13:48, E at 13:54, A at 14:00 ...
    assert next_cutoff(UTC_ZONE, cutoffs["D"], now) == ms("2026-12-01T13:48:00")
    # A picked order with 5 min of picked-to-dispatch pace misses D's truck, not A's.
    medians = {"PICKED": 5 * MIN}
    assert at_risk("PICKED", now, "D", now, medians, cutoffs, UTC_ZONE)
    assert not at_risk("PICKED", now, "A", now, medians, cutoffs, UTC_ZONE)


def test_demo_command_uses_demo_cutoffs_unless_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    from shopfloor.cli import _demo_cutoffs

    monkeypatch.delenv("SHOPFLOOR_CARRIER_CUTOFFS", raising=False)
    assert set(parse_cutoffs(_demo_cutoffs()["carrier_cutoffs"])) == {
        "DHL",
        "UPS",
        "DB Schenker",
        "PostNord",
        "GLS",
    }
    monkeypatch.setenv("SHOPFLOOR_CARRIER_CUTOFFS", "DHL=15:00")
    assert _demo_cutoffs() == {}


def test_the_demo_shift_begins_when_the_demo_does_unless_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh demo store has no production from before it started: a shift begun hours earlier read
    as hours of idle planned time (OEE of a few per cent) for the demo's first minutes."""
    from shopfloor.cli import _demo_shifts
    from shopfloor.projections.calendar import Calendar, shift_at
    from shopfloor.simulator.demo import demo_shifts

    assert demo_shifts(datetime(2026, 12, 5, 15, 31, 40)) == "15:31-23:31,23:31-07:31,07:31-15:31"
    monkeypatch.delenv("SHOPFLOOR_SHIFTS", raising=False)
    shifts = _demo_shifts("Asia/Kolkata")["shifts"]  # a zone with no daylight saving, half an hour off UTC
    now_ms = int(datetime.now(UTC).timestamp() * 1000)  # after: the minute may turn meanwhile
    shift = shift_at(Calendar.parse("Asia/Kolkata", shifts, ""), now_ms)
    assert 0 <= now_ms - shift.start_ms < 2 * 60_000 and shift.end_ms - shift.start_ms == 8 * 3600_000
    monkeypatch.setenv("SHOPFLOOR_SHIFTS", "06:00-18:00,18:00-06:00")
    assert _demo_shifts("UTC") == {}
