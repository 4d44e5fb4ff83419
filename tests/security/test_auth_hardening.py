"""Sign-in under attack: atomic per-(account, address) limits, strong passwords, single-use kiosk links
bound to a page, sessions ended at re-login and purged, responses never cached."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
from sqlalchemy import func, select

from shopfloor.auth import users
from shopfloor.auth.tables import SESSIONS
from tests.security.auth_client import CSRF, PASSWORD, auth_app, page_token, sign_in

LOGIN_FORM_TOKEN = re.compile(
    r'action="/login"[^>]*>\s*<input type="hidden" name="csrf_token" value="([^"]+)"'
)


async def sign_in_again(client: httpx.AsyncClient, name: str) -> httpx.Response:
    """Signs in from a browser that is signed in already (its page also holds the session's token)."""
    form = await client.get("/login")
    token = LOGIN_FORM_TOKEN.search(form.text)
    assert token, form.text[:500]
    return await client.post(
        "/login", data={"username": name, "password": PASSWORD, "csrf_token": token.group(1)}
    )


def from_address(client: httpx.AsyncClient, address: str) -> httpx.AsyncClient:
    """Another browser on another machine, talking to the same app."""
    app = client._transport.app  # type: ignore[attr-defined]
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(address, 1)), base_url=client.base_url
    )


async def test_parallel_guesses_are_all_counted(sqlite_url: str) -> None:
    async with auth_app(sqlite_url, login_max_failures=5) as (_, client):
        form = await client.get("/login")
        token = CSRF.search(form.text)
        assert token
        guess = {"username": "ada", "password": "wrong guess", "csrf_token": token.group(1)}
        answers = await asyncio.gather(*(client.post("/login", data=guess) for _ in range(40)))
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [401] * 5 + [429] * 35  # exactly the limit was checked, not 26


async def test_a_guesser_locks_only_their_own_address_until_the_account_cap(sqlite_url: str) -> None:
    async with auth_app(sqlite_url, login_max_failures=3, login_max_failures_per_account=7) as (_, client):
        for _ in range(3):
            assert (await sign_in(client, "ada", "wrong guess")).status_code == 401
        assert (await sign_in(client, "ada", "wrong guess")).status_code == 429
        assert (await sign_in(client, "ada")).status_code == 429  # this address, this account: locked
        async with from_address(client, "10.7.7.7") as colleague:
            assert (await sign_in(colleague, "ada")).status_code == 303  # the owner is not locked out
        async with from_address(client, "10.8.8.8") as second, from_address(client, "10.9.9.9") as third:
            for _ in range(3):
                assert (await sign_in(second, "vera", "wrong guess")).status_code == 401
            # ada: 3 failures from 10.1.2.3; 3 more from 10.8.8.8 reach... then the account cap (7)
            for _ in range(3):
                assert (await sign_in(second, "ada", "wrong guess")).status_code == 401
            assert (await sign_in(third, "ada", "wrong guess")).status_code == 401  # 7th for the account
            assert (await sign_in(third, "ada")).status_code == 429  # many addresses: the account cap holds


@pytest.mark.parametrize(
    ("password", "why"),
    [("password1", "common password"), ("Summer2024!", "too easy"), ("ada-ada-ada", "too easy")],
)
async def test_guessable_passwords_are_refused(sqlite_url: str, password: str, why: str) -> None:
    async with auth_app(sqlite_url) as (runtime, client):
        await sign_in(client, "ada")
        token = await page_token(client, "/admin")
        data = {"name": "newbie", "role": "viewer", "password": password, "csrf_token": token}
        refused = await client.post("/admin/users", data=data)
        assert refused.status_code == 400 and why in refused.text.lower(), refused.text[-800:]
        assert users.get(runtime.engine, "newbie") is None
        data["password"] = "tundra kettle marigold"
        assert (await client.post("/admin/users", data=data)).status_code == 303
        with pytest.raises(ValueError, match="too easy"):
            users.set_password(runtime.engine, "newbie", "newbie2024", "test")


