"""Trend data for the equipment page: buckets as JSON, and a live stream that extends the plots.

The streams ride on the hub's `sensors` view (coalesced frames naming the machines that got
readings) through one shared feed: per frame, each watched machine's new per-second buckets are read
once and the same bytes go to all of that machine's viewers, however many there are.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from sqlalchemy import Engine

from shopfloor.live.hub import Frame, Hub, Subscriber
from shopfloor.store import sensors as sensor_store
from shopfloor.web.board import Reader, live_reader
from shopfloor.web.sse import EventStream, Streams, frame_bytes
from shopfloor.web.trend_window import DEFAULT_RANGE, RANGES, trend_window

log = logging.getLogger(__name__)
MAX_MS = 10**15  # year 33658: any real epoch-millisecond time is below it

TREND_VIEW = sensor_store.TREND_VIEW

RANGE_HELP = "time range shown: " + ", ".join(RANGES)


def _trend(engine: Engine, machine: str, since_ms: int, per_minute: bool) -> dict[str, list[list[float]]]:
    with engine.connect() as conn:
        return sensor_store.trend(conn, machine, since_ms, per_minute=per_minute)


def _points_frame(points: dict[str, list[list[float]]]) -> Frame:
    """The frame of new points; its id is the cursor it moves its viewers to."""
    cursor = int(max(p[-1][0] for p in points.values()))
    return Frame("points", json.dumps(points, separators=(",", ":")), cursor)


class TrendFeed:
    """One query per machine per frame, shared by every viewer of that machine.

    While anybody watches a trend, one task follows the hub's sensor view; for each frame it reads
    the buckets newer than each watched machine's cursor once and hands the same encoded bytes to
    every viewer of that machine.
    """

    def __init__(self, engine: Engine, hub: Hub) -> None:
        self.engine = engine
        self.hub = hub
        self.viewers: dict[str, set[Subscriber]] = {}
        self.cursors: dict[str, int] = {}
        self.task: asyncio.Task[None] | None = None

    def join(self, machine: str, since: int) -> tuple[Subscriber, int]:
        """A new viewer's queue and the position the feed continues from for its machine."""
        subscriber = Subscriber()
        viewers = self.viewers.setdefault(machine, set())
        if not viewers:
            self.cursors[machine] = since
        viewers.add(subscriber)
        if self.task is None or self.task.done():
            source = self.hub.subscribe(TREND_VIEW)  # now, so no frame after this join is missed
            self.task = asyncio.get_running_loop().create_task(self._follow(source))
        return subscriber, self.cursors[machine]

    def leave(self, machine: str, subscriber: Subscriber) -> None:
        viewers = self.viewers.get(machine)
        if viewers is not None:
            viewers.discard(subscriber)
            if not viewers:
                del self.viewers[machine]
                self.cursors.pop(machine, None)
        if not self.viewers and self.task is not None:
            self.task.cancel()
            self.task = None

    async def _follow(self, source: Subscriber) -> None:
        try:
            while True:
                frame = await source.queue.get()
                if frame is None:  # this feed fell behind: start over, reading every watched machine
                    self.hub.unsubscribe(TREND_VIEW, source)
                    source = self.hub.subscribe(TREND_VIEW)
                    changed = set(self.viewers)
                elif frame.event == "patch":
                    changed = set(json.loads(frame.data)) & set(self.viewers)
                elif frame.event == "reload":
                    changed = set(self.viewers)
                else:
                    continue
                if changed:
                    await self._push(changed)
        finally:
            self.hub.unsubscribe(TREND_VIEW, source)

    async def _push(self, machines: set[str]) -> None:
        wanted = {m: self.cursors.get(m, 0) for m in machines}
        try:
            found = await asyncio.to_thread(self._read, wanted)
        except Exception:
            log.exception("reading trend buckets failed")
            return
        for machine, points in found.items():
            if machine not in self.viewers or not points:
                continue
            frame = _points_frame(points)
            self.cursors[machine] = max(self.cursors.get(machine, 0), frame.id or 0)
            for subscriber in list(self.viewers[machine]):
                subscriber.offer(frame)

    def _read(self, wanted: dict[str, int]) -> dict[str, dict[str, list[list[float]]]]:
        with self.engine.connect() as conn:
            return {m: sensor_store.trend(conn, m, since) for m, since in wanted.items()}


def router(
    engine: Engine, hub: Hub, streams: Streams, clock: Callable[[], int], reader: Reader | None = None
) -> APIRouter:
    """`clock`: epoch ms, the end of every trend window; the API reads through `reader` (the live
    store by `clock` by default)."""
    reader = reader or live_reader(engine, clock)
    api = APIRouter()
    feed = TrendFeed(engine, hub)

    @api.get("/api/equipment/{equipment_id:path}/trend")
    def trend_api(
        request: Request,
        equipment_id: str,
        range_: Annotated[str, Query(alias="range", max_length=20, description=RANGE_HELP)] = DEFAULT_RANGE,
    ) -> dict[str, Any]:
        """Per-second buckets for 10 minutes, per-minute buckets for longer ranges, with annotations."""
        chosen = RANGES.get(range_)
        if chosen is None:
            raise HTTPException(400, f"range must be one of {', '.join(RANGES)}")
        with reader(request) as read:
            return trend_window(read.conn, equipment_id, chosen, read.now_ms)

    @api.get("/sse/equipment-trend", include_in_schema=False)
    async def trend_stream(
        request: Request,
        machine: Annotated[str, Query(min_length=1, max_length=200)],
        since: Annotated[int, Query(ge=0, le=MAX_MS)] = 0,
    ) -> EventStream:
        async def frames() -> AsyncIterator[bytes]:
            subscriber, cursor = feed.join(machine, since)
            try:
                if since < cursor:  # what this viewer missed before the shared feed's position
                    points = await asyncio.to_thread(_trend, engine, machine, since, False)
                    if points:
                        yield frame_bytes(_points_frame(points))
                while True:
                    frame = await subscriber.queue.get()
                    if frame is None:
                        return
                    yield frame_bytes(frame)  # encoded once for all of the machine's viewers
            finally:
                feed.leave(machine, subscriber)

        return streams.response(request, frames())

    return api
