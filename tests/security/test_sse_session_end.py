"""A real `shopfloor serve` with sign-in on: SSE streams end when their session is revoked or expires.

Order, not elapsed time, tells the two apart: the revoked stream ends while the other is still open,
and the other ends later, by its 18 s absolute lifetime, with the session refused from then on."""

from __future__ import annotations

import asyncio
import json

import httpx

from shopfloor.auth import users
from shopfloor.runtime import open_store
from tests.security.auth_client import CSRF, HX_HEADERS, PASSWORD
from tests.support import running_server, unique_settings


async def _signed_in(url: str, name: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=url, timeout=30)
    form = await client.get("/login")
    token = CSRF.search(form.text)
    assert token is not None
    done = await client.post(
        "/login", data={"username": name, "password": PASSWORD, "csrf_token": token.group(1)}
    )
    assert done.status_code == 303, done.text[:300]
    return client


async def _until_session_ended(client: httpx.AsyncClient, timeout: float, open_: asyncio.Event) -> None:
    """Reads the stream until the server says the session ended and closes it. `open_` is set once the
    stream is accepted; `timeout` only turns a hang into a failure."""
    async with client.stream("GET", "/sse/work-orders") as response:
        assert response.status_code == 200
        open_.set()
        async with asyncio.timeout(timeout):
            ended = False
            async for line in response.aiter_lines():
                if line.startswith("data:") and '"session"' in line:
                    assert json.loads(line.removeprefix("data:").strip()) == {"session": "ended"}
                    ended = True
            assert ended, "the stream closed without saying the session ended"


async def test_streams_end_on_logout_and_on_expiry(kafka, sqlite_url) -> None:  # type: ignore[no-untyped-def]
    settings = unique_settings(kafka, sqlite_url, session_check_seconds=0.3, session_absolute_hours=0.005)
    engine = open_store(settings)
    for name in ("vera", "otto"):
        users.add(engine, name, "viewer", PASSWORD)
    with running_server(settings, auth=True) as url:
        leaving = await _signed_in(url, "vera")
        staying = await _signed_in(url, "otto")
        try:
            assert (await httpx.AsyncClient(base_url=url).get("/sse/work-orders")).status_code == 401
            opened = asyncio.Event(), asyncio.Event()
            revoked = asyncio.create_task(_until_session_ended(leaving, 30, opened[0]))
            expired = asyncio.create_task(_until_session_ended(staying, 60, opened[1]))
            await asyncio.wait_for(asyncio.gather(opened[0].wait(), opened[1].wait()), 30)
            page = await leaving.get("/work-orders")
            token = HX_HEADERS.search(page.text)
            assert token is not None
            assert (
                await leaving.post("/logout", headers={"x-csrf-token": token.group(1)})
            ).status_code == 303
            await revoked
            assert not expired.done(), "the other session's stream ended with the revoked one"
            await expired  # absolute lifetime 18 s from sign-in
            assert (await staying.get("/api/work-orders")).status_code == 401
        finally:
            await leaving.aclose()
            await staying.aclose()
