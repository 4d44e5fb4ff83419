"""PostgreSQL LISTEN on the commit channel: how a web replica learns of commits made by any projector.

Each batch transaction runs `pg_notify('shopfloor_changes', ...)`, so a notice arrives only once the
commit is durable, in commit order. The listener keeps one psycopg async connection, reconnects by
itself with backoff, and after every (re)connect compares the store version with the hub's: if it
missed commits while away, it publishes an EVERYTHING notice so every page resyncs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from shopfloor.live.hub import Hub
from shopfloor.store.batch import NOTIFY_CHANNEL, decode_notice
from shopfloor.store.changes import EVERYTHING, ChangeNotice

log = logging.getLogger(__name__)
APPLICATION_NAME = "shopfloor-listen"  # visible in pg_stat_activity
HEALTH_CHECK_SECONDS = 15.0
MAX_BACKOFF_SECONDS = 10.0
# Dead peers are noticed by TCP keepalive, not only when the server closes the socket politely.
KEEPALIVE = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3}


def libpq_dsn(database_url: str) -> str:
    """The SQLAlchemy URL (`postgresql+psycopg://...`) as a plain libpq URL psycopg accepts."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def everything(hub: Hub, version: int) -> ChangeNotice:
    return ChangeNotice(
        version=version, keys={view: frozenset({EVERYTHING}) for view in hub.views}, oldest_event_ms={}
    )


@dataclass
class ListenerStatus:
    connected: bool = False
    connects: int = 0
    notices: int = 0
    resyncs: int = 0
    last_error: str | None = None
    last_notice_at: float | None = None


class NotifyListener:
    """Feeds decoded NOTIFY payloads to `hub.publish`; the hub drops versions it has already seen."""

    def __init__(self, database_url: str, hub: Hub, channel: str = NOTIFY_CHANNEL) -> None:
        self._dsn = libpq_dsn(database_url)
        self._hub = hub
        self._channel = channel
        self.status = ListenerStatus()

    async def run(self) -> None:
        delay = 0.5
        while True:
            connects = self.status.connects
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.status.last_error = f"{type(exc).__name__}: {str(exc).strip()[:300]}"
                log.warning("LISTEN %s lost (%s); reconnecting", self._channel, self.status.last_error)
            self.status.connected = False
            if self.status.connects > connects:
                delay = 0.5  # it had worked: retry soon
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF_SECONDS)

    async def _listen(self) -> None:
        conn = await psycopg.AsyncConnection.connect(
            self._dsn, autocommit=True, connect_timeout=5, application_name=APPLICATION_NAME, **KEEPALIVE
        )
        async with conn:
            await conn.execute(f'LISTEN "{self._channel}"')
            await self._resync(conn)
            self.status.connected = True
            self.status.connects += 1
            self.status.last_error = None
            log.info("listening on %s for commits", self._channel)
            while True:
                async for notify in conn.notifies(timeout=HEALTH_CHECK_SECONDS):
                    self._deliver(notify.payload)
                await conn.execute("SELECT 1")  # quiet for a while: prove the connection is alive

    async def _resync(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Commits made before LISTEN took effect were never notified: catch up on them now."""
        cursor = await conn.execute("SELECT version FROM store_version WHERE id = 1")
        row = await cursor.fetchone()
        version = int(row[0]) if row else 0
        if version > self._hub.version:
            log.info("missed commits up to version %d while not listening; pages resync", version)
            self.status.resyncs += 1
            self._hub.publish(everything(self._hub, version))

    def _deliver(self, payload: str) -> None:
        try:
            notice = decode_notice(payload)
        except Exception:
            log.exception("undecodable change notice %.200r", payload)
            return
        self.status.notices += 1
        self.status.last_notice_at = time.time()
        self._hub.publish(notice)

    def describe(self) -> dict[str, Any]:
        s = self.status
        return {
            "channel": self._channel,
            "connected": s.connected,
            "connects": s.connects,
            "notices": s.notices,
            "resyncs": s.resyncs,
            "last_error": s.last_error,
            "last_notice_at": s.last_notice_at,
        }
