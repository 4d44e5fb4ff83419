"""The edge layer as every server runs it: Host allow-list, forwarded headers only from trusted proxies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from shopfloor.auth import users
from shopfloor.runtime import build
from shopfloor.web.app import create_app
from shopfloor.web.edge import TrustedProxies, allowed_hosts
from shopfloor.web.server import deployed_app
from tests.security.auth_client import CSRF, PASSWORD
from tests.support import unique_settings

PROXY = "10.0.0.5"
OUTSIDER = "203.0.113.7"


@asynccontextmanager
async def edge_app(sqlite_url: str, *, auth: bool, **overrides: Any) -> AsyncIterator[Any]:
    settings = unique_settings(None, sqlite_url, **overrides)
    runtime = build(settings, consume=False, serve_web=True)
    runtime.auth = auth
    if auth and users.get(runtime.engine, "ada") is None:
        users.add(runtime.engine, "ada", "admin", PASSWORD)
    yield deployed_app(create_app(runtime), settings, auth), runtime


def client(app: Any, peer: str, base_url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(peer, 40000)), base_url=base_url)


async def test_a_foreign_host_is_refused_with_sign_in_off(sqlite_url: str) -> None:
    async with (
        edge_app(sqlite_url, auth=False) as (app, runtime),
        client(app, "127.0.0.1", "http://127.0.0.1:8000") as local,
    ):
        assert (await local.get("/api/work-orders")).status_code == 200
        assert (await local.get("/", headers={"host": "localhost:8000"})).status_code == 200
        # A DNS-rebinding page: the browser thinks it talks to evil.example, so Host says so.
        rebound = {"host": "evil.example:8000", "origin": "http://evil.example:8000"}
        refused = await local.get("/api/work-orders", headers=rebound)
        assert refused.status_code == 400 and "SHOPFLOOR_ALLOWED_HOSTS" in refused.json()["error"]
        add = {"name": "mallory", "role": "admin", "password": "a long password indeed"}
        assert (await local.post("/admin/users", data=add, headers=rebound)).status_code == 400
        assert users.get(runtime.engine, "mallory") is None
        assert (await local.get("/healthz", headers=rebound)).status_code == 200  # probes use IPs


def test_the_allow_list_cannot_be_opened_with_sign_in_off(sqlite_url: str) -> None:
    with pytest.raises(ValueError, match="DNS rebinding"):
        allowed_hosts(unique_settings(None, sqlite_url, allowed_hosts="*"), auth=False)
    assert allowed_hosts(unique_settings(None, sqlite_url, host="0.0.0.0"), auth=True) is None
    names = allowed_hosts(unique_settings(None, sqlite_url, host="0.0.0.0"), auth=False)
    assert names == {"127.0.0.1", "localhost", "::1"}
    names = allowed_hosts(unique_settings(None, sqlite_url, allowed_hosts="Plant.example, dash"), auth=True)
    assert names == {"plant.example", "dash"}


def _cookie_header(*responses: httpx.Response) -> str:
    """Cookies set by `responses`, Secure ones included: the browser holds them over its HTTPS
    connection to the proxy, while this client talks plain HTTP as the proxy does."""
    jar = {}
    for response in responses:
        for header in response.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            jar[name] = rest.split(";", 1)[0]
    return "; ".join(f"{k}={v}" for k, v in jar.items() if v and v != '""')


async def _sign_in(http: httpx.AsyncClient, **headers: str) -> httpx.Response:
    form = await http.get("/login", headers=headers)
    token = CSRF.search(form.text)
    assert token, form.text[:300]
    data = {"username": "ada", "password": PASSWORD, "csrf_token": token.group(1)}
    return await http.post("/login", data=data, headers={**headers, "cookie": _cookie_header(form)})


async def test_https_is_recognised_only_through_a_trusted_proxy(sqlite_url: str) -> None:
    async with edge_app(
        sqlite_url, auth=True, trusted_proxies=f"{PROXY}/32", allowed_hosts="plant.example"
    ) as (
        app,
        _,
    ):
        tls = {"x-forwarded-proto": "https", "x-forwarded-host": "plant.example:8443"}
        async with client(app, PROXY, "http://web:8000") as proxied:
            done = await _sign_in(proxied, **tls, origin="https://plant.example:8443")
            assert done.status_code == 303, done.text[:300]
            cookie = next(h for h in done.headers.get_list("set-cookie") if h.startswith("sf_session="))
            assert "Secure" in cookie and "HttpOnly" in cookie
            signed = {**tls, "cookie": _cookie_header(done)}
            page = await proxied.get("/admin", headers=signed)
            assert "max-age=" in page.headers["strict-transport-security"]
            # The same-origin check compares Origin with the Host the browser asked the proxy for.
            token = CSRF.search(page.text)
            assert token, page.text[:300]
            add = {"name": "newbie", "role": "viewer", "password": "a long password indeed"}
            origin = {**signed, "origin": "https://plant.example:8443"}
            made = await proxied.post(
                "/admin/users", data={**add, "csrf_token": token.group(1)}, headers=origin
            )
            assert made.status_code == 303, made.text[:300]
        # The same claims straight from an outsider change nothing: no Secure, no HSTS, Host unknown.
        async with client(app, OUTSIDER, "http://plant.example") as direct:
            done = await _sign_in(direct, **tls)
            cookie = next(h for h in done.headers.get_list("set-cookie") if h.startswith("sf_session="))
            assert "Secure" not in cookie
            assert "strict-transport-security" not in (await direct.get("/work-orders", headers=tls)).headers
            spoofed = await direct.get("/work-orders", headers={"x-forwarded-host": "elsewhere.example"})
            assert spoofed.status_code == 200  # Host (plant.example) counts, not the forged header
            assert (
                await direct.get("/work-orders", headers={"host": "elsewhere.example"})
            ).status_code == 400


def test_trusted_proxies_must_be_addresses(sqlite_url: str) -> None:
    with pytest.raises(ValueError, match="not an IP address"):
        unique_settings(None, sqlite_url, trusted_proxies="10.0.0.5, nginx")
    proxies = TrustedProxies("10.0.0.0/8, 2001:db8::1")
    assert "10.200.3.4" in proxies and "2001:db8::1" in proxies
    assert "11.0.0.1" not in proxies and "not-an-ip" not in proxies and None not in proxies
