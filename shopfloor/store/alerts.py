"""Alert and alarm-journal tables: folding detector signals and supervisor commands, and queries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from sqlalchemy import BigInteger, Connection, Index, Text, case, delete, select, tuple_
from sqlmodel import Field, SQLModel

from shopfloor import alarm_config
from shopfloor.events.envelope import Envelope
from shopfloor.projections import alerts as fold
from shopfloor.projections.alerts import Alert, JournalEntry
from shopfloor.projections.anomaly import NOTE_KINDS, Signal
from shopfloor.store.changes import Changes
from shopfloor.store.db import insert_ignore, upsert
from shopfloor.store.equipment import VIEW, tile_key

CHUNK = 500


def alert_key(alert_id: str) -> str:
    return f"alert:{alert_id}"


class AlertRow(SQLModel, table=True):
    __tablename__ = "alerts"
    alert_id: str = Field(primary_key=True)
    equipment_id: str = Field(index=True)
    sensor: str
    kind: str
    severity: str
    state: str
    active: bool
    opened_ms: int = Field(sa_type=BigInteger, index=True)
    updated_ms: int = Field(sa_type=BigInteger)
    value: float
    limit: float | None = None
    ttl_s: float | None = None
    predicted_ms: int | None = Field(default=None, sa_type=BigInteger)
    slope_per_min: float | None = None
    evidence: str = Field(default="[]", sa_type=Text)
    cleared_ms: int | None = Field(default=None, sa_type=BigInteger)
    acked_ms: int | None = Field(default=None, sa_type=BigInteger)
    acked_by: str | None = None
    shelved_until_ms: int | None = Field(default=None, sa_type=BigInteger)
    shelved_by: str | None = None
    note: str | None = Field(default=None, sa_type=Text)
    priority: str = "high"
    detail: str | None = None


class AlarmNoteRow(SQLModel, table=True):
    """Informative anomalies (level shifts, spike clusters): shown on the trend, never raised as alarms."""

    __tablename__ = "alarm_notes"
    equipment_id: str = Field(primary_key=True)
    sensor: str = Field(primary_key=True)
    kind: str = Field(primary_key=True)
    at_ms: int = Field(primary_key=True, sa_type=BigInteger)
    active: bool
    value: float


class AlertJournalRow(SQLModel, table=True):
    """Who acknowledged or shelved what, when, with an optional note: the commands' history."""

    __tablename__ = "alert_journal"
    event_key: str = Field(primary_key=True)
    alert_id: str = Field(index=True)
    equipment_id: str | None = None
    action: str
    user: str | None = None
    note: str | None = Field(default=None, sa_type=Text)
    at_ms: int = Field(sa_type=BigInteger, index=True)
    until_ms: int | None = Field(default=None, sa_type=BigInteger)


ALERTS = AlertRow.__table__  # type: ignore[attr-defined]
JOURNAL = AlertJournalRow.__table__  # type: ignore[attr-defined]
NOTES = AlarmNoteRow.__table__  # type: ignore[attr-defined]
Index("ix_alarm_notes_time", NOTES.c.at_ms)
NOTES_RETAIN_MS = 7 * 24 * 3600_000
Index("ix_alerts_condition", ALERTS.c.equipment_id, ALERTS.c.sensor, ALERTS.c.kind, ALERTS.c.active)

SignalAt = tuple[str, str, Signal]  # equipment, sensor, signal


def _row(alert: Alert) -> dict[str, Any]:
    return asdict(alert)


def _load(conn: Connection, ids: Sequence[str]) -> dict[str, Alert]:
    found: dict[str, Alert] = {}
    for start in range(0, len(ids), CHUNK):
        rows = conn.execute(select(ALERTS).where(ALERTS.c.alert_id.in_(ids[start : start + CHUNK])))
        found.update({r.alert_id: Alert(**r._mapping) for r in rows})
    return found


