"""Kiosk screens: per-screen read-only tokens an admin creates and can revoke at any time."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import Engine, insert, select, update

from shopfloor.auth import audit
from shopfloor.auth.sessions import now_ms, token_hash
from shopfloor.auth.tables import KIOSKS, SESSIONS
from shopfloor.store.db import begin_write


def create(engine: Engine, name: str, actor: str) -> str:
    """Returns the token; it is shown to the admin once and only its hash is kept."""
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise ValueError("a screen name is 1-100 characters")
    token = secrets.token_urlsafe(32)
    with begin_write(engine) as conn:
        conn.execute(
            insert(KIOSKS).values(
                name=name, token_hash=token_hash(token), created_ms=now_ms(), created_by=actor
            )
        )
        audit.record(conn, actor, "kiosk.create", name)
    return token


def lookup(engine: Engine, token: str) -> dict[str, Any] | None:
    """The live (unrevoked) screen for a token, or None."""
    if not token or len(token) > 200:
        return None
    with engine.connect() as conn:
        row = conn.execute(
            select(KIOSKS).where(KIOSKS.c.token_hash == token_hash(token), KIOSKS.c.revoked_ms.is_(None))
        ).first()
    return None if row is None else dict(row._mapping)


def revoke(engine: Engine, kiosk_id: int, actor: str) -> None:
    """Revokes the token and ends every session opened with it (their SSE streams end too)."""
    with begin_write(engine) as conn:
        row = conn.execute(select(KIOSKS).where(KIOSKS.c.id == kiosk_id)).first()
        if row is None:
            raise ValueError(f"no screen {kiosk_id}")
        conn.execute(update(KIOSKS).where(KIOSKS.c.id == kiosk_id).values(revoked_ms=now_ms()))
        conn.execute(update(SESSIONS).where(SESSIONS.c.kiosk_id == kiosk_id).values(revoked=True))
        audit.record(conn, actor, "kiosk.revoke", row.name)


def listing(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                KIOSKS.c.id, KIOSKS.c.name, KIOSKS.c.created_ms, KIOSKS.c.created_by, KIOSKS.c.revoked_ms
            ).order_by(KIOSKS.c.id)
        )
        return [dict(r._mapping) for r in rows]
