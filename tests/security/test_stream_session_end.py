"""A real `shopfloor serve` with sign-in on: every kind of stream (a live board, a machine's trend,
rebuild progress) sends the same no-store headers and ends when its session is signed out or revoked.

Order tells a session's end from anything else: the signed-out streams end while the other session's
streams stay open; those end once an administrator's change revokes that session."""

from __future__ import annotations

import asyncio
import json

import httpx

from shopfloor.auth import users
from shopfloor.runtime import open_store
from tests.security.auth_client import HX_HEADERS, PASSWORD
from tests.security.test_sse_session_end import _signed_in
from tests.support import running_server, unique_settings

BOARD, TREND, REBUILDS = "/sse/work-orders", "/sse/equipment-trend?machine=M-1", "/admin/rebuilds/stream"


async def _until_session_ended(client: httpx.AsyncClient, path: str, opened: asyncio.Event) -> dict[str, str]:
    """Reads `path` until the server says the session ended; returns the response headers."""
    async with client.stream("GET", path) as response:
        assert response.status_code == 200, path
        opened.set()
        async with asyncio.timeout(60):  # turns a stream that never ends into a failure
            async for line in response.aiter_lines():
                if line.startswith("data:") and '"session"' in line:
                    assert json.loads(line.removeprefix("data:").strip()) == {"session": "ended"}
                    return dict(response.headers)
    raise AssertionError(f"{path} closed without saying the session ended")


async def _open_all(
    client: httpx.AsyncClient,
) -> tuple[list[asyncio.Task[dict[str, str]]], list[asyncio.Event]]:
    opened = [asyncio.Event() for _ in range(3)]
    tasks = [
        asyncio.create_task(_until_session_ended(client, path, flag))
        for path, flag in zip((BOARD, TREND, REBUILDS), opened, strict=True)
    ]
    await asyncio.wait_for(asyncio.gather(*(flag.wait() for flag in opened)), 30)
    return tasks, opened


async def test_every_stream_ends_with_its_session(kafka, sqlite_url) -> None:  # type: ignore[no-untyped-def]
    settings = unique_settings(kafka, sqlite_url, session_check_seconds=0.3)
    engine = open_store(settings)
    for name in ("ada", "root"):
        users.add(engine, name, "admin", PASSWORD)
    with running_server(settings, auth=True) as url:
        leaving = await _signed_in(url, "ada")
        revoked = await _signed_in(url, "root")
        try:
            anonymous = httpx.AsyncClient(base_url=url)
            for path in (BOARD, TREND, REBUILDS):
                assert (await anonymous.get(path)).status_code in (401, 303), path  # 303: to sign-in
            await anonymous.aclose()
            signed_out, _ = await _open_all(leaving)
            staying, _ = await _open_all(revoked)

            page = await leaving.get("/work-orders")
            token = HX_HEADERS.search(page.text)
            assert token is not None
            logout = await leaving.post("/logout", headers={"x-csrf-token": token.group(1)})
            assert logout.status_code == 303
            for headers in await asyncio.gather(*signed_out):
                assert headers["cache-control"] == "no-store"
                assert headers["content-type"].startswith("text/event-stream")
            assert not any(task.done() for task in staying), "another session's stream ended with this one"

            await asyncio.to_thread(users.set_disabled, engine, "root", True, "test")  # revokes its sessions
            for headers in await asyncio.gather(*staying):
                assert headers["cache-control"] == "no-store"
            assert (await revoked.get("/api/work-orders")).status_code == 401
        finally:
            await leaving.aclose()
            await revoked.aclose()
            engine.dispose()
