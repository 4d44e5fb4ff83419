"""The SSE endpoint every live page connects to: catch up, then stream frames."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import HTTPException, Request
from sse_starlette.sse import EventSourceResponse, ServerSentEvent

from shopfloor.live.hub import Frame, Hub

PING_SECONDS = 15
RETRY_MS = 1000


@functools.lru_cache(maxsize=64)
def _message(frame: Frame) -> bytes:
    """The frame as SSE bytes, encoded once however many clients it goes to (frames hash by value;
    their data strings cache their hash, so a hit costs next to nothing)."""
    event_id = None if frame.id is None else str(frame.id)
    return ServerSentEvent(data=frame.data, event=frame.event, id=event_id, retry=RETRY_MS).encode()


def parse_since(request: Request) -> int | None:
    raw = request.headers.get("last-event-id") or request.query_params.get("since")
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise HTTPException(400, "since / Last-Event-ID must be a read-model version (a whole number)")
    return int(raw)


SESSION_ENDED = {"event": "status", "data": json.dumps({"session": "ended"}), "retry": RETRY_MS}


async def _next_frame(
    queue: asyncio.Queue[Frame | None],
    alive: Callable[[], Awaitable[bool]] | None,
    every: float,
    checked: list[float],
) -> Frame | dict[str, Any] | None:
    """The next frame; or, once `alive` says the session is over, the message that ends the stream.

    `alive` is asked at least every `every` seconds, busy stream or quiet; `checked` holds the last time.
    """
    if alive is None:
        return await queue.get()
    loop = asyncio.get_running_loop()
    getter = asyncio.ensure_future(queue.get())
    try:
        while True:
            remaining = checked[0] + every - loop.time()
            if remaining > 0:
                done, _ = await asyncio.wait({getter}, timeout=remaining)
                if done:
                    return getter.result()
            checked[0] = loop.time()
            if not await alive():
                return SESSION_ENDED
    finally:
        getter.cancel()


def stream(
    hub: Hub,
    view: str,
    request: Request,
    alive: Callable[[], Awaitable[bool]] | None = None,
    check_seconds: float = 5.0,
) -> EventSourceResponse:
    """`alive`, when given, is asked every `check_seconds`; the stream ends once it says no."""
    since = parse_since(request)

    async def frames() -> AsyncIterator[bytes | dict[str, Any]]:
        subscriber = hub.subscribe(view)
        try:
            yield _message(await hub.status_frame())
            first = await hub.catch_up(view, since)
            if first is not None:
                yield _message(first)
            checked = [asyncio.get_running_loop().time()]
            while True:
                frame = await _next_frame(subscriber.queue, alive, check_seconds, checked)
                if frame is SESSION_ENDED:
                    yield SESSION_ENDED
                    return
                if not isinstance(frame, Frame):
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
