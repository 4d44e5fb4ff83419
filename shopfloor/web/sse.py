"""Every SSE stream goes out through `sse_response`: same headers, heartbeat and send timeout, and it
ends when the session that opened it ends (sign-out, revocation, expiry). `hub_stream` is the stream
each live page connects to: catch up, then frames."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request
from sse_starlette.sse import EventSourceResponse, ServerSentEvent

from shopfloor.live.hub import Frame, Hub

PING_SECONDS = 15
SEND_TIMEOUT_SECONDS = 30
RETRY_MS = 1000
HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
SESSION_ENDED = {"event": "status", "data": json.dumps({"session": "ended"}), "retry": RETRY_MS}

Alive = Callable[[], Awaitable[bool]]
Message = bytes | dict[str, Any]
SessionWatch = Callable[[Request], Alive | None]


def _no_session(_request: Request) -> Alive | None:
    return None


@dataclass(frozen=True)
class Streams:
    """How this app's streams learn their session ended: `watch(request)` gives a check (None with
    sign-in off), asked at least every `check_seconds`, busy stream or quiet."""

    watch: SessionWatch = _no_session
    check_seconds: float = 5.0

    def response(self, request: Request, messages: AsyncIterator[Message]) -> EventSourceResponse:
        return sse_response(messages, self.watch(request), self.check_seconds)


def sse_response(
    messages: AsyncIterator[Message], alive: Alive | None = None, check_seconds: float = 5.0
) -> EventSourceResponse:
    """The one way a stream is sent. `alive`, when given, is asked every `check_seconds`; once it says
    no, the client is told its session ended and the stream closes."""
    source = messages if alive is None else until_session_ends(messages, alive, check_seconds)
    return EventSourceResponse(source, ping=PING_SECONDS, send_timeout=SEND_TIMEOUT_SECONDS, headers=HEADERS)


async def until_session_ends(
    messages: AsyncIterator[Message], alive: Alive, every: float
) -> AsyncIterator[Message]:
    """`messages` passed through until they end or `alive()` says no (then SESSION_ENDED, and stop)."""
    loop = asyncio.get_running_loop()
    checked = loop.time()
    pending: asyncio.Future[Message] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(_next(messages))
            remaining = checked + every - loop.time()
            if remaining > 0:
                done, _ = await asyncio.wait({pending}, timeout=remaining)
                if done:
                    finished, pending = pending, None
                    try:
                        message = finished.result()
                    except StopAsyncIteration:
                        return
                    yield message
                    continue
            checked = loop.time()
            if not await alive():
                yield SESSION_ENDED
                return
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await pending
        aclose = getattr(messages, "aclose", None)
        if aclose is not None:
            await aclose()


async def _next(messages: AsyncIterator[Message]) -> Message:
    return await anext(messages)


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


def hub_stream(hub: Hub, view: str, request: Request, streams: Streams) -> EventSourceResponse:
    """A live page's stream: the status, what changed since the page's version, then every frame."""
    since = parse_since(request)

    async def frames() -> AsyncIterator[Message]:
        subscriber = hub.subscribe(view)
        try:
            yield _message(await hub.status_frame())
            first = await hub.catch_up(view, since)
            if first is not None:
                yield _message(first)
            while True:
                frame = await subscriber.queue.get()
                if frame is None:  # too slow: cut off; the client reconnects and catches up
                    return
                yield _message(frame)
        finally:
            hub.unsubscribe(view, subscriber)

    return streams.response(request, frames())
