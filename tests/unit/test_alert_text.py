"""What an alert on /equipment says, per kind and state: read by people deciding whether to walk to a
machine, so each kind must say what it is, and a figure must say which moment it is from."""

from __future__ import annotations

import re
from dataclasses import asdict, replace

import pytest

from shopfloor import pages
from shopfloor.pages import templates
from shopfloor.projections import alerts
from shopfloor.projections.anomaly import ALARM_KINDS
from shopfloor.web.equipment import alert_sort_key, with_evidence

OPENED = 1_764_583_200_000  # 2025-12-01 10:00:00 UTC
CLEARED = OPENED + 7 * 60_000 + 33_000  # 10:07:33


def _alert(kind: str, **changes: object) -> alerts.Alert:
    opened = alerts.Alert(
        alert_id=f"M-7.temperature.{kind.lower()}.{OPENED}",
        equipment_id="M-7",
        sensor="temperature",
        kind=kind,
        severity=alerts.severity(kind, 600.0),
        state=alerts.OPEN,
        active=True,
        opened_ms=OPENED,
        updated_ms=OPENED,
        value=96.77,
        limit=95.0,
        ttl_s=600.0 if kind in ("PREDICTIVE", "WEAR") else None,
        predicted_ms=OPENED + 600_000 if kind in ("PREDICTIVE", "WEAR") else None,
        slope_per_min=0.25 if kind in ("PREDICTIVE", "WEAR") else None,
        detail="stuck" if kind == "SENSOR_FAULT" else None,
    )
    return replace(opened, **changes)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _utc_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Times in UTC whatever zone an app built earlier in the session gave the shared filter."""
    monkeypatch.setitem(templates.env.filters, "clock", pages._clock)


def _text(alert: alerts.Alert) -> str:
    html = templates.env.get_template("equipment/alert.html").render(
        a=with_evidence(asdict(alert)), now_ms=OPENED, alert_sort_key=alert_sort_key, past=None
    )
    return " ".join(re.sub(r"<[^>]+>", "", html).split())


OPEN_WORDS = {
    "THRESHOLD": "Over its limit (95.0): 96.77 when it was raised.",
    "PREDICTIVE": "Limit 95.0 predicted 10:10:00, rising 0.250/min; now 96.77.",
    "WEAR": "Wear: the hourly average is rising; limit 95.0 predicted 10:10:00",
    "INTERMITTENT": "Intermittent fault: repeated bursts of reading-to-reading noise",
    "SENSOR_FAULT": "Sensor fault: stuck; its readings cannot be trusted",
}
CLEARED_WORDS = {
    "THRESHOLD": "Back under its limit (95.0): 56.67 when it cleared.",
    "PREDICTIVE": "No longer heading for its limit (95.0): 56.67 when it cleared.",
    "WEAR": "No longer heading for its limit (95.0): 56.67 when it cleared.",
    "INTERMITTENT": "Bursts of noise have died down",
    "SENSOR_FAULT": "The sensor reads plausibly again (56.67 when it cleared).",
}


@pytest.mark.parametrize("kind", ALARM_KINDS)
def test_a_standing_alarm_says_what_it_is_and_since_when(kind: str) -> None:
    text = _text(_alert(kind))
    assert OPEN_WORDS[kind] in text
    assert "since 10:00:00" in text
    assert "Spikes" not in text  # the words of another kind


@pytest.mark.parametrize("kind", ALARM_KINDS)
def test_a_cleared_alarm_gives_its_clearing_reading_as_such_and_both_times(kind: str) -> None:
    text = _text(_alert(kind, state=alerts.CLEARED, active=False, value=56.67, cleared_ms=CLEARED))
    assert CLEARED_WORDS[kind] in text
    assert "10:00:00–10:07:33" in text  # when it was raised and when it cleared, not just the first
    assert "Over its limit" not in text and "Spikes" not in text


def test_counts_read_as_written_words() -> None:
    plural = templates.env.filters["plural"]
    assert (plural(1, "alert"), plural(0, "alert"), plural(3, "unit")) == ("1 alert", "0 alerts", "3 units")
