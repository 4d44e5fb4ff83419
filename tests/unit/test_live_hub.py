"""The change hub: shared frames, one short frame of coalescing at any rate, catch-up on reconnect,
slow clients cut off."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from shopfloor.live.hub import QUEUE_FRAMES, Frame, Hub, Subscriber
from shopfloor.store.changes import ChangeNotice

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
    hub = Hub(version=0, frame=0.05)
    hub.register("v", render)
    subscribers = [hub.subscribe("v") for _ in range(50)]
    hub.publish(notice(1, "a", "b"))
    for sub in subscribers:
        assert await frames_until(sub.queue, 1) == [Frame("patch", "a,b", 1)]
    assert rendered == [frozenset({"a", "b"})]


class FakeTime:
    """A monotonic clock the test moves; `sleep` returns once the clock has been moved past its end."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.sleepers.append((self.now + seconds, future))
        await future

    async def advance_to(self, when: float) -> None:
        while True:
            due = [s for s in self.sleepers if s[0] <= when]
            if not due:
                break
            first = min(due, key=lambda s: s[0])
            self.sleepers.remove(first)
            self.now = first[0]
            first[1].set_result(None)
            await settle()
        self.now = when
        await settle()


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


@contextlib.asynccontextmanager
async def writing(
    clock: FakeTime, subscribers: list[Subscriber], seconds_each: float, got: list[Frame | None] | None = None
) -> AsyncIterator[None]:
    """A task per subscriber that takes each frame (into `got`) and spends `seconds_each` of fake time
    writing it, as a stream's task does."""

    async def write(queue: asyncio.Queue[Frame | None]) -> None:
        while True:
            frame = await queue.get()
            if got is not None:
                got.append(frame)
            clock.now += seconds_each

    writers = [asyncio.create_task(write(s.queue)) for s in subscribers]
    await settle()
    try:
        yield
    finally:
        for writer in writers:
            writer.cancel()


async def delivery_waits(rate: float, seconds: float, frame: float) -> tuple[list[float], int]:
    """Publish one change every 1/rate s (fake time); how long each waited, and how many frames went out."""
    time = FakeTime()
    hub = Hub(version=0, frame=frame, clock=time.clock, sleep=time.sleep)
    hub.register("v", render)
    sent: list[tuple[float, Frame]] = []
    hub.subscribe("v").offer = lambda f: sent.append((time.now, f))  # type: ignore[method-assign]
    published: dict[str, float] = {}
    count = round(rate * seconds)
    for n in range(1, count + 1):
        await time.advance_to(n / rate)
        published[f"k{n}"] = time.now
        hub.publish(notice(n, f"k{n}"))
        await settle()
    await time.advance_to(count / rate + 2 * frame)
    assert hub.views["v"].flush_task is None
    waits = [at - published.pop(k) for at, f in sent for k in f.data.split(",")]
    assert not published, f"never sent: {sorted(published)[:5]}"
    return waits, len(sent)


async def test_a_steady_20_per_second_goes_out_at_once() -> None:
    """Changes 50 ms apart with 25 ms frames: none waits at all, however long the rate lasts."""
    waits, frames = await delivery_waits(rate=20, seconds=5, frame=0.025)
    assert len(waits) == 100 and max(waits) == 0
    assert frames == 100


async def test_a_steady_200_per_second_waits_at_most_one_frame() -> None:
    """5 ms apart with 25 ms frames: the first goes at once, the rest ride in a frame every 25 ms."""
    waits, frames = await delivery_waits(rate=200, seconds=5, frame=0.025)
    assert len(waits) == 1000
    assert max(waits) <= 0.025 + 1e-9
    assert frames <= 5 / 0.025 + 1  # one per frame, not one per change


async def test_1000_sensor_events_a_second_become_a_few_dozen_frames() -> None:
    waits, frames = await delivery_waits(rate=1000, seconds=2, frame=0.025)
    assert len(waits) == 2000 and max(waits) <= 0.025 + 1e-9
    assert frames <= 2 * 40 + 1


def test_a_frame_is_sent_now_or_when_the_last_one_is_a_frame_old() -> None:
    hub = Hub(version=0, frame=0.03)
    hub.register("v", render)
    channel = hub.views["v"]
    assert channel.delay_for_next_frame(100.0) == 0.0  # nothing sent yet
    channel.last_sent = 100.0
    assert abs(channel.delay_for_next_frame(100.01) - 0.02) < 1e-9
    assert channel.delay_for_next_frame(100.03) == 0.0
    assert channel.delay_for_next_frame(250.0) == 0.0  # no credit or debt carried over


def test_a_frame_lasts_at_least_what_the_loop_can_afford_and_never_over_a_second() -> None:
    hub = Hub(version=0, frame=0.025)
    hub.register("v", render)
    channel = hub.views["v"]
    channel.last_sent = 100.0
    assert abs(channel.delay_for_next_frame(100.0, 0.01) - 0.025) < 1e-9  # the configured frame
    assert abs(channel.delay_for_next_frame(100.0, 0.1) - 0.1) < 1e-9
    assert abs(channel.delay_for_next_frame(100.06, 0.1) - 0.04) < 1e-9
    assert channel.delay_for_next_frame(100.1, 0.1) == 0.0
    assert abs(channel.delay_for_next_frame(100.0, 30.0) - 1.0) < 1e-9
    slow = Hub(version=0, frame=2.0)  # a configured frame over a second is kept
    slow.register("v", render)
    slow.views["v"].last_sent = 100.0
    assert abs(slow.views["v"].delay_for_next_frame(100.0, 30.0) - 2.0) < 1e-9


