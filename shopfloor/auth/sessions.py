"""Server-side sessions: created on sign-in, checked on every request, ended by time or revocation."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, and_, delete, insert, or_, select, update

from shopfloor.auth.roles import Principal, implied_roles
from shopfloor.auth.tables import SESSIONS
from shopfloor.config import Settings
from shopfloor.store.db import begin_write

COOKIE = "sf_session"
TOUCH_EVERY_MS = 60_000


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def now_ms() -> int:
    return int(time.time() * 1000)


Clock = Callable[[], int]


@dataclass(frozen=True)
class Timeouts:
    """Session lifetimes, and the clock they are measured with (injected, so tests need not wait)."""

    idle_ms: int
    absolute_ms: int
    kiosk_ms: int
    clock: Clock = now_ms

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock = now_ms) -> Timeouts:
        return cls(
            idle_ms=int(settings.session_idle_minutes * 60_000),
            absolute_ms=int(settings.session_absolute_hours * 3_600_000),
            kiosk_ms=int(settings.kiosk_session_days * 86_400_000),
            clock=clock,
        )


def create(engine: Engine, timeouts: Timeouts, user: str, role: str, kiosk_id: int | None = None) -> str:
    """A new session; returns the cookie value (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    now = timeouts.clock()
    lifetime = timeouts.kiosk_ms if kiosk_id is not None else timeouts.absolute_ms
    with begin_write(engine) as conn:
        purge(conn, timeouts, now)
        conn.execute(
            insert(SESSIONS).values(
                id=token_hash(token),
                user_name=user,
                role=role,
                kiosk_id=kiosk_id,
                csrf_token=secrets.token_urlsafe(32),
                created_ms=now,
                last_seen_ms=now,
                expires_ms=now + lifetime,
                revoked=False,
            )
        )
    return token


def purge(conn: Connection, timeouts: Timeouts, now: int) -> int:
    """Deletes sessions that can never be valid again (revoked, expired, idle too long); run at each
    sign-in, so the table holds about as many rows as there are live sessions."""
    idle = and_(SESSIONS.c.kiosk_id.is_(None), SESSIONS.c.last_seen_ms < now - timeouts.idle_ms)
    gone = or_(SESSIONS.c.revoked.is_(True), SESSIONS.c.expires_ms <= now, idle)
    return conn.execute(delete(SESSIONS).where(gone)).rowcount


def _valid(row: object, timeouts: Timeouts, now: int) -> bool:
    if row is None or row.revoked or now >= row.expires_ms:  # type: ignore[attr-defined]
        return False
    idle = now - row.last_seen_ms > timeouts.idle_ms  # type: ignore[attr-defined]
    return row.kiosk_id is not None or not idle  # type: ignore[attr-defined]


def resolve(engine: Engine, timeouts: Timeouts, token: str | None, *, touch: bool = True) -> Principal | None:
    """The principal behind a cookie value, or None when unknown, expired, idle too long or revoked."""
    if not token or len(token) > 200:
        return None
    session_id = token_hash(token)
    now = timeouts.clock()
    with engine.connect() as conn:
        row = conn.execute(select(SESSIONS).where(SESSIONS.c.id == session_id)).first()
    if row is None or not _valid(row, timeouts, now):
        return None
    if touch and now - row.last_seen_ms > TOUCH_EVERY_MS:
        try:
            with begin_write(engine) as conn:
                conn.execute(update(SESSIONS).where(SESSIONS.c.id == session_id).values(last_seen_ms=now))
        except Exception:  # a store refusing writes must not sign everybody out
            pass
    return Principal(row.user_name, implied_roles(row.role), session_id, row.csrf_token, row.kiosk_id)


def still_valid(engine: Engine, timeouts: Timeouts, session_id: str) -> bool:
    """For long-lived streams: is this session still good (not expired, idle or revoked)?"""
    with engine.connect() as conn:
        row = conn.execute(select(SESSIONS).where(SESSIONS.c.id == session_id)).first()
    return _valid(row, timeouts, timeouts.clock())


def revoke(engine: Engine, session_id: str) -> None:
    with begin_write(engine) as conn:
        conn.execute(update(SESSIONS).where(SESSIONS.c.id == session_id).values(revoked=True))
