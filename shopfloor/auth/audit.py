"""The audit trail: one row per administrative or supervisory action."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, insert, select

from shopfloor.auth.tables import AUDIT


def record(conn: Connection, actor: str, action: str, target: str, detail: str = "") -> None:
    """Written in the caller's transaction, so an action and its audit row commit together."""
    conn.execute(
        insert(AUDIT).values(
            at_ms=int(time.time() * 1000),
            actor=actor,
            action=action,
            target=target[:500],
            detail=detail[:2000],
        )
    )


def recent(conn: Connection, limit: int = 100, action_prefix: str | None = None) -> list[dict[str, Any]]:
    query = select(AUDIT).order_by(AUDIT.c.id.desc()).limit(limit)
    if action_prefix:
        query = query.where(AUDIT.c.action.startswith(action_prefix))
    return [dict(r._mapping) for r in conn.execute(query)]
