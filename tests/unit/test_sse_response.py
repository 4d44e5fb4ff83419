"""The one SSE response every stream uses, driven through its ASGI seam: it ends with the session
(quiet stream or busy), with the server, with the client, or when the client stops reading; the
stream it wraps is closed each time (so a hub subscriber or a trend viewer is released)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from shopfloor.web.sse import HEADERS, PING, SESSION_ENDED, EventStream, Streams, encode_event

FAST = {"check_seconds": 0.01}


class Connection:
    """The server's side of one connection as a stream sees it: what it was sent, a disconnect on
    cue, and (`stalled`) a client that stops reading, so every body send blocks."""

    def __init__(self, stalled: bool = False) -> None:
        self.sent: list[dict[str, Any]] = []
        self.gone = asyncio.Event()
        self.stalled = stalled
        self.arrived = asyncio.Event()
        self._asked = False

    async def receive(self) -> dict[str, Any]:
        if not self._asked:
            self._asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        if self.stalled and message["type"] == "http.response.body":
            await asyncio.Event().wait()
        self.sent.append(message)
        self.arrived.set()

    async def until(self, bodies: int, of: bytes | None = None) -> None:
        """Until `bodies` bodies (or that many equal to `of`) have arrived."""
        while len([b for b in self.bodies() if of is None or b == of]) < bodies:
            self.arrived.clear()
            await self.arrived.wait()

    def bodies(self) -> list[bytes]:
        return [m["body"] for m in self.sent if m["type"] == "http.response.body" and m["body"]]


def _answers(*values: bool) -> tuple[list[int], Any]:
    asked: list[int] = []
    it: Iterator[bool] = iter(values)

    async def alive() -> bool:
        asked.append(1)
        return next(it)

    return asked, alive


async def _serve(stream: EventStream, connection: Connection) -> None:
    async with asyncio.timeout(30):  # a stream that never ends fails here
        await stream({"type": "http", "path": "/sse/test"}, connection.receive, connection.send)  # type: ignore[arg-type]


async def test_a_quiet_stream_ends_when_the_session_does_and_is_closed() -> None:
    closed: list[str] = []

    async def messages() -> AsyncIterator[bytes]:
        try:
            yield b"first"
            await asyncio.Event().wait()  # nothing more, ever
        finally:
            closed.append("closed")

    asked, alive = _answers(True, True, False)
    streams = Streams(**FAST)
    connection = Connection()
    await _serve(EventStream(messages(), alive, streams), connection)
    assert connection.bodies() == [b"first", SESSION_ENDED]
    assert connection.sent[-1]["more_body"] is False
    assert len(asked) == 3 and closed == ["closed"] and not streams.open


async def test_a_busy_stream_is_checked_too() -> None:
    async def messages() -> AsyncIterator[bytes]:
        while True:  # never a quiet moment
            yield b"frame"
            await asyncio.sleep(0.001)

    asked, alive = _answers(False)
    connection = Connection()
    await _serve(EventStream(messages(), alive, Streams(**FAST)), connection)
    bodies = connection.bodies()
    assert bodies[0] == b"frame" and bodies[-1] == SESSION_ENDED and len(asked) == 1
    assert set(bodies[:-1]) == {b"frame"}


async def test_a_stream_that_ends_by_itself_completes_without_a_session_message() -> None:
    async def messages() -> AsyncIterator[bytes]:
        yield b"only"

    _, alive = _answers(*[True] * 100)
    streams = Streams(**FAST)
    connection = Connection()
    await _serve(EventStream(messages(), alive, streams), connection)
    assert connection.bodies() == [b"only"] and connection.sent[-1]["more_body"] is False
    assert not streams.open


async def _forever(closed: list[str]) -> AsyncIterator[bytes]:
    try:
        yield b"hello"
        while True:
            await asyncio.sleep(3600)
            yield b"never"
    finally:
        closed.append("closed")


async def test_a_client_that_goes_away_releases_its_stream_and_is_sent_nothing_more() -> None:
    closed: list[str] = []
    streams = Streams(**FAST)
    connection = Connection()
    serving = asyncio.create_task(_serve(EventStream(_forever(closed), None, streams), connection))
    await connection.until(1)
    assert streams.open
    connection.gone.set()
    await serving
    assert connection.bodies() == [b"hello"] and closed == ["closed"] and not streams.open
    assert connection.sent[-1].get("more_body") is True  # no end of response to a closed socket


async def test_stopping_the_server_ends_every_open_stream() -> None:
    closed: list[str] = []
    streams = Streams(**FAST)
    connections = [Connection() for _ in range(3)]
    serving = [
        asyncio.create_task(_serve(EventStream(_forever(closed), None, streams), c)) for c in connections
    ]
    for connection in connections:
        await connection.until(1)
    streams.end_all()
    await asyncio.gather(*serving)
    assert closed == ["closed"] * 3 and not streams.open
    for connection in connections:
        assert connection.bodies() == [b"hello"] and connection.sent[-1]["more_body"] is False


async def test_a_client_that_stops_reading_is_cut_off_after_the_send_timeout() -> None:
    closed: list[str] = []
    streams = Streams(check_seconds=0.01, send_timeout=0.05)
    connection = Connection(stalled=True)
    await _serve(EventStream(_forever(closed), None, streams), connection)
    assert closed == ["closed"] and not streams.open
    assert [m["type"] for m in connection.sent] == ["http.response.start"]  # the stuck send never finished


async def test_a_stream_that_opens_while_the_server_stops_ends_at_once() -> None:
    """A request accepted just before the stop reaches its stream after the others were ended."""
    closed: list[str] = []
    streams = Streams(**FAST)
    streams.end_all()
    connection = Connection()
    await _serve(EventStream(_forever(closed), None, streams), connection)
    assert closed == ["closed"] and not streams.open and connection.sent[-1]["more_body"] is False


async def test_the_last_send_to_a_client_that_stopped_reading_times_out_too() -> None:
    """The session ends while the client reads nothing: telling it so must not wait forever."""
    _, alive = _answers(False)
    streams = Streams(check_seconds=0.01, send_timeout=0.05)
    connection = Connection(stalled=True)
    await _serve(EventStream(_forever([]), alive, streams), connection)
    assert [m["type"] for m in connection.sent] == ["http.response.start"] and not streams.open


async def test_a_silent_connection_gets_pings_and_a_busy_one_does_not() -> None:
    streams = Streams(check_seconds=0.01, ping_seconds=0.1)
    quiet, busy = Connection(), Connection()

    async def frames() -> AsyncIterator[bytes]:
        while True:
            yield b"frame"
            await asyncio.sleep(0.002)

    serving = [
        asyncio.create_task(_serve(EventStream(_forever([]), None, streams), quiet)),
        asyncio.create_task(_serve(EventStream(frames(), None, streams), busy)),
    ]
    await quiet.until(2, of=PING)
    streams.end_all()
    await asyncio.gather(*serving)
    assert quiet.bodies()[0] == b"hello" and set(quiet.bodies()[1:]) == {PING}
    assert PING not in busy.bodies()


async def test_a_cancellation_that_is_not_the_streams_own_goes_through() -> None:
    closed: list[str] = []
    connection = Connection()
    serving = asyncio.create_task(_serve(EventStream(_forever(closed), None, Streams(**FAST)), connection))
    await connection.until(1)
    serving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await serving
    assert closed == ["closed"]


def test_every_stream_sends_the_same_headers() -> None:
    async def messages() -> AsyncIterator[bytes]:
        yield b""

    response = EventStream(messages(), None, Streams())
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-accel-buffering"] == "no"
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.raw_headers == HEADERS


def test_every_line_of_the_data_is_its_own_field() -> None:
    assert encode_event("a\nb\r\nc\rd", "patch", 7, 1000) == (
        b"id: 7\r\nevent: patch\r\ndata: a\r\ndata: b\r\ndata: c\r\ndata: d\r\nretry: 1000\r\n\r\n"
    )
    assert encode_event("x\u2028y") == "data: x\u2028y\r\n\r\n".encode()  # not a line end in SSE


async def test_the_session_is_asked_at_its_own_period_however_often_pings_go() -> None:
    """Pings every 20 ms, session checks every 200 ms: the store is not asked at the ping's pace."""
    loop = asyncio.get_running_loop()
    asked_at: list[float] = []
    twice = asyncio.Event()

    async def alive() -> bool:
        asked_at.append(loop.time())
        if len(asked_at) >= 3:
            twice.set()
        return True

    streams = Streams(check_seconds=0.2, ping_seconds=0.02)
    connection = Connection()
    serving = asyncio.create_task(_serve(EventStream(_forever([]), alive, streams), connection))
    async with asyncio.timeout(30):
        await twice.wait()
    streams.end_all()
    await serving
    gaps = [b - a for a, b in itertools.pairwise(asked_at)]
    assert min(gaps) >= 0.2 - 0.02 / 2 - 1e-3
    assert connection.bodies().count(PING) >= 2
