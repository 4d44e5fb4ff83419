"""Alert and alarm-journal tables: folding detector signals and supervisor commands, and queries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, Text, case, delete, select

from shopfloor import alarm_config
from shopfloor.events.envelope import Envelope
from shopfloor.projections import alerts as fold
from shopfloor.projections.alerts import Alert, JournalEntry, Note
from shopfloor.projections.anomaly import NOTE_KINDS, Signal
from shopfloor.projections.frozen import as_dict
from shopfloor.store.changes import Changes
from shopfloor.store.db import insert_ignore, lock_keys, upsert_tuples
from shopfloor.store.entity import columns_of, load
from shopfloor.store.equipment import VIEW, tile_key
from shopfloor.store.schema import row_values, table_of


def alert_key(alert_id: str) -> str:
    return f"alert:{alert_id}"


ALERTS = table_of(
    Alert,
    "alerts",
    key=("alert_id",),
    index=("equipment_id", "opened_ms"),
    indexes={"ix_alerts_condition": ("equipment_id", "sensor", "kind", "active")},
    types={"evidence": Text, "note": Text},
)
# Informative anomalies (level shifts, spike clusters): shown on the trend, never raised as alarms.
NOTES = table_of(
    Note,
    "alarm_notes",
    key=("equipment_id", "sensor", "kind", "at_ms"),
    indexes={"ix_alarm_notes_time": ("at_ms",)},
)
# Who acknowledged or shelved what, when, with an optional note: the commands' history.
JOURNAL = table_of(
    JournalEntry, "alert_journal", key=("event_key",), index=("alert_id", "at_ms"), types={"note": Text}
)
NOTES_RETAIN_MS = 7 * 24 * 3600_000

SignalAt = tuple[str, str, Signal]  # equipment, sensor, signal


ALERT_COLUMNS = columns_of(ALERTS)
_alert_row = row_values(ALERTS)


def _load(conn: Connection, ids: Sequence[str]) -> dict[str, Alert]:
    return {
        alert.alert_id: alert for alert in map(_alert, load(conn, ALERTS, ALERT_COLUMNS, "alert_id", ids))
    }


def _alert(row: Sequence[Any]) -> Alert:
    alert = Alert(*row)
    return alert if isinstance(alert.active, bool) else replace(alert, active=bool(alert.active))


def apply_signals(conn: Connection, signals: Sequence[SignalAt], changes: Changes) -> None:
    """Open, update or clear alerts from a batch's signals (few: conditions change rarely); notes are
    recorded apart, for the trend."""
    notes = [fold.note_of(eq, sensor, s) for eq, sensor, s in signals if s.kind in NOTE_KINDS]
    if notes:
        insert_ignore(conn, NOTES, [as_dict(n) for n in notes])
        newest = max(n.at_ms for n in notes)
        conn.execute(delete(NOTES).where(NOTES.c.at_ms < newest - NOTES_RETAIN_MS))
    signals = [x for x in signals if x[2].kind not in NOTE_KINDS]
    if not signals:
        return
    changed = _fold_signals(conn, signals)
    # Supervisors' commands change the same alerts from another partition: lock what this batch
    # changes, then fold again from what is stored now (commands never open or clear an alert, so
    # the second fold changes the same alerts).
    if lock_keys(conn, ALERTS, changed):
        changed = _fold_signals(conn, signals)
    upsert_tuples(
        conn, ALERTS, ALERT_COLUMNS, [_alert_row(changed[i]) for i in sorted(changed)], ["alert_id"]
    )
    for alert in changed.values():
        changes.mark(VIEW, alert_key(alert.alert_id), alert.updated_ms)
        changes.mark(VIEW, tile_key(alert.equipment_id), alert.updated_ms)


def _fold_signals(conn: Connection, signals: Sequence[SignalAt]) -> dict[str, Alert]:
    """The alerts the signals open, update or clear, by id, with commands that came first applied."""
    wanted = {(eq, sensor, s.kind) for eq, sensor, s in signals}
    # the machines' standing alerts (few), of which the batch's conditions are picked
    machines = sorted({eq for eq, _, _ in wanted})
    standing = load(conn, ALERTS, ALERT_COLUMNS, "equipment_id", machines, {"active": True})
    current = {k: a for a in map(_alert, standing) if (k := (a.equipment_id, a.sensor, a.kind)) in wanted}
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
    return changed


def _journal_for(conn: Connection, alert_ids: Sequence[str]) -> list[JournalEntry]:
    if not alert_ids:
        return []
    rows = load(conn, JOURNAL, columns_of(JOURNAL), "alert_id", alert_ids)
    return sorted((JournalEntry(*r) for r in rows), key=lambda e: (e.at_ms, e.event_key))


class AlertCommandHandler:
    """Acknowledge and shelve: a journal entry each, and the alert changed if it is known."""

    event_types = frozenset({"AlertAcknowledged", "AlertShelved"})
    tables = (ALERTS, JOURNAL)
    views = (VIEW,)

    def apply(self, conn: Connection, events: Sequence[Envelope], changes: Changes) -> None:
        entries = [fold.journal_entry(e) for e in events]
        ids = sorted({e.alert_id for e in entries})
        lock_keys(conn, ALERTS, ids)
        insert_ignore(conn, JOURNAL, [as_dict(e) for e in entries])
        alerts = _load(conn, ids)
        for entry in entries:
            alert = alerts.get(entry.alert_id)
            if alert is not None:
                alerts[entry.alert_id] = fold.apply_command(alert, entry)
            changes.mark(VIEW, alert_key(entry.alert_id), entry.at_ms)
        upsert_tuples(
            conn, ALERTS, ALERT_COLUMNS, [_alert_row(alerts[i]) for i in sorted(alerts)], ["alert_id"]
        )
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