async def test_kiosk_links_open_once_on_their_page_and_the_session_is_listed(database_url: str) -> None:
    async with auth_app(database_url) as (_, admin):
        await sign_in(admin, "ada")
        token = await page_token(admin, "/admin")
        # the last two would answer 400 on the wall: /lines reads no line, and no page /nowhere
        for bad in (
            "//evil.example/x",
            "https://evil.example",
            "/admin",
            "/kiosk/x",
            "/lines?line=L3",
            "/nowhere",
        ):
            refused = await admin.post("/admin/screens", data={"name": "x", "page": bad, "csrf_token": token})
            assert refused.status_code == 400, bad
        assert "does not read line" in refused.text or "not a page" in refused.text
        created = await admin.post(
            "/admin/screens", data={"name": "Dock 2", "page": "/outbound?q=ORD", "csrf_token": token}
        )
        path = created.text.split("data-kiosk-link>")[1].split("<")[0].split("shop.test", 1)[1]
        screens = [from_address(admin, f"10.0.0.{i}") for i in range(1, 6)]
        opened = await asyncio.gather(*(s.get(path) for s in screens))
        winners = [i for i, o in enumerate(opened) if o.status_code == 303]
        assert len(winners) == 1 and sorted(o.status_code for o in opened) == [303, 404, 404, 404, 404]
        screen = screens[winners[0]]
        assert opened[winners[0]].headers["location"] == "/outbound?q=ORD&kiosk=1"
        assert (await screen.get("/outbound?q=ORD&kiosk=1")).status_code == 200
        assert (await screen.get(path)).status_code == 404  # the same screen cannot reopen it either
        listing = (await admin.get("/admin")).text
        row = listing.split('data-screen="')[1]
        screen_id = row.split('"')[0]
        assert 'data-session="live"' in row.split("</tr>")[0] and "/outbound?q=ORD" in row.split("</tr>")[0]
        await admin.post("/admin/screens/revoke", data={"screen_id": screen_id, "csrf_token": token})
        assert (await screen.get("/api/outbound")).status_code == 401
        row = (await admin.get("/admin")).text.split('data-screen="')[1].split("</tr>")[0]
        assert 'data-session="revoked"' in row
        for other in screens:
            await other.aclose()


async def test_signing_in_again_ends_the_old_session_and_dead_sessions_are_purged(database_url: str) -> None:
    async with auth_app(database_url) as (runtime, client):
        assert (await sign_in(client, "vera")).status_code == 303
        old = client.cookies["sf_session"]
        assert (await sign_in_again(client, "vera")).status_code == 303
        assert client.cookies["sf_session"] != old
        async with from_address(client, "10.1.2.3") as thief:
            thief.cookies.set("sf_session", old)
            assert (await thief.get("/api/work-orders")).status_code == 401
        async with from_address(client, "10.1.2.4") as other:
            await sign_in(other, "otto")
            await other.post("/logout", headers={"x-csrf-token": await page_token(other)})
        with runtime.engine.connect() as conn:
            before = conn.execute(select(func.count()).select_from(SESSIONS)).scalar_one()
        async with from_address(client, "10.1.2.5") as third:
            await sign_in(third, "sue")  # each sign-in purges what can never be valid again
        with runtime.engine.connect() as conn:
            left = conn.execute(select(SESSIONS.c.user_name, SESSIONS.c.revoked)).all()
        assert before == 2 and sorted(left) == [("sue", False), ("vera", False)], left  # otto's is gone


async def test_pages_and_data_are_never_cached(sqlite_url: str) -> None:
    async with auth_app(sqlite_url) as (_, client):
        await sign_in(client, "vera")
        for path in ("/", "/work-orders", "/api/work-orders", "/api/alerts", "/login", "/nope"):
            assert (await client.get(path)).headers.get("cache-control") == "no-store", path
        assert "no-store" not in (await client.get("/static/shopfloor.css")).headers.get("cache-control", "")
