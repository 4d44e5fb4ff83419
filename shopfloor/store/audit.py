"""The audit trail: one row per administrative or supervisory action, written in the action's own
transaction (signing-in code and the store's dead-letter resolution both write it)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select

from shopfloor.store.schema import table_of


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """Who did what to what, and when."""

    id: int | None  # assigned by the database
    at_ms: int
    actor: str
    action: str
    target: str
    detail: str


AUDIT = table_of(AuditEntry, "audit_log", key=("id",), index=("at_ms",))


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
