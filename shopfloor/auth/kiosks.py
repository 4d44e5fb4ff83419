"""Kiosk screens: an admin creates a one-time link for a screen and a page; opening it starts the
screen's long read-only session on that page. The link cannot be opened again, and the screen's
session is listed in /admin and can be revoked at any time."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import Engine, insert, select, update

from shopfloor.auth import audit
from shopfloor.auth.sessions import now_ms, token_hash
from shopfloor.auth.tables import KIOSKS, SESSIONS
from shopfloor.store.db import begin_write

NOT_FOR_SCREENS = ("/kiosk/", "/login", "/logout", "/admin", "/api/", "/sse/")


def screen_page(page: str) -> str:
    """A board path on this site (no scheme, no `//host`), or ValueError."""
    page = page.strip() or "/"
    if (
        not page.startswith("/")
        or page.startswith("//")
        or "\\" in page
        or len(page) > 200
        or page.startswith(NOT_FOR_SCREENS)
        or any(ord(c) < 33 for c in page)
    ):
        raise ValueError("a screen's page is a board path on this site, e.g. /work-orders?line=L3")
    return page


def create(engine: Engine, name: str, actor: str, page: str = "/") -> str:
    """Returns the token; it is shown to the admin once and only its hash is kept."""
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise ValueError("a screen name is 1-100 characters")
    page = screen_page(page)
    token = secrets.token_urlsafe(32)
    with begin_write(engine) as conn:
        conn.execute(
            insert(KIOSKS).values(
                name=name, page=page, token_hash=token_hash(token), created_ms=now_ms(), created_by=actor
            )
        )
        audit.record(conn, actor, "kiosk.create", name, f"page={page}")
    return token


def claim(engine: Engine, token: str) -> dict[str, Any] | None:
    """Marks an unused, unrevoked link used and returns its screen; None for any other token.

    One conditional UPDATE: of two screens opening the same link at once, exactly one wins.
    """
    if not token or len(token) > 200:
        return None
    hashed = token_hash(token)
    with begin_write(engine) as conn:
        won = conn.execute(
            update(KIOSKS)
            .where(KIOSKS.c.token_hash == hashed, KIOSKS.c.used_ms.is_(None), KIOSKS.c.revoked_ms.is_(None))
            .values(used_ms=now_ms())
        ).rowcount
        if won != 1:
            return None
        row = conn.execute(select(KIOSKS).where(KIOSKS.c.token_hash == hashed)).first()
        audit.record(conn, f"kiosk:{row.name}", "kiosk.open", row.name)
    return dict(row._mapping)


def revoke(engine: Engine, kiosk_id: int, actor: str) -> None:
    """Revokes the link and ends the session opened with it (its SSE streams end too)."""
    with begin_write(engine) as conn:
        row = conn.execute(select(KIOSKS).where(KIOSKS.c.id == kiosk_id)).first()
        if row is None:
            raise ValueError(f"no screen {kiosk_id}")
        conn.execute(update(KIOSKS).where(KIOSKS.c.id == kiosk_id).values(revoked_ms=now_ms()))
        conn.execute(update(SESSIONS).where(SESSIONS.c.kiosk_id == kiosk_id).values(revoked=True))
        audit.record(conn, actor, "kiosk.revoke", row.name)


def listing(engine: Engine) -> list[dict[str, Any]]:
    """Every screen with its session, if one was opened: when, last seen, until, and whether live."""
    now = now_ms()
    with engine.connect() as conn:
        screens = [dict(r._mapping) for r in conn.execute(select(KIOSKS).order_by(KIOSKS.c.id))]
        sessions = {
            r.kiosk_id: r
            for r in conn.execute(
                select(
                    SESSIONS.c.kiosk_id,
                    SESSIONS.c.created_ms,
                    SESSIONS.c.last_seen_ms,
                    SESSIONS.c.expires_ms,
                    SESSIONS.c.revoked,
                ).where(SESSIONS.c.kiosk_id.is_not(None))
            )
        }
    for screen in screens:
        screen.pop("token_hash")
        session = sessions.get(screen["id"])
        screen["session"] = (
            None
            if session is None
            else {
                "opened_ms": session.created_ms,
                "last_seen_ms": session.last_seen_ms,
                "expires_ms": session.expires_ms,
                "live": not session.revoked and now < session.expires_ms,
            }
        )
    return screens