def apply_signals(conn: Connection, signals: Sequence[SignalAt], changes: Changes) -> None:
    """Open, update or clear alerts from a batch's signals (few: conditions change rarely); notes are
    recorded apart, for the trend."""
    notes = [fold.note_of(eq, sensor, s) for eq, sensor, s in signals if s.kind in NOTE_KINDS]
    if notes:
        insert_ignore(conn, NOTES, [asdict(n) for n in notes])
        newest = max(n.at_ms for n in notes)
        conn.execute(delete(NOTES).where(NOTES.c.at_ms < newest - NOTES_RETAIN_MS))
    signals = [x for x in signals if x[2].kind not in NOTE_KINDS]
    if not signals:
        return
    keys = sorted({(eq, sensor, s.kind) for eq, sensor, s in signals})
    current: dict[tuple[str, str, str], Alert] = {}
    for start in range(0, len(keys), CHUNK):
        rows = conn.execute(
            select(ALERTS).where(
                ALERTS.c.active.is_(True),
                tuple_(ALERTS.c.equipment_id, ALERTS.c.sensor, ALERTS.c.kind).in_(
                    keys[start : start + CHUNK]
                ),
            )
        )
        for r in rows:
            current[(r.equipment_id, r.sensor, r.kind)] = Alert(**r._mapping)
    loaded = {a.alert_id for a in current.values()}
    changed: dict[str, Alert] = {}
    for eq, sensor, signal in signals:
        key = (eq, sensor, signal.kind)
        alert = fold.apply_signal(current.get(key), eq, sensor, alarm_config.spec(eq, sensor), signal)
        if alert is None:
            continue
        changed[alert.alert_id] = alert
        if alert.active:
            current[key] = alert
        else:
            current.pop(key, None)
    created = [i for i in changed if i not in loaded]
    for entry in _journal_for(conn, created):  # commands replayed ahead of their alert
        changed[entry.alert_id] = fold.apply_command(changed[entry.alert_id], entry)
    upsert(conn, ALERTS, [_row(changed[i]) for i in sorted(changed)], ["alert_id"])
    for alert in changed.values():
        changes.mark(VIEW, alert_key(alert.alert_id), alert.updated_ms)
        changes.mark(VIEW, tile_key(alert.equipment_id), alert.updated_ms)


def _journal_for(conn: Connection, alert_ids: Sequence[str]) -> list[JournalEntry]:
    if not alert_ids:
        return []
    query = select(JOURNAL).where(JOURNAL.c.alert_id.in_(list(alert_ids)))
    rows = [JournalEntry(**r._mapping) for r in conn.execute(query)]
    return sorted(rows, key=lambda e: (e.at_ms, e.event_key))


class AlertCommandHandler:
    """Acknowledge and shelve: a journal entry each, and the alert changed if it is known."""

    event_types = frozenset({"AlertAcknowledged", "AlertShelved"})

    def apply(self, conn: Connection, events: Sequence[Envelope], changes: Changes) -> None:
        entries = [fold.journal_entry(e) for e in events]
        insert_ignore(conn, JOURNAL, [asdict(e) for e in entries])
        alerts = _load(conn, sorted({e.alert_id for e in entries}))
        for entry in entries:
            alert = alerts.get(entry.alert_id)
            if alert is not None:
                alerts[entry.alert_id] = fold.apply_command(alert, entry)
            changes.mark(VIEW, alert_key(entry.alert_id), entry.at_ms)
        upsert(conn, ALERTS, [_row(alerts[i]) for i in sorted(alerts)], ["alert_id"])
        for alert in alerts.values():
            changes.mark(VIEW, tile_key(alert.equipment_id), alert.updated_ms)


def severity_order() -> Any:
    return case({sev: rank for sev, rank in fold.SEVERITY_RANK.items()}, value=ALERTS.c.severity, else_=9)


