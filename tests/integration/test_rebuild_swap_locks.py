"""A page read that meets a rebuild's swap on PostgreSQL waits for it and is answered.

The swap locks a model's tables in name order; a page's read takes them in the order its queries
name them. The crossing is set up step by step: another reader holds `work_order_history`, so the
swap holds `work_order_counts` and waits; the page, holding `work_orders`, then asks for
`work_order_counts`; the other reader ends, and the swap asks for `work_orders`. PostgreSQL ends one
side of that cycle, the one that waited first (the page), unless the swap gives way before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError

from shopfloor.rebuild.models import find
from shopfloor.rebuild.shadow import lock_live
from shopfloor.runtime import open_store
from shopfloor.store.bookkeeping import POSITIONS
from tests.support import unique_settings

TABLES = find("work-orders").tables


def waiting_for_a_lock(engine: Engine, pid: int) -> bool:
    with engine.connect() as conn:
        query = text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid")
        return conn.execute(query, {"pid": pid}).scalar() == "Lock"


def backend(conn: Connection) -> int:
    return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


async def settle(check: Callable[[], bool], seconds: float) -> bool:
    """Polls every 10 ms (the swap gives way after half a second): whether `check` came true in time."""
    for _ in range(int(seconds / 0.01)):
        if check():
            return True
        await asyncio.sleep(0.01)
    return False


async def cross(engine: Engine) -> tuple[Any, Any] | None:
    """Sets the crossing up once: the page's read and the swap's outcome, or None when the swap gave
    way before the page came to wait (a slow machine), so no crossing formed."""
    other, page, swapping = engine.connect(), engine.connect(), engine.connect()
    try:
        other.execute(text("SELECT count(*) FROM work_order_history"))
        page.execute(text("SELECT count(*) FROM work_orders"))
        swap_pid, page_pid = backend(swapping), backend(page)  # each now in a transaction

        def swap() -> Any:
            try:
                lock_live(swapping, TABLES, POSITIONS)
                return "locked"
            except Exception as exc:  # the outcome is what the test looks at
                return exc

        swap_task = asyncio.create_task(asyncio.to_thread(swap))
        assert await settle(lambda: waiting_for_a_lock(engine, swap_pid), 10), "the swap never waited"
        page_task = asyncio.create_task(
            asyncio.to_thread(
                lambda: page.execute(text("SELECT count(*) FROM work_order_counts")).scalar_one()
            )
        )
        waited = await settle(lambda: page_task.done() or waiting_for_a_lock(engine, page_pid), 10)
        formed = waited and not page_task.done() and not swap_task.done()
        other.rollback()
        page_result = (await asyncio.wait_for(asyncio.gather(page_task, return_exceptions=True), 30))[0]
        swap_outcome = await asyncio.wait_for(swap_task, 30)
        return (page_result, swap_outcome) if formed else None
    finally:
        for conn in (other, page, swapping):
            conn.close()


@pytest.mark.alone  # the page must come to wait within the swap's half-second lock wait
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_page_read_crossing_the_swap_is_answered_and_the_swap_tries_again(database_url: str) -> None:
    assert sorted(t.name for t in TABLES) == ["work_order_counts", "work_order_history", "work_orders"]
    engine = open_store(unique_settings(None, database_url))
    try:
        for _ in range(5):
            outcome = await cross(engine)
            if outcome is not None:
                break
        assert outcome is not None, "the crossing never formed in five tries"
        page_result, swap_outcome = outcome
        assert page_result == 0, f"the page's read failed: {page_result!r}"
        # the swap gave way: its statement was cancelled on its timeout
        assert isinstance(swap_outcome, OperationalError), swap_outcome
        assert isinstance(swap_outcome.orig, psycopg.errors.QueryCanceled), swap_outcome
        with engine.begin() as swapping:
            lock_live(swapping, TABLES, POSITIONS)  # ...and locks once the page has been answered
    finally:
        engine.dispose()
