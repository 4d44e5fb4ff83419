"""Alert lifecycle: OPEN → ACKED → CLEARED, shelving, and predictions kept current."""

from __future__ import annotations

from datetime import timedelta

from shopfloor.events.codec import decode
from shopfloor.projections import alerts
from shopfloor.projections.anomaly import PREDICTIVE, THRESHOLD, Signal, spec_for
from tests.support import T0, encode, event

MS0 = int(T0.timestamp() * 1000)


def _command(event_type: str, alert_id: str, offset_s: float, **extra: object) -> alerts.JournalEntry:
    data = {"alert_id": alert_id, "equipment_id": "M-1", "user": "sam", **extra}
    return alerts.journal_entry(decode(*encode(event(event_type, data, offset_s=offset_s))))


def _open(kind: str = THRESHOLD, ttl: float | None = None) -> alerts.Alert:
    alert = alerts.apply_signal(
        None, "M-1", "vibration", spec_for("vibration"), Signal(kind, MS0, True, 7.5, ttl)
    )
    assert alert is not None
    return alert


def test_signal_opens_then_clears() -> None:
    alert = _open()
    assert (alert.state, alert.severity, alert.active) == (alerts.OPEN, alerts.CRITICAL, True)
    assert alert.alert_id == f"M-1.vibration.threshold.{MS0}"
    cleared = alerts.apply_signal(
        alert, "M-1", "vibration", spec_for("vibration"), Signal(THRESHOLD, MS0 + 5000, False, 5.0)
    )
    assert cleared is not None
    assert (cleared.state, cleared.active, cleared.cleared_ms) == (alerts.CLEARED, False, MS0 + 5000)


def test_acknowledge_then_clear() -> None:
    alert = alerts.apply_command(_open(), _command("AlertAcknowledged", "x", 10, note="on it"))
    assert (alert.state, alert.acked_by, alert.note) == (alerts.ACKED, "sam", "on it")
    again = alerts.apply_command(alert, _command("AlertAcknowledged", "x", 20, user="kim"))
    assert again.acked_by == "sam"  # the first acknowledgement stands
    cleared = alerts.apply_signal(
        again, "M-1", "vibration", spec_for("vibration"), Signal(THRESHOLD, MS0 + 60_000, False, 5.0)
    )
    assert cleared is not None and cleared.state == alerts.CLEARED and cleared.acked_by == "sam"


def test_acknowledging_a_cleared_alert_keeps_it_cleared() -> None:
    cleared = alerts.apply_signal(
        _open(), "M-1", "vibration", spec_for("vibration"), Signal(THRESHOLD, MS0 + 1, False, 5.0)
    )
    assert cleared is not None
    acked = alerts.apply_command(cleared, _command("AlertAcknowledged", "x", 10))
    assert acked.state == alerts.CLEARED and acked.acked_ms is not None


def test_shelve_and_unshelve() -> None:
    until = (T0 + timedelta(hours=1)).isoformat()
    shelved = alerts.apply_command(_open(), _command("AlertShelved", "x", 10, until=until))
    assert shelved.shelved_until_ms == MS0 + 3_600_000 and shelved.shelved_by == "sam"
    assert shelved.state == alerts.OPEN
    back = alerts.apply_command(shelved, _command("AlertShelved", "x", 20, until=T0.isoformat()))
    assert back.shelved_until_ms is None


def test_prediction_stays_current_and_escalates() -> None:
    alert = _open(PREDICTIVE, ttl=1800)
    assert alert.severity == alerts.WARNING and alert.predicted_ms == MS0 + 1_800_000
    later = alerts.apply_signal(
        alert,
        "M-1",
        "vibration",
        spec_for("vibration"),
        Signal(PREDICTIVE, MS0 + 60_000, True, 6.5, 600, 0.1, ((MS0, 6.0), (MS0 + 60_000, 6.5))),
    )
    assert later is not None
    assert later.alert_id == alert.alert_id
    assert (later.severity, later.ttl_s, later.predicted_ms) == (alerts.CRITICAL, 600, MS0 + 660_000)
    assert later.evidence == f"[[{MS0},6.0],[{MS0 + 60_000},6.5]]"
