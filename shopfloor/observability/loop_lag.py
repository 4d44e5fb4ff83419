"""How late the event loop runs what is due. Every screen's pushes, the projector's hand-offs and the
HTTP requests share one loop, so a stall delays every screen at once; this shows how often and how
long, beside the latency figures it explains."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from shopfloor import metrics

INTERVAL_SECONDS = 0.05


async def watch_loop(
    interval: float = INTERVAL_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    observe: Callable[[float], None] = metrics.EVENT_LOOP_LAG.observe,
) -> None:
    """Sleeps `interval` again and again and records how much later than asked each sleep ended."""
    while True:
        due = clock() + interval
        await sleep(interval)
        observe(max(0.0, clock() - due))
