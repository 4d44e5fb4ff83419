"""Change notices -> rendered fragments -> every subscriber, coalesced per view.

A view's changed rows are rendered once per frame and the same bytes go to every subscriber.
A frame is one short period (`frame`, tens of ms): a change that finds the view idle for a frame goes
out at once; changes arriving within a frame of the last send ride together in the next one. So no
change waits more than one frame at any rate, and 1,000 sensor events a second become a few dozen
frames. A client too slow for that is cut off on its own (its queue fills) and catches up on reconnect.
Frame ids are read-model versions, so a reconnecting client asks for what changed since the
version it has, or reloads its view when that is too old to know.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from shopfloor import metrics
from shopfloor.observability import tracing
from shopfloor.store.changes import EVERYTHING, ChangeNotice

log = logging.getLogger(__name__)
PatchRenderer = Callable[[frozenset[str]], Awaitable[str]]
QUEUE_FRAMES = 64
HISTORY_NOTICES = 512
FOLLOWED = "followed"
HEARTBEAT_SECONDS = 5.0
WRITE_SECONDS_UNTIL_MEASURED = 50e-6  # one SSE write on a busy 2-core machine, before a frame measures it
WRITE_COST_WEIGHT = 0.2  # how much the latest frame moves the measured cost (a GC pause is one frame)
LOOP_SHARE_FOR_WRITES = 0.5
MEASURED_FROM_SUBSCRIBERS = 100  # in a smaller frame the other callbacks queued with it weigh too much
LONGEST_FRAME_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Frame:
    event: str
    data: str
    id: int | None = None


@dataclass(eq=False)
class Subscriber:
    queue: asyncio.Queue[Frame | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_FRAMES))
    dropped: bool = False

    def offer(self, frame: Frame) -> None:
        """Slow clients are cut off (they reconnect and catch up) rather than buffered forever.
        Everything still queued goes with it: the client resumes from the last frame it read, so the
        catch-up covers the frames it never got, and none is skipped over."""
        if self.dropped:
            return
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.dropped = True
            reload = frame if frame.event == "reload" else None
            while not self.queue.empty():
                queued = self.queue.get_nowait()
                if queued is not None and queued.event == "reload":
                    reload = reload or queued
            if reload is not None:  # sent outside the view's history (a swapped store): catch-up can't
                self.queue.put_nowait(reload)
            self.queue.put_nowait(None)


@dataclass
class ViewChannel:
    name: str
    render_patch: PatchRenderer
    frame: float
    floor_version: int
    follows: frozenset[str] = frozenset()
    subscribers: set[Subscriber] = field(default_factory=set)
    history: deque[tuple[int, frozenset[str]]] = field(default_factory=lambda: deque(maxlen=HISTORY_NOTICES))
    pending: set[str] = field(default_factory=set)
    pending_version: int = 0
    pending_oldest_ms: int | None = None
    pending_traces: list[str] = field(default_factory=list)  # batches (traceparents) in the next frame
    last_sent: float = float("-inf")
    flush_task: asyncio.Task[None] | None = None

    def delay_for_next_frame(self, now: float, shortest: float = 0.0) -> float:
        """Now if the last frame went out a frame ago or more; else the rest of that frame, which
        lasts at least `shortest` (what the loop can afford with many subscribers, see `Hub`), up
        to a second however many there are."""
        frame = max(self.frame, min(shortest, LONGEST_FRAME_SECONDS))
        return max(0.0, self.last_sent + frame - now)

    def keys_since(self, version: int) -> frozenset[str] | None:
        """Keys changed after `version`, or None when history no longer reaches back that far."""
        if version < self.floor_version:
            return None
        keys: set[str] = set()
        for v, changed in self.history:
            if v > version:
                keys |= changed
        return frozenset(keys)

    def record(self, version: int, keys: frozenset[str]) -> None:
        if len(self.history) == self.history.maxlen:
            self.floor_version = self.history[0][0]
        self.history.append((version, keys))


async def _no_status() -> dict[str, object]:
    return {}


class Hub:
    """`frame`: the coalescing period per view. `clock`, `sleep`: monotonic time (injected by tests).
    `epoch`: the store's identity, told to every client so a page never mixes two stores.

    With many subscribers a frame lasts longer: each frame costs the event loop one write per
    subscriber (of every view: they share the loop), and frames that came faster than twice those
    writes take would leave no time for anything else, the consumer included, so every change would
    wait behind them. What a write costs is measured on every frame to 100 subscribers or more
    (`write_seconds`): the time from handing the frame out until every waiting subscriber has
    written it."""

    def __init__(
        self,
        version: int,
        frame: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        epoch: str = "",
    ) -> None:
        self.version = version
        self._frame = frame
        self._clock = clock
        self._sleep = sleep
        self.epoch = epoch
        self.status_provider: Callable[[], Awaitable[dict[str, object]]] = _no_status
        self.views: dict[str, ViewChannel] = {}
        self.write_seconds = WRITE_SECONDS_UNTIL_MEASURED
        metrics.SSE_WRITE_SECONDS.set(self.write_seconds)
        self._timing: tuple[float, int, asyncio.Handle] | None = None  # frames handed out, not yet written
        self._ticker: asyncio.Task[None] | None = None

    def register(self, view: str, render_patch: PatchRenderer, follows: frozenset[str] = frozenset()) -> None:
        """`follows`: other views whose changes also change this one (a summary page), as key FOLLOWED."""
        self.views[view] = ViewChannel(view, render_patch, self._frame, self.version, follows)

    def _keys_for(self, channel: ViewChannel, notice: ChangeNotice) -> tuple[frozenset[str], int | None]:
        keys = notice.keys.get(channel.name, frozenset())
        oldest = notice.oldest_event_ms.get(channel.name)
        followed = [view for view in channel.follows if view in notice.keys]
        if followed:
            keys |= {FOLLOWED}
            oldest = min(
                (notice.oldest_event_ms[v] for v in followed if v in notice.oldest_event_ms), default=oldest
            )
        return keys, oldest

    def publish(self, notice: ChangeNotice) -> None:
        """Called on the event loop after each commit (in process or from PostgreSQL NOTIFY)."""
        if notice.version <= self.version and notice.version != 0:
            return
        self.version = notice.version
        for channel in self.views.values():
            keys, oldest = self._keys_for(channel, notice)
            if not keys:
                continue
            channel.record(notice.version, keys)
            if not channel.subscribers:
                continue
            channel.pending |= keys
            channel.pending_version = notice.version
            if notice.trace and len(channel.pending_traces) < tracing.MAX_LINKS:
                channel.pending_traces.append(notice.trace)
            if oldest is not None and (
                channel.pending_oldest_ms is None or oldest < channel.pending_oldest_ms
            ):
                channel.pending_oldest_ms = oldest
            if channel.flush_task is None:
                self._schedule(channel)

    def _schedule(self, channel: ViewChannel) -> None:
        shortest = self.clients() * self.write_seconds / LOOP_SHARE_FOR_WRITES
        wait = channel.delay_for_next_frame(self._clock(), shortest)
        channel.flush_task = asyncio.get_running_loop().create_task(self._flush(channel, wait))

    async def _flush(self, channel: ViewChannel, wait: float) -> None:
        try:
            if wait:
                await self._sleep(wait)
            keys, version, oldest, traces = (
                channel.pending,
                channel.pending_version,
                channel.pending_oldest_ms,
                channel.pending_traces,
            )
            channel.pending, channel.pending_oldest_ms, channel.pending_traces = set(), None, []
            channel.last_sent = self._clock()
            with tracing.push_span(channel.name, traces, version, len(keys), len(channel.subscribers)):
                with tracing.render_span(channel.name):
                    frame = await self._patch_frame(channel, frozenset(keys), version)
                self._hand_out(frame, list(channel.subscribers))
            metrics.SSE_FRAMES.labels(channel.name).inc()
            if oldest is not None:
                metrics.EVENT_TO_PUSH.labels(channel.name).observe(max(0.0, time.time() - oldest / 1000))
        except Exception:
            log.exception("rendering %s frame failed", channel.name)
        finally:
            channel.flush_task = None
            if channel.pending:
                self._schedule(channel)

    def _hand_out(self, frame: Frame, subscribers: list[Subscriber]) -> None:
        """Every subscriber waiting for a frame is woken in order, so a callback queued after them runs
        once they have all written it: that time, per subscriber, is what a write costs the loop.
        Only frames to many subscribers are timed: the callbacks already queued before them run in
        the same stretch, and with a few subscribers they would be most of it."""
        started, writes = self._clock(), len(subscribers)
        for subscriber in subscribers:
            subscriber.offer(frame)
        if self._timing is not None:  # the last frame's writes have not run yet: time both together
            earlier, earlier_writes, handle = self._timing
            handle.cancel()
            started, writes = earlier, earlier_writes + writes
        elif writes < MEASURED_FROM_SUBSCRIBERS:
            return
        self._timing = (started, writes, asyncio.get_running_loop().call_soon(self._written))

    def _written(self) -> None:
        assert self._timing is not None
        started, writes, _ = self._timing
        self._timing = None
        per_write = (self._clock() - started) / writes
        self.write_seconds += WRITE_COST_WEIGHT * (per_write - self.write_seconds)
        metrics.SSE_WRITE_SECONDS.set(self.write_seconds)

    async def _patch_frame(self, channel: ViewChannel, keys: frozenset[str], version: int) -> Frame:
        if EVERYTHING in keys:
            return Frame("reload", "", version)
        return Frame("patch", await channel.render_patch(keys), version)

    async def catch_up(self, view: str, since: int | None) -> Frame | None:
        """What a (re)connecting client needs before live frames: a patch, or None if current.

        Returns a `reload` frame when `since` is unknown or older than the view's history.
        """
        channel = self.views[view]
        if since is not None and since >= self.version:
            return None
        keys = None if since is None else channel.keys_since(since)
        if keys is None:
            return Frame("reload", "", self.version)
        if not keys:
            return None
        return await self._patch_frame(channel, keys, self.version)

    def subscribe(self, view: str) -> Subscriber:
        subscriber = Subscriber()
        self.views[view].subscribers.add(subscriber)
        metrics.SSE_CLIENTS.labels(view).set(len(self.views[view].subscribers))
        return subscriber

    def unsubscribe(self, view: str, subscriber: Subscriber) -> None:
        self.views[view].subscribers.discard(subscriber)
        metrics.SSE_CLIENTS.labels(view).set(len(self.views[view].subscribers))

    def clients(self) -> int:
        return sum(len(c.subscribers) for c in self.views.values())

    async def status_frame(self) -> Frame:
        status = {"version": self.version, "epoch": self.epoch, **(await self.status_provider())}
        return Frame("status", json.dumps(status))

    async def run_ticker(self, period: float = HEARTBEAT_SECONDS) -> None:
        """The heartbeat: every few seconds all clients hear how fresh the data is (same bytes for all);
        pages count themselves stale when neither a frame nor this has come for two periods."""
        while True:
            await asyncio.sleep(period)
            try:
                frame = await self.status_frame()
            except Exception:
                log.exception("status frame failed")
                continue
            self._hand_out(frame, [s for channel in self.views.values() for s in channel.subscribers])
