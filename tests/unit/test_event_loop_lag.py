"""The loop-lag monitor: how late its timer ran is what it records, a real stall included."""

from __future__ import annotations

import asyncio
import time

import pytest

from shopfloor.observability.loop_lag import watch_loop


class Stop(Exception):
    pass


async def test_records_how_late_each_sleep_ended_on_an_injected_clock() -> None:
    now = [100.0]
    late = [0.0, 0.004, 0.3]  # what the fake loop adds to each 50 ms sleep
    observed: list[float] = []

    async def sleep(seconds: float) -> None:
        if not late:
            raise Stop
        now[0] += seconds + late.pop(0)

    with pytest.raises(Stop):
        await watch_loop(0.05, lambda: now[0], sleep, observed.append)
    assert observed == pytest.approx([0.0, 0.004, 0.3])


async def test_a_blocked_loop_shows_as_one_late_timer() -> None:
    observed: list[float] = []
    watcher = asyncio.create_task(watch_loop(0.01, observe=observed.append))
    await asyncio.sleep(0.05)
    time.sleep(0.3)  # noqa: ASYNC251  (the stall under test: a callback holding the loop)
    await asyncio.sleep(0.05)
    watcher.cancel()
    # a busy machine only makes timers later: the stall itself is the floor of what is recorded
    assert max(observed) >= 0.25