def list_alerts(
    conn: Connection,
    ids: Sequence[str] | None = None,
    equipment_id: str | None = None,
    state: str | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Standing alerts first, then the most severe, then the newest."""
    query = select(ALERTS).order_by(
        ALERTS.c.active.desc(), severity_order(), ALERTS.c.opened_ms.desc(), ALERTS.c.alert_id
    )
    if ids is not None:
        query = query.where(ALERTS.c.alert_id.in_(list(ids)))
    if equipment_id is not None:
        query = query.where(ALERTS.c.equipment_id == equipment_id)
    if state is not None:
        query = query.where(ALERTS.c.state == state)
    return [dict(row._mapping) for row in conn.execute(query.limit(limit))]


def active_by_equipment(
    conn: Connection, ids: Sequence[str] | None = None
) -> dict[str, list[dict[str, Any]]]:
    query = select(ALERTS).where(ALERTS.c.active.is_(True))
    if ids is not None:
        query = query.where(ALERTS.c.equipment_id.in_(list(ids)))
    result: dict[str, list[dict[str, Any]]] = {}
    for row in conn.execute(query):
        result.setdefault(row.equipment_id, []).append(dict(row._mapping))
    return result


def get_alert(conn: Connection, alert_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(ALERTS).where(ALERTS.c.alert_id == alert_id)).first()
    return None if row is None else dict(row._mapping)


def journal(conn: Connection, alert_id: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    query = select(JOURNAL).order_by(JOURNAL.c.at_ms.desc(), JOURNAL.c.event_key).limit(limit)
    if alert_id is not None:
        query = query.where(JOURNAL.c.alert_id == alert_id)
    return [dict(row._mapping) for row in conn.execute(query)]


def notes(conn: Connection, equipment_id: str, since_ms: int, limit: int = 500) -> list[dict[str, Any]]:
    """The newest `limit` informative anomalies of a machine since `since_ms`, oldest first (trend
    annotations: a busy week keeps its latest notes, not its first)."""
    query = (
        select(NOTES)
        .where(NOTES.c.equipment_id == equipment_id, NOTES.c.at_ms > since_ms)
        .order_by(NOTES.c.at_ms.desc(), NOTES.c.sensor.desc(), NOTES.c.kind.desc())
        .limit(limit)
    )
    return [dict(row._mapping) for row in reversed(conn.execute(query).all())]


def alarms_between(
    conn: Connection,
    from_ms: int,
    to_ms: int,
    *,
    equipment_id: str | None = None,
    kind: str | None = None,
    priority: str | None = None,
    state: str | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """Alarms raised in [from_ms, to_ms), newest first, optionally filtered (the alarm journal)."""
    query = select(ALERTS).where(ALERTS.c.opened_ms >= from_ms, ALERTS.c.opened_ms < to_ms)
    for column, value in (
        ("equipment_id", equipment_id),
        ("kind", kind),
        ("priority", priority),
        ("state", state),
    ):
        if value:
            query = query.where(ALERTS.c[column] == value)
    query = query.order_by(ALERTS.c.opened_ms.desc(), ALERTS.c.alert_id).limit(limit)
    return [dict(row._mapping) for row in conn.execute(query)]


def standing(conn: Connection, limit: int = 500) -> list[dict[str, Any]]:
    """Alarms still active, oldest first."""
    query = select(ALERTS).where(ALERTS.c.active.is_(True)).order_by(ALERTS.c.opened_ms).limit(limit)
    return [dict(row._mapping) for row in conn.execute(query)]


def journal_between(conn: Connection, from_ms: int, to_ms: int, limit: int = 500) -> list[dict[str, Any]]:
    """Acknowledgements and shelvings in [from_ms, to_ms), newest first."""
    query = (
        select(JOURNAL)
        .where(JOURNAL.c.at_ms >= from_ms, JOURNAL.c.at_ms < to_ms)
        .order_by(JOURNAL.c.at_ms.desc(), JOURNAL.c.event_key)
        .limit(limit)
    )
    return [dict(row._mapping) for row in conn.execute(query)]
