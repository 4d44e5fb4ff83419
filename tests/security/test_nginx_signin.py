"""Sign-in through the shipped nginx config on a non-default port, in a real browser, against a real
`shopfloor web` process; the login limiter sees each client's own address through the proxy."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx

from shopfloor.auth import users
from shopfloor.runtime import open_store
from tests.security.auth_client import CSRF, PASSWORD
from tests.security.real_nginx import proxy_port, running_nginx
from tests.support import free_port, running_server, unique_settings


def _client_from(address: str, base: str, **headers: str) -> httpx.Client:
    """A client whose connections come from `address` (any 127.x.y.z is this machine's loopback)."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(transport=transport, base_url=base, headers={"origin": base, **headers})


def _sign_in(client: httpx.Client, name: str, password: str) -> httpx.Response:
    form = client.get("/login")
    token = CSRF.search(form.text)
    assert token, form.text[:300]
    return client.post("/login", data={"username": name, "password": password, "csrf_token": token.group(1)})


async def test_sign_in_through_the_shipped_nginx(tmp_path: Path, browser: Any) -> None:
    settings = unique_settings(
        None,
        f"sqlite:///{tmp_path / 'store.db'}",
        trusted_proxies="127.0.0.1",
        allowed_hosts="localhost",
        login_max_failures=3,
    )
    engine = open_store(settings)
    users.add(engine, "ada", "admin", PASSWORD)
    engine.dispose()
    with running_server(settings, command="web", auth=True) as app_url:
        upstream = app_url.removeprefix("http://")
        port = proxy_port()
        with running_nginx(upstream, port, tmp_path / "nginx") as proxy:
            assert proxy.endswith(f":{port}") and port != 80
            context = await browser.new_context()
            page = await context.new_page()
            await page.goto(f"{proxy}/work-orders")
            assert page.url.startswith(f"{proxy}/login")
            await page.fill("input[name=username]", "ada")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{proxy}/work-orders")
            assert await page.locator("form.who").get_attribute("data-user") == "ada"
            session = next(c for c in await context.cookies() if c["name"] == "sf_session")
            assert session["httpOnly"] and session["sameSite"] == "Strict" and not session["secure"]

            # A later POST (an admin action) passes the same-origin check too, and the app builds
            # links with the host and port the browser used.
            await page.goto(f"{proxy}/admin")
            await page.fill("input[name=name][placeholder='Line 3 board']", "Hall screen")
            await page.click("form[action='/admin/screens'] button[type=submit]")
            link = await page.locator("[data-kiosk-link]").text_content()
            assert link is not None and re.fullmatch(rf"{re.escape(proxy)}/kiosk/[\w-]+", link), link
            await context.close()

            # Each client is limited on its own address, which only X-Forwarded-For carries here
            # (every request reaches the app from nginx's 127.0.0.1); a forged X-Forwarded-For is ignored.
            with _client_from("127.0.0.2", proxy, **{"x-forwarded-for": "127.0.0.3"}) as guesser:
                statuses = [_sign_in(guesser, "ada", "wrong guess number one").status_code for _ in range(4)]
                assert statuses == [401, 401, 401, 429]
            with _client_from("127.0.0.3", proxy) as colleague:
                signed_in = _sign_in(colleague, "ada", PASSWORD)
                assert signed_in.status_code == 303, signed_in.text[:300]
                assert "sf_session" in signed_in.cookies


def test_tls_at_the_proxy_gives_secure_cookies_and_hsts(tmp_path: Path) -> None:
    settings = unique_settings(
        None, f"sqlite:///{tmp_path / 'store.db'}", trusted_proxies="127.0.0.1", allowed_hosts="localhost"
    )
    engine = open_store(settings)
    users.add(engine, "ada", "admin", PASSWORD)
    engine.dispose()
    with (
        running_server(settings, command="web", auth=True) as app_url,
        running_nginx(app_url.removeprefix("http://"), free_port(), tmp_path / "nginx", tls=True) as proxy,
    ):
        assert proxy.startswith("https://")
        with httpx.Client(base_url=proxy, verify=False, headers={"origin": proxy}) as browser:
            form = browser.get("/login")
            assert "max-age=" in form.headers["strict-transport-security"]
            token = CSRF.search(form.text)
            assert token
            data = {"username": "ada", "password": PASSWORD, "csrf_token": token.group(1)}
            done = browser.post("/login", data=data)
            assert done.status_code == 303, done.text[:300]
            cookie = next(h for h in done.headers.get_list("set-cookie") if h.startswith("sf_session="))
            assert "Secure" in cookie and "HttpOnly" in cookie
            assert browser.get("/api/work-orders").status_code == 200
        # The app reached directly over plain HTTP from another address (only nginx's 127.0.0.1 is
        # trusted): a forged X-Forwarded-Proto does not make it believe HTTPS.
        direct = httpx.Client(
            transport=httpx.HTTPTransport(local_address="127.0.0.2"), headers={"x-forwarded-proto": "https"}
        )
        with direct:
            answer = direct.get(f"{app_url.replace('127.0.0.1', 'localhost')}/login")
            assert answer.status_code == 200 and "strict-transport-security" not in answer.headers
