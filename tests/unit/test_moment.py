"""Reading `?at=`: RFC 3339 with any offset, plant local time, a bare time of day, and clear refusals."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from shopfloor.history.moment import BadMoment, local_label, parse_moment

BERLIN = ZoneInfo("Europe/Berlin")
NOW = int(datetime(2026, 11, 27, 10, 0, tzinfo=UTC).timestamp() * 1000)  # 11:00 in Berlin


def ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-26T14:02:00Z", ms(2026, 11, 26, 14, 2)),
        ("2026-11-26T14:02:00+01:00", ms(2026, 11, 26, 13, 2)),
        ("2026-11-26T14:02:00 01:00", ms(2026, 11, 26, 13, 2)),  # "+" unescaped in a query string
        ("2026-11-26T14:02", ms(2026, 11, 26, 13, 2)),  # local: Berlin is UTC+1 in November
        ("2026-11-26 14:02:05", ms(2026, 11, 26, 13, 2, 5)),
        ("2026-11-27T10:00:30Z", ms(2026, 11, 27, 10, 0, 30)),  # half a minute ahead: another clock
        ("2026-07-01T12:00", ms(2026, 7, 1, 10, 0)),  # summer time: UTC+2
        ("10:30", ms(2026, 11, 27, 9, 30)),  # today, already past
        ("14:02", ms(2026, 11, 26, 13, 2)),  # later today has not happened: yesterday's
    ],
)
def test_moments_in_every_accepted_form(text: str, expected: int) -> None:
    assert parse_moment(text, BERLIN, NOW) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "2026-13-01T00:00",
        "14:02+01:00",
        "x" * 80,
        "99999-01-01",
        "2026-11-27T10:02:00Z",  # two minutes from now: nothing to show yet
        "2200-01-01T00:00:00Z",
    ],
)
def test_bad_moments_are_refused_with_what_is_accepted(text: str) -> None:
    with pytest.raises(BadMoment):
        parse_moment(text, BERLIN, NOW)


def test_the_banner_shows_plant_local_time() -> None:
    assert local_label(ms(2026, 11, 27, 13, 2), BERLIN) == "2026-11-27 14:02:00 CET"


def test_a_moment_may_be_as_far_ahead_as_event_times_may_be() -> None:
    """A producer clock 4 min fast puts the newest events, and the timeline's end, 4 min ahead: the
    past view must open there when the configured skew allows 5 min, and not beyond."""
    assert parse_moment("2026-11-27T10:04:00Z", BERLIN, NOW, ahead_ms=300_000) == ms(2026, 11, 27, 10, 4)
    with pytest.raises(BadMoment):
        parse_moment("2026-11-27T10:06:00Z", BERLIN, NOW, ahead_ms=300_000)
