"""A real `shopfloor serve` with sign-in on: SSE streams end when their session is revoked or expires."""

from __future__ import annotations

import asyncio
import json
import time

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


async def _until_session_ended(client: httpx.AsyncClient, timeout: float) -> float:
    """Reads the stream until the server says the session ended and closes it; returns when that was."""
    async with client.stream("GET", "/sse/work-orders") as response:
        assert response.status_code == 200
        async with asyncio.timeout(timeout):
            ended = False
            async for line in response.aiter_lines():
                if line.startswith("data:") and '"session"' in line:
                    assert json.loads(line.removeprefix("data:").strip()) == {"session": "ended"}
                    ended = True
            assert ended, "the stream closed without saying the session ended"
    return time.monotonic()


async def test_streams_end_on_logout_and_on_expiry(kafka, sqlite_url) -> None:  # type: ignore[no-untyped-def]
    settings = unique_settings(kafka, sqlite_url, session_check_seconds=0.3, session_absolute_hours=0.002)
    engine = open_store(settings)
    for name in ("vera", "otto"):
        users.add(engine, name, "viewer", PASSWORD)
    with running_server(settings, auth=True) as url:
        leaving = await _signed_in(url, "vera")
        staying = await _signed_in(url, "otto")
        started = time.monotonic()
        try:
            assert (await httpx.AsyncClient(base_url=url).get("/sse/work-orders")).status_code == 401
            revoked = asyncio.create_task(_until_session_ended(leaving, 10))
            expired = asyncio.create_task(_until_session_ended(staying, 20))
            await asyncio.sleep(1.0)
            page = await leaving.get("/work-orders")
            token = HX_HEADERS.search(page.text)
            assert token is not None
            assert (
                await leaving.post("/logout", headers={"x-csrf-token": token.group(1)})
            ).status_code == 303
            revoked_at = await revoked
            assert revoked_at - started < 4, "the revoked session's stream outlived its check interval"
            expired_at = await expired
            assert expired_at - started > 5  # absolute lifetime 7.2 s from sign-in
            assert (await staying.get("/api/work-orders")).status_code == 401
        finally:
            await leaving.aclose()
            await staying.aclose()
