"""The LISTEN side on a real PostgreSQL: notices reach the hub, and a dropped connection heals itself
with an EVERYTHING resync when commits were missed meanwhile."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import psycopg
import pytest

from bench.common import fresh_postgres_database
from shopfloor.live.hub import Hub
from shopfloor.live.notify_listener import APPLICATION_NAME, NotifyListener, libpq_dsn
from shopfloor.runtime import open_store
from shopfloor.store.batch import NOTIFY_CHANNEL, encode_notice
from shopfloor.store.changes import EVERYTHING, ChangeNotice
from tests.support import unique_settings, wait_until


@pytest.fixture
def postgres_url(postgres: str) -> Iterator[str]:
    yield from fresh_postgres_database(postgres)


async def _render(keys: frozenset[str]) -> str:
    return ",".join(sorted(keys))


async def test_listener_delivers_and_resyncs_after_reconnect(postgres_url: str) -> None:
    open_store(unique_settings(None, postgres_url)).dispose()
    dsn = libpq_dsn(postgres_url)
    hub = Hub(0, 0.01)
    hub.register("work-orders", _render)
    subscriber = hub.subscribe("work-orders")
    listener = NotifyListener(postgres_url, hub)
    task = asyncio.create_task(listener.run())
    try:
        await wait_until(lambda: listener.status.connected, 15, "the listener to connect")
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            notice = ChangeNotice(1, {"work-orders": frozenset({"WO-1"})}, {})
            await conn.execute("SELECT pg_notify(%s, %s)", (NOTIFY_CHANNEL, encode_notice(notice)))
            frame = await asyncio.wait_for(subscriber.queue.get(), 10)
            assert frame is not None and (frame.event, frame.data, frame.id) == ("patch", "WO-1", 1)

            # The connection dies; a commit happens while nobody listens.
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND application_name = %s",
                (APPLICATION_NAME,),
            )
            await conn.execute("UPDATE store_version SET version = 5 WHERE id = 1")
        await wait_until(lambda: listener.status.connects >= 2, 20, "the listener to reconnect")
        frame = await asyncio.wait_for(subscriber.queue.get(), 10)
        assert frame is not None and (frame.event, frame.id) == ("reload", 5)
        assert listener.status.resyncs == 1 and hub.version == 5
        assert listener.describe()["connected"]
        assert EVERYTHING not in hub.views["work-orders"].pending
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
