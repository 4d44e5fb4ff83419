"""Webhook deliveries of unacknowledged critical alarms: one row per alarm and escalation level."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Text, select

from shopfloor.store.alerts import ALERTS
from shopfloor.store.db import upsert
from shopfloor.store.schema import table_of


@dataclass(frozen=True, slots=True)
class Delivery:
    """What was sent where, how many attempts it took, and the last error if it never got through."""

    alert_id: str
    level: int  # 1: first target, 2: escalation
    target: str
    status: str  # DELIVERED or FAILED
    attempts: int
    at_ms: int
    last_error: str | None


NOTIFICATIONS = table_of(
    Delivery, "alarm_notifications", key=("alert_id", "level"), types={"last_error": Text}
)


def unacknowledged_critical(conn: Connection) -> list[dict[str, Any]]:
    query = select(ALERTS).where(
        ALERTS.c.active.is_(True), ALERTS.c.acked_ms.is_(None), ALERTS.c.priority == "critical"
    )
    return [dict(r._mapping) for r in conn.execute(query.order_by(ALERTS.c.opened_ms))]


def sent_levels(conn: Connection, alert_ids: Sequence[str]) -> dict[str, set[int]]:
    """Levels already attempted per alarm (delivered or given up on): never sent twice."""
    if not alert_ids:
        return {}
    rows = conn.execute(select(NOTIFICATIONS).where(NOTIFICATIONS.c.alert_id.in_(list(alert_ids))))
    found: dict[str, set[int]] = {}
    for r in rows:
        found.setdefault(r.alert_id, set()).add(r.level)
    return found


def record(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    upsert(conn, NOTIFICATIONS, list(rows), ["alert_id", "level"])


def deliveries(conn: Connection) -> list[dict[str, Any]]:
    query = select(NOTIFICATIONS).order_by(
        NOTIFICATIONS.c.at_ms, NOTIFICATIONS.c.alert_id, NOTIFICATIONS.c.level
    )
    return [dict(r._mapping) for r in conn.execute(query)]
