"""Work one process does for all (alarm notifications, snapshots): one holder at a time, and a holder
cancelled mid-work lets go, so the next pass anywhere can take over."""

from __future__ import annotations

import asyncio
import contextlib

from shopfloor.store.db import make_engine, run_exclusive


async def _one() -> int:
    return 1


async def test_one_holder_at_a_time_and_a_cancelled_one_lets_go(database_url: str) -> None:
    engine, other = make_engine(database_url), make_engine(database_url)  # two processes' pools
    working = asyncio.Event()

    async def long_pass() -> int:
        working.set()
        await asyncio.sleep(60)
        return 0

    holder = asyncio.create_task(run_exclusive(engine, "test-pass", long_pass))
    await working.wait()
    try:
        assert await run_exclusive(other, "test-pass", _one) is None, "two holders at once"
        holder.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await holder
        assert await run_exclusive(other, "test-pass", _one) == 1, "the cancelled holder kept the lock"
        assert await run_exclusive(engine, "test-pass", _one) == 1, "the lock stayed with the first pool"
    finally:
        engine.dispose()
        other.dispose()
