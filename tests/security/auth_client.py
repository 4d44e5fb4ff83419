"""An in-process app with sign-in on, over a real store, and helpers to sign in the way a browser does."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx

from shopfloor.auth import users
from shopfloor.runtime import Runtime, build
from shopfloor.web.app import create_app
from tests.support import unique_settings

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
HX_HEADERS = re.compile(r"hx-headers='\{\"X-CSRF-Token\": \"([^\"]+)\"\}'")


@asynccontextmanager
async def auth_app(
    database_url: str,
    *,
    base_url: str = "http://shop.test",
    clock: Callable[[], int] | None = None,
    **overrides: Any,
) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    """`clock` (epoch ms) replaces wall time for session lifetimes."""
    runtime = build(unique_settings(None, database_url, **overrides), consume=False, serve_web=True)
    runtime.auth = True
    if clock is not None:
        runtime.clock_ms = clock
    for name, role in (("vera", "viewer"), ("otto", "operator"), ("sue", "supervisor"), ("ada", "admin")):
        if users.get(runtime.engine, name) is None:
            users.add(runtime.engine, name, role, PASSWORD)
    transport = httpx.ASGITransport(app=create_app(runtime), client=("10.1.2.3", 5555))
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
        yield runtime, client


async def sign_in(client: httpx.AsyncClient, name: str, password: str = PASSWORD) -> httpx.Response:
    """GET the form (sets the login CSRF cookie), POST it back; leaves the session cookie in the client."""
    form = await client.get("/login")
    token = CSRF.search(form.text)
    assert token, form.text[:500]
    return await client.post(
        "/login", data={"username": name, "password": password, "csrf_token": token.group(1), "next": "/"}
    )


async def page_token(client: httpx.AsyncClient, path: str = "/") -> str:
    """The synchronizer token a signed-in page hands to htmx."""
    page = await client.get(path)
    assert page.status_code == 200, page.text[:300]
    found = HX_HEADERS.search(page.text)
    assert found, "page carries no hx-headers CSRF token"
    return found.group(1)


class ManualClock:
    """Epoch milliseconds that move only when a test says so."""

    def __init__(self, start_ms: int) -> None:
        self.now_ms = start_ms

    def __call__(self) -> int:
        return self.now_ms

    def advance(self, *, minutes: float) -> None:
        self.now_ms += int(minutes * 60_000)
