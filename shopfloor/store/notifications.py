"""Webhook deliveries of unacknowledged critical alarms: one row per alarm and escalation level."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, Connection, Text, select
from sqlmodel import Field, SQLModel

from shopfloor.store.alerts import ALERTS
from shopfloor.store.db import upsert


class AlarmNotificationRow(SQLModel, table=True):
    """What was sent where, how many attempts it took, and the last error if it never got through."""

    __tablename__ = "alarm_notifications"
    alert_id: str = Field(primary_key=True)
    level: int = Field(primary_key=True)  # 1: first target, 2: escalation
    target: str
    status: str  # DELIVERED or FAILED
    attempts: int
    at_ms: int = Field(sa_type=BigInteger)
    last_error: str | None = Field(default=None, sa_type=Text)


NOTIFICATIONS = AlarmNotificationRow.__table__  # type: ignore[attr-defined]


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
