"""The loop-lag monitor: how late its timer ran is what it records, a real stall included."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import pytest

from shopfloor.observability.loop_lag import watch_loop
from shopfloor.runtime import build
from tests.support import unique_settings


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
    with contextlib.suppress(asyncio.CancelledError):
        await watcher
    # a busy machine only makes timers later: the stall itself is the floor of what is recorded
    assert max(observed) >= 0.25


@pytest.mark.parametrize("serve_web", [True, False], ids=["web", "projector-only"])
def test_processes_serving_screens_watch_their_loop(tmp_path: Path, serve_web: bool) -> None:
    """Where /metrics is served the loop is watched; a projector-only process has no /metrics to show it."""
    settings = unique_settings(None, f"sqlite:///{tmp_path / 'store.db'}")
    runtime = build(settings, consume=not serve_web, serve_web=serve_web)
    try:
        assert (watch_loop in runtime.tasks) is serve_web
    finally:
        runtime.engine.dispose()