def fake_hub(*views: str) -> tuple[FakeTime, Hub]:
    clock = FakeTime()
    hub = Hub(version=0, frame=0.025, clock=clock.clock, sleep=clock.sleep)
    for view in views:
        hub.register(view, render)
    return clock, hub


async def publish_apart(clock: FakeTime, hub: Hub, notices: list[ChangeNotice]) -> None:
    """Each change a second after the last: every one goes out at once in a frame of its own."""
    for change in notices:
        hub.publish(change)
        await settle()
        await clock.advance_to(clock.now + 1.0)


async def test_a_frame_lasts_twice_what_its_writes_were_measured_to_take() -> None:
    """200 subscribers whose every write takes 100 us (of fake time): 20 ms of writes a frame, so
    frames at least 40 ms apart once the cost is learnt (a few frames), not the configured 25 ms."""
    clock, hub = fake_hub("v")
    async with writing(clock, [hub.subscribe("v") for _ in range(200)], 100e-6):
        await publish_apart(clock, hub, [notice(v, f"k{v}") for v in range(1, 31)])
        assert abs(hub.write_seconds - 100e-6) < 1e-6
        channel = hub.views["v"]
        hub.publish(notice(31, "now"))  # goes out at once
        await settle()
        hub.publish(notice(32, "then"))  # right after a frame: waits for that frame's end
        await settle()
        assert channel.flush_task is not None and channel.pending
        await clock.advance_to(channel.last_sent + 0.039)
        assert channel.pending
        await clock.advance_to(channel.last_sent + 0.0401)
        assert not channel.pending


async def test_two_frames_handed_out_in_one_pass_are_timed_together() -> None:
    """A board and a second view change together: 400 writes of 100 us each run back to back, and
    each write is still measured at 100 us (not the first frame's writes charged to the second)."""
    clock, hub = fake_hub("a", "b")
    subscribers = [hub.subscribe(view) for view in ("a", "b") for _ in range(200)]
    hub.write_seconds = 100e-6
    both = [
        ChangeNotice(version=v, keys={"a": frozenset("x"), "b": frozenset("y")}, oldest_event_ms={})
        for v in range(1, 6)
    ]
    async with writing(clock, subscribers, 100e-6):
        await publish_apart(clock, hub, both)
    assert abs(hub.write_seconds - 100e-6) < 1e-7


async def test_a_frame_to_a_few_subscribers_is_not_timed() -> None:
    """With three subscribers, whatever else the loop had queued would be most of what is timed (here
    10 ms of fake time per subscriber): the cost stays what it was until a frame to many is timed."""
    clock, hub = fake_hub("v")
    before = hub.write_seconds
    async with writing(clock, [hub.subscribe("v") for _ in range(3)], 0.01):
        await publish_apart(clock, hub, [notice(v, f"k{v}") for v in range(1, 11)])
    assert hub.write_seconds == before


async def test_subscribers_of_every_view_stretch_a_views_frame() -> None:
    """500 on the board and 500 on the overview share one loop: with writes of 50 us each, the
    board's frames are 0.1 s apart (its own 500 alone would make them 0.05 s)."""
    clock, hub = fake_hub("board", "overview")
    board = [hub.subscribe("board") for _ in range(500)]
    for _ in range(500):
        hub.subscribe("overview")
    got: list[Frame | None] = []
    hub.write_seconds = 50e-6
    async with writing(clock, board, 50e-6, got):
        hub.publish(notice(1, "a", view="board"))
        await settle()
        sent = hub.views["board"].last_sent
        hub.publish(notice(2, "b", view="board"))
        await settle()
        assert len(got) == 500  # the first change went out at once; the second waits
        await clock.advance_to(sent + 0.099)
        assert len(got) == 500
        await clock.advance_to(sent + 0.1 + 1e-9)
        assert len(got) == 1000


async def test_a_reload_queued_for_a_client_that_is_cut_off_is_kept() -> None:
    """A reload (a swapped store) is not in the view's history, so a reconnect could not recover it."""
    hub = Hub(version=0, frame=0.001)
    hub.register("v", render)
    slow = hub.subscribe("v")
    reload = Frame("reload", "", 5)
    slow.offer(reload)
    for version in range(6, 6 + QUEUE_FRAMES):
        slow.offer(Frame("patch", f"k{version}", version))
    assert slow.dropped
    assert await drain(slow.queue) == [reload, None]


async def test_status_frames_name_the_store() -> None:
    hub = Hub(version=7, frame=0.02, epoch="e-1")
    frame = await hub.status_frame()
    assert frame.event == "status" and '"epoch": "e-1"' in frame.data and '"version": 7' in frame.data


async def test_sparse_changes_go_out_at_once() -> None:
    hub = Hub(version=0, frame=0.01)
    hub.register("v", render)
    sub = hub.subscribe("v")
    for version in range(1, 4):
        await asyncio.sleep(0.02)
        hub.publish(notice(version, "x"))
        frame = await asyncio.wait_for(sub.queue.get(), 30)
        assert frame is not None and frame.id == version


async def test_catch_up_sends_changes_since_or_asks_for_reload() -> None:
    hub = Hub(version=10, frame=0.01)
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
    hub = Hub(version=0, frame=0.001)
    hub.register("v", render)
    slow = hub.subscribe("v")
    for version in range(1, QUEUE_FRAMES * 3):
        hub.publish(notice(version, f"k{version}"))
        await asyncio.sleep(0.003)
    assert slow.dropped
    # Nothing queued is left to send: frames after the one dropped would move the client's last
    # version past it, and its catch-up on reconnect would skip the dropped frame's changes.
    assert await drain(slow.queue) == [None]
