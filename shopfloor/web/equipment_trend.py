"""Trend data for the equipment page: buckets as JSON, and a live stream that extends the plots.

The stream rides on the hub's `sensors` view (coalesced frames naming the machines that got
readings); for its machine it sends only the per-second buckets newer than what it already sent.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlalchemy import Engine
from sse_starlette.sse import EventSourceResponse

from shopfloor.projections.anomaly import spec_for
from shopfloor.store import sensors as sensor_store
from shopfloor.web.live import Hub

TREND_VIEW = sensor_store.TREND_VIEW

SECONDS_WINDOW_MIN = 10
PING_SECONDS = 15


def _trend(engine: Engine, machine: str, since_ms: int, per_minute: bool) -> dict[str, list[list[float]]]:
    with engine.connect() as conn:
        return sensor_store.trend(conn, machine, since_ms, per_minute=per_minute)


def router(engine: Engine, hub: Hub) -> APIRouter:
    api = APIRouter()

    @api.get("/api/equipment/{equipment_id}/trend")
    def trend_api(
        equipment_id: str, minutes: Annotated[int, Query(ge=1, le=720)] = SECONDS_WINDOW_MIN
    ) -> dict[str, Any]:
        """Per-second buckets for up to 10 minutes back, per-minute buckets beyond that."""
        per_minute = minutes > SECONDS_WINDOW_MIN
        since = int(time.time() * 1000) - minutes * 60_000
        with engine.connect() as conn:
            latest = sensor_store.latest_values(conn, [equipment_id]).get(equipment_id, [])
            newest = max((s["at_ms"] for s in latest), default=since)
            points = sensor_store.trend(
                conn, equipment_id, min(since, newest - minutes * 60_000), per_minute=per_minute
            )
        return {
            "equipment_id": equipment_id,
            "resolution": "1m" if per_minute else "1s",
            "columns": ["bucket_ms", "min", "avg", "max"],
            "sensors": {
                s["sensor"]: {
                    "unit": s["unit"],
                    "limit": spec_for(s["sensor"]).limit,
                    "latest": s["value"],
                    "points": points.get(s["sensor"], []),
                }
                for s in latest
            },
        }

    @api.get("/sse/equipment-trend", include_in_schema=False)
    async def trend_stream(
        request: Request,
        machine: Annotated[str, Query(min_length=1, max_length=200)],
        since: Annotated[int, Query(ge=0)] = 0,
    ) -> EventSourceResponse:
        async def frames() -> AsyncIterator[dict[str, Any]]:
            subscriber = hub.subscribe(sensor_store.TREND_VIEW)
            cursor = since
            try:
                while True:
                    frame = await subscriber.queue.get()
                    if frame is None:
                        return
                    if frame.event == "patch" and machine not in json.loads(frame.data):
                        continue
                    if frame.event not in ("patch", "reload"):
                        continue
                    points = await asyncio.to_thread(_trend, engine, machine, cursor, False)
                    if not points:
                        continue
                    cursor = max(p[-1][0] for p in points.values())
                    yield {
                        "event": "points",
                        "data": json.dumps(points, separators=(",", ":")),
                        "id": str(cursor),
                    }
            finally:
                hub.unsubscribe(sensor_store.TREND_VIEW, subscriber)

        return EventSourceResponse(
            frames(),
            ping=PING_SECONDS,
            send_timeout=30,
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    return api
