"""The change hub: shared frames, pacing under bursts, catch-up on reconnect, slow clients cut off."""

from __future__ import annotations

import asyncio

from shopfloor.store.changes import ChangeNotice
from shopfloor.web.live import BURST_FRAMES, QUEUE_FRAMES, Frame, Hub

rendered: list[frozenset[str]] = []


async def render(keys: frozenset[str]) -> str:
    rendered.append(keys)
    return ",".join(sorted(keys))


def notice(version: int, *keys: str, view: str = "v") -> ChangeNotice:
    return ChangeNotice(version=version, keys={view: frozenset(keys)}, oldest_event_ms={view: 0})


async def drain(queue: asyncio.Queue[Frame | None]) -> list[Frame | None]:
    frames = []
    while not queue.empty():
        frames.append(queue.get_nowait())
    return frames


async def frames_until(queue: asyncio.Queue[Frame | None], version: int) -> list[Frame | None]:
    """Frames up to the one carrying `version` (or the end of the stream): a condition, not a sleep.
    The 30 s bound only turns a hang into a failure."""
    frames: list[Frame | None] = []
    while not frames or (frames[-1] is not None and (frames[-1].id or 0) < version):
        frames.append(await asyncio.wait_for(queue.get(), 30))
    return frames


async def test_one_render_serves_every_subscriber() -> None:
    rendered.clear()
    hub = Hub(version=0, interval=0.05)
    hub.register("v", render)
    subscribers = [hub.subscribe("v") for _ in range(50)]
    hub.publish(notice(1, "a", "b"))
    for sub in subscribers:
        assert await frames_until(sub.queue, 1) == [Frame("patch", "a,b", 1)]
    assert rendered == [frozenset({"a", "b"})]


async def test_bursts_are_coalesced_into_few_frames_without_losing_keys() -> None:
    rendered.clear()
    hub = Hub(version=0, interval=0.05)
    hub.register("v", render)
    sub = hub.subscribe("v")
    for version in range(1, 201):
        hub.publish(notice(version, f"k{version}"))
        if version % 20 == 0:
            await asyncio.sleep(0.01)
    frames = await frames_until(sub.queue, 200)
    keys = set().union(*(f.data.split(",") for f in frames if f))
    assert keys == {f"k{v}" for v in range(1, 201)}
    assert len(frames) <= BURST_FRAMES + 4
    assert frames[-1] is not None and frames[-1].id == 200


async def test_sparse_changes_go_out_at_once() -> None:
    """With an hour between paced frames, a frame held back by pacing would never arrive in time:
    each must come out on its own, without a tight timeout to flake on a busy machine."""
    hub = Hub(version=0, interval=3600.0)
    hub.register("v", render)
    sub = hub.subscribe("v")
    for version in range(1, 4):
        hub.publish(notice(version, "x"))
        frame = await asyncio.wait_for(sub.queue.get(), 30)
        assert frame is not None and frame.id == version


async def test_catch_up_sends_changes_since_or_asks_for_reload() -> None:
    hub = Hub(version=10, interval=0.01)
    hub.register("v", render)
    hub.publish(notice(11, "a"))
    hub.publish(notice(12, "b"))
    hub.publish(notice(13, "c", view="other"))
    assert await hub.catch_up("v", 13) is None
    frame = await hub.catch_up("v", 11)
    assert frame is not None and (frame.event, frame.data, frame.id) == ("patch", "b", 13)
    assert (await hub.catch_up("v", 10)).data == "a,b"  # type: ignore[union-attr]
    assert (await hub.catch_up("v", 3)).event == "reload"  # type: ignore[union-attr]
    assert (await hub.catch_up("v", None)).event == "reload"  # type: ignore[union-attr]


async def test_a_client_that_stops_reading_is_cut_off_not_buffered() -> None:
    hub = Hub(version=0, interval=0.001)
    hub.register("v", render)
    slow = hub.subscribe("v")
    for version in range(1, QUEUE_FRAMES * 3):
        hub.publish(notice(version, f"k{version}"))
        await asyncio.sleep(0.003)
    assert slow.dropped
    assert slow.queue.qsize() <= QUEUE_FRAMES
    frames = await drain(slow.queue)
    assert frames[-1] is None  # the stream ends; the browser reconnects and catches up
