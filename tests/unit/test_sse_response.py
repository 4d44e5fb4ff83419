"""The one SSE response every stream uses: it ends with the session, quiet stream or busy, and the
stream it wraps is closed (so a hub subscriber or a trend viewer is released)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

from shopfloor.web.sse import SESSION_ENDED, sse_response, until_session_ends


def _answers(*values: bool) -> tuple[list[int], object]:
    asked: list[int] = []
    it: Iterator[bool] = iter(values)

    async def alive() -> bool:
        asked.append(1)
        return next(it)

    return asked, alive


async def test_a_quiet_stream_ends_when_the_session_does_and_is_closed() -> None:
    closed: list[str] = []

    async def messages() -> AsyncIterator[bytes]:
        try:
            yield b"first"
            await asyncio.Event().wait()  # nothing more, ever
        finally:
            closed.append("closed")

    asked, alive = _answers(True, True, False)
    out = [m async for m in until_session_ends(messages(), alive, 0.01)]  # type: ignore[arg-type]
    assert out == [b"first", SESSION_ENDED]
    assert len(asked) == 3 and closed == ["closed"]


async def test_a_busy_stream_is_checked_too() -> None:
    async def messages() -> AsyncIterator[bytes]:
        while True:  # never a quiet moment
            yield b"frame"
            await asyncio.sleep(0.001)

    asked, alive = _answers(False)
    async with asyncio.timeout(30):  # a check that waited for a pause would never come
        out = [m async for m in until_session_ends(messages(), alive, 0.02)]  # type: ignore[arg-type]
    assert out[0] == b"frame" and out[-1] == SESSION_ENDED and len(asked) == 1
    assert set(out[:-1]) == {b"frame"}


async def test_a_stream_that_ends_by_itself_ends_without_a_session_message() -> None:
    async def messages() -> AsyncIterator[bytes]:
        yield b"only"

    _, alive = _answers(*[True] * 100)
    assert [m async for m in until_session_ends(messages(), alive, 0.01)] == [b"only"]  # type: ignore[arg-type]


def test_every_stream_sends_the_same_headers_heartbeat_and_send_timeout() -> None:
    async def messages() -> AsyncIterator[bytes]:
        yield b""

    response = sse_response(messages())
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-accel-buffering"] == "no"
    assert response.headers["content-type"].startswith("text/event-stream")
    assert (response._ping_interval, response.send_timeout) == (15, 30)
