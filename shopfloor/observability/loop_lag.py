"""How late the event loop runs what is due. Every screen's pushes, the projector's hand-offs and the
HTTP requests share one loop, so a stall delays every screen at once; this shows how often and how
long, beside the latency figures it explains."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from shopfloor import metrics


async def watch_loop(
    interval: float = metrics.EVENT_LOOP_WATCH_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    observe: Callable[[float], None] = metrics.EVENT_LOOP_LAG.observe,
) -> None:
    """A timer's lateness is what every other callback waiting on the loop suffered too; the clock,
    the sleep and where readings go are parameters so a test can drive it without a real loop."""
    while True:
        due = clock() + interval
        await sleep(interval)
        observe(max(0.0, clock() - due))
