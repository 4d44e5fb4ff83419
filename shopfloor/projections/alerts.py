"""Alerts: OPEN → ACKED → CLEARED, plus shelving, folded from detector signals and supervisor commands.

A condition that starts opens a new alert; while it lasts, the same alert is kept current (value,
severity, predicted time to limit and the readings behind it); when it ends the alert is CLEARED,
acknowledged or not. Acknowledge and shelve arrive as events; each also becomes a journal entry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

from shopfloor.events.envelope import Envelope
from shopfloor.events.models import AlertAcknowledged, AlertCommand, AlertShelved
from shopfloor.projections.anomaly import (
    INTERMITTENT,
    PREDICTIVE,
    PRIORITIES,
    SENSOR_FAULT,
    SHIFT,
    SPIKE,
    THRESHOLD,
    WEAR,
    SensorSpec,
    Signal,
)
from shopfloor.projections.frozen import frozen

OPEN, ACKED, CLEARED = "OPEN", "ACKED", "CLEARED"
CRITICAL, WARNING, INFO = "CRITICAL", "WARNING", "INFO"
SEVERITY_RANK = {CRITICAL: 0, WARNING: 1, INFO: 2}
CRITICAL_TTL_S = 15 * 60


@dataclass(frozen=True, slots=True)
class Alert:
    alert_id: str
    equipment_id: str
    sensor: str
    kind: str
    severity: str
    state: str
    active: bool
    opened_ms: int
    updated_ms: int
    value: float
    limit: float | None = None
    ttl_s: float | None = None
    predicted_ms: int | None = None
    slope_per_min: float | None = None
    evidence: str = "[]"  # the minute means (ms, value) that drove it, as JSON
    cleared_ms: int | None = None
    acked_ms: int | None = None
    acked_by: str | None = None
    shelved_until_ms: int | None = None
    shelved_by: str | None = None
    note: str | None = None
    priority: str = "high"
    detail: str | None = None  # what kind of sensor fault: stuck, silent, out of range


@frozen
class Note:
    """An informative anomaly (a level shift, a cluster of spikes): on the trend, never an alarm."""

    equipment_id: str
    sensor: str
    kind: str
    at_ms: int
    active: bool
    value: float


@frozen
class JournalEntry:
    event_key: str
    alert_id: str
    equipment_id: str | None
    action: str
    user: str | None
    note: str | None
    at_ms: int
    until_ms: int | None


def make_alert_id(equipment_id: str, sensor: str, kind: str, opened_ms: int) -> str:
    """Deterministic, so a replay recreates the same ids the journal refers to."""
    return f"{equipment_id}.{sensor}.{kind.lower()}.{opened_ms}"


def severity(kind: str, ttl_s: float | None) -> str:
    if kind == THRESHOLD:
        return CRITICAL
    if kind in (PREDICTIVE, WEAR):
        return CRITICAL if ttl_s is not None and ttl_s <= CRITICAL_TTL_S else WARNING
    if kind in (SHIFT, INTERMITTENT, SENSOR_FAULT):
        return WARNING
    assert kind == SPIKE
    return INFO


def priority(kind: str, ttl_s: float | None, spec: SensorSpec) -> str:
    """The configured priority for a limit reached or about to be; one lower for early warnings and
    sensor faults (someone must act, but not before the process alarms)."""
    if kind == THRESHOLD or (kind in (PREDICTIVE, WEAR) and ttl_s is not None and ttl_s <= CRITICAL_TTL_S):
        return spec.priority
    rank = PRIORITIES.index(spec.priority) if spec.priority in PRIORITIES else 1
    return PRIORITIES[min(rank + 1, len(PRIORITIES) - 1)]


def note_of(equipment_id: str, sensor: str, signal: Signal) -> Note:
    return Note(equipment_id, sensor, signal.kind, signal.at_ms, signal.active, signal.value)


def apply_signal(
    current: Alert | None, equipment_id: str, sensor: str, spec: SensorSpec, signal: Signal
) -> Alert | None:
    """The alert after a signal: new, updated or cleared; None when nothing was open to clear."""
    if not signal.active:
        if current is None:
            return None
        return replace(
            current,
            state=CLEARED,
            active=False,
            cleared_ms=signal.at_ms,
            updated_ms=signal.at_ms,
            value=signal.value,
        )
    predicted = None if signal.ttl_s is None else signal.at_ms + int(signal.ttl_s * 1000)
    evidence = json.dumps([[t, round(v, 4)] for t, v in signal.evidence], separators=(",", ":"))
    if current is None:
        return Alert(
            alert_id=make_alert_id(equipment_id, sensor, signal.kind, signal.at_ms),
            equipment_id=equipment_id,
            sensor=sensor,
            kind=signal.kind,
            severity=severity(signal.kind, signal.ttl_s),
            state=OPEN,
            active=True,
            opened_ms=signal.at_ms,
            updated_ms=signal.at_ms,
            value=signal.value,
            limit=spec.limit,
            ttl_s=signal.ttl_s,
            predicted_ms=predicted,
            slope_per_min=signal.slope_per_min,
            evidence=evidence,
            priority=priority(signal.kind, signal.ttl_s, spec),
            detail=signal.detail,
        )
    return replace(
        current,
        severity=severity(signal.kind, signal.ttl_s),
        updated_ms=max(current.updated_ms, signal.at_ms),
        value=signal.value,
        ttl_s=signal.ttl_s,
        predicted_ms=predicted,
        slope_per_min=signal.slope_per_min,
        evidence=evidence if signal.evidence else current.evidence,
        priority=priority(signal.kind, signal.ttl_s, spec),
        detail=signal.detail or current.detail,
    )


def journal_entry(event: Envelope) -> JournalEntry:
    data = event.data
    assert isinstance(data, AlertCommand)
    until = data.until if isinstance(data, AlertShelved) else None
    return JournalEntry(
        event_key=event.dedup_key,
        alert_id=data.alert_id,
        equipment_id=data.equipment_id,
        action="ACKNOWLEDGE" if isinstance(data, AlertAcknowledged) else "SHELVE",
        user=data.user,
        note=data.note,
        at_ms=event.event_ms,
        until_ms=None if until is None else int(until.timestamp() * 1000),
    )


def apply_command(alert: Alert, entry: JournalEntry) -> Alert:
    """Acknowledge moves OPEN to ACKED (a cleared alert stays CLEARED, but records who saw it)."""
    if entry.action == "ACKNOWLEDGE":
        if alert.acked_ms is not None:
            return alert
        return replace(
            alert,
            state=ACKED if alert.state == OPEN else alert.state,
            acked_ms=entry.at_ms,
            acked_by=entry.user,
            note=entry.note if entry.note is not None else alert.note,
        )
    shelved = entry.until_ms if entry.until_ms is not None and entry.until_ms > entry.at_ms else None
    return replace(
        alert,
        shelved_until_ms=shelved,
        shelved_by=entry.user if shelved is not None else None,
        note=entry.note if entry.note is not None else alert.note,
    )
