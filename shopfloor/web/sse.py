"""Every SSE stream goes out through `Streams.response`: same headers, heartbeat and send timeout, and
it ends when the session that opened it ends (sign-out, revocation, expiry) or the server stops.
`hub_stream` is the stream each live page connects to: catch up, then frames.

A stream is one task reading its messages and writing them, nothing else per message: a frame to a
thousand screens is a thousand writes, and per write the event loop pays only for the write. The
checks a stream needs now and then (its session, a silent connection's ping, a send stuck behind a
client that stopped reading) run off one timer per stream; a disconnect is heard by one waiting task.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from fastapi import HTTPException, Request
from starlette.background import BackgroundTask
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from shopfloor.live.hub import Frame, Hub

log = logging.getLogger(__name__)
PING_SECONDS = 15.0
SEND_TIMEOUT_SECONDS = 30.0
RETRY_MS = 1000
HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-store"),
    (b"x-accel-buffering", b"no"),
]
PING = b": ping\r\n\r\n"
LINE_BREAK = re.compile(r"\r\n|\r|\n")  # the only line ends SSE knows (str.splitlines knows more)

Alive = Callable[[], Awaitable[bool]]
SessionWatch = Callable[[Request], Alive | None]


def encode_event(
    data: str, event: str | None = None, id: int | str | None = None, retry: int | None = None
) -> bytes:
    """One SSE message: every line of `data` as its own `data:` field."""
    fields = [] if id is None else [f"id: {id}"]
    if event:
        fields.append(f"event: {event}")
    fields += [f"data: {line}" for line in LINE_BREAK.split(data)]
    if retry is not None:
        fields.append(f"retry: {retry}")
    return ("\r\n".join(fields) + "\r\n\r\n").encode()


SESSION_ENDED = encode_event(json.dumps({"session": "ended"}), "status", retry=RETRY_MS)


def _no_session(_request: Request) -> Alive | None:
    return None


class Ending(enum.Enum):
    SESSION = "the session ended"
    SHUTDOWN = "the server is stopping"
    DISCONNECTED = "the client went away"
    STALLED = "the client stopped reading"


class EventStream(Response):
    """The response of one stream. `alive`, when given, is asked every `check_seconds`; once it says
    no, the client is told its session ended and the stream closes."""

    def __init__(self, messages: AsyncIterator[bytes], alive: Alive | None, streams: Streams) -> None:
        self.status_code = 200
        self.raw_headers = list(HEADERS)
        self.background: BackgroundTask | None = None
        self.messages = messages
        self.alive = alive
        self.streams = streams
        self.ending: Ending | None = None
        self._task: asyncio.Task[object] | None = None
        self._sending_since: float | None = None
        self._last_sent = 0.0
        self._asked = 0.0
        self._checkup: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._send: Send | None = None

    def end(self, why: Ending) -> None:
        """Stops the stream from outside its task (the first reason given is the one that counts)."""
        if self.ending is None and self._task is not None:
            self.ending = why
            self._task.cancel()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        loop = asyncio.get_running_loop()
        self._task, self._send = asyncio.current_task(), send
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        self._last_sent = self._asked = loop.time()
        listener = loop.create_task(self._hear_disconnect(receive))
        self._timer = loop.call_later(self.streams.tick_seconds, self._tick, loop)
        self.streams.open.add(self)
        if self.streams.closing:  # opened while the server was ending the others
            self.end(Ending.SHUTDOWN)
        try:
            async for chunk in self.messages:
                self._sending_since = loop.time()
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                self._last_sent, self._sending_since = self._sending_since, None  # one clock read a write
        except asyncio.CancelledError:
            if self.ending is None or self._task.uncancel() > 0:
                raise  # not (only) ours: the server is cancelling this request
        finally:
            self.streams.open.discard(self)
            if self._timer is not None:
                self._timer.cancel()
            listener.cancel()
            if self._checkup is not None:
                self._checkup.cancel()
            aclose = getattr(self.messages, "aclose", None)
            if aclose is not None:
                await aclose()
        if self.ending in (Ending.DISCONNECTED, Ending.STALLED):
            if self.ending is Ending.STALLED:
                log.warning("SSE stream %s closed: %s", scope.get("path"), self.ending.value)
            return  # nothing more can reach it; the server closes the connection
        body = SESSION_ENDED if self.ending is Ending.SESSION else b""
        try:
            async with asyncio.timeout(self.streams.send_timeout):
                await send({"type": "http.response.body", "body": body, "more_body": False})
        except TimeoutError:
            log.warning("SSE stream %s closed: %s", scope.get("path"), Ending.STALLED.value)
            return
        if self.background is not None:
            await self.background()

    def _tick(self, loop: asyncio.AbstractEventLoop) -> None:
        """Every `tick_seconds`: a send stuck too long ends the stream; else the session check and a
        ping on a silent connection run in a short task of their own."""
        self._timer = loop.call_later(self.streams.tick_seconds, self._tick, loop)
        now = loop.time()
        if self._sending_since is not None and now - self._sending_since > self.streams.send_timeout:
            self.end(Ending.STALLED)
            return
        ping = self._sending_since is None and now - self._last_sent >= self.streams.ping_seconds
        ask = (
            self.alive is not None
            and now - self._asked >= self.streams.check_seconds - self.streams.tick_seconds / 2
        )
        if (ask or ping) and self._checkup is None:
            if ask:
                self._asked = now
            self._checkup = loop.create_task(self._check(ask, ping))

    async def _check(self, ask: bool, ping: bool) -> None:
        try:
            if ask and self.alive is not None and not await self.alive():
                self.end(Ending.SESSION)
                return
            if ping and self._send is not None and self._sending_since is None:
                loop = asyncio.get_running_loop()
                self._sending_since = loop.time()  # a ping stuck behind a full socket counts too
                await self._send({"type": "http.response.body", "body": PING, "more_body": True})
                self._sending_since, self._last_sent = None, loop.time()
        except Exception:  # a connection closed under the ping: the stream ends as the client left
            log.debug("SSE ping failed", exc_info=True)
            self.end(Ending.DISCONNECTED)
        finally:
            self._checkup = None

    async def _hear_disconnect(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self.end(Ending.DISCONNECTED)


@dataclass
class Streams:
    """How this app's streams learn their session ended: `watch(request)` gives a check (None with
    sign-in off), asked at least every `check_seconds`, busy stream or quiet. A connection silent for
    `ping_seconds` gets a comment (proxies keep it open); a send stuck for `send_timeout` (the client
    stopped reading) ends its stream. `open`: every stream this app has open, so stopping the server
    can end them (they never end by themselves)."""

    watch: SessionWatch = _no_session
    check_seconds: float = 5.0
    ping_seconds: float = PING_SECONDS
    send_timeout: float = SEND_TIMEOUT_SECONDS
    open: set[EventStream] = field(default_factory=set)
    closing: bool = False

    @property
    def tick_seconds(self) -> float:
        """How often each stream's timer looks: often enough for each of the three checks."""
        return min(self.check_seconds, self.ping_seconds, self.send_timeout / 2)

    def response(self, request: Request, messages: AsyncIterator[bytes]) -> EventStream:
        return EventStream(messages, self.watch(request), self)

    def end_all(self) -> None:
        """The server is stopping: every open stream ends, and so does any that opens from now on."""
        self.closing = True
        for stream in list(self.open):
            stream.end(Ending.SHUTDOWN)


