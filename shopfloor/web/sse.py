"""The SSE endpoint every live page connects to: catch up, then stream frames."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import HTTPException, Request
from sse_starlette.sse import EventSourceResponse

from shopfloor.web.live import Frame, Hub

PING_SECONDS = 15
RETRY_MS = 1000


def _message(frame: Frame) -> dict[str, Any]:
    message: dict[str, Any] = {"event": frame.event, "data": frame.data, "retry": RETRY_MS}
    if frame.id is not None:
        message["id"] = str(frame.id)
    return message


def parse_since(request: Request) -> int | None:
    raw = request.headers.get("last-event-id") or request.query_params.get("since")
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise HTTPException(400, "since / Last-Event-ID must be a read-model version (a whole number)")
    return int(raw)


def stream(hub: Hub, view: str, request: Request) -> EventSourceResponse:
    since = parse_since(request)

    async def frames() -> AsyncIterator[dict[str, Any]]:
        subscriber = hub.subscribe(view)
        try:
            yield _message(await hub.status_frame())
            first = await hub.catch_up(view, since)
            if first is not None:
                yield _message(first)
            while True:
                frame = await subscriber.queue.get()
                if frame is None:
                    return
                yield _message(frame)
        finally:
            hub.unsubscribe(view, subscriber)

    return EventSourceResponse(
        frames(),
        ping=PING_SECONDS,
        send_timeout=30,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