@functools.lru_cache(maxsize=64)
def frame_bytes(frame: Frame) -> bytes:
    """The frame as SSE bytes, encoded once however many clients it goes to (frames hash by value;
    their data strings cache their hash, so a hit costs next to nothing)."""
    return encode_event(frame.data, frame.event, frame.id, RETRY_MS)


SINCE_HELP = "the read-model version the page shows (or the Last-Event-ID header)"


def parse_since(request: Request) -> int | None:
    raw = request.headers.get("last-event-id") or request.query_params.get("since")
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise HTTPException(400, "since / Last-Event-ID must be a read-model version (a whole number)")
    return int(raw)


def hub_stream(hub: Hub, view: str, request: Request, streams: Streams) -> EventStream:
    """A live page's stream: the status, what changed since the page's version, then every frame."""
    since = parse_since(request)

    async def frames() -> AsyncIterator[bytes]:
        subscriber = hub.subscribe(view)
        try:
            yield frame_bytes(await hub.status_frame())
            first = await hub.catch_up(view, since)
            if first is not None:
                yield frame_bytes(first)
            while True:
                frame = await subscriber.queue.get()
                if frame is None:  # too slow: cut off; the client reconnects and catches up
                    return
                yield frame_bytes(frame)
        finally:
            hub.unsubscribe(view, subscriber)

    return streams.response(request, frames())
