"""Who is asking, and may they: one ASGI middleware in front of every route.

With sign-in on, pages without a session redirect to /login, /api/* and /sse/* answer 401, and
every state-changing request must pass the CSRF checks. /healthz, /readyz and /metrics stay open
(/metrics asks for a bearer token when SHOPFLOOR_METRICS_TOKEN is set).
"""

from __future__ import annotations

import asyncio
import functools
import json
from urllib.parse import parse_qsl, quote

from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shopfloor.auth import csrf, sessions
from shopfloor.auth.roles import Principal
from shopfloor.pages import templates
from shopfloor.runtime import Runtime

OPEN_PREFIXES = ("/static/", "/vendor/", "/kiosk/")
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/login", "/favicon.ico"})
LOGIN_COOKIE = "sf_login"


class AuthMiddleware:
    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime
        self.timeouts = sessions.Timeouts.from_settings(runtime.settings, runtime.clock_ms)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        path: str = scope["path"]
        method: str = scope["method"]
        if path == "/metrics":  # no session: the bearer token is MetricsToken's, on every process
            await self.app(scope, receive, send)
            return
        if method in csrf.UNSAFE_METHODS and (why := csrf.cross_origin(headers)):
            await _plain(send, 403, why)
            return
        if not self.runtime.auth:
            await self.app(scope, receive, send)
            return
        cookies = cookie_parser(headers.get("cookie", ""))
        try:
            user = await asyncio.to_thread(
                sessions.resolve, self.runtime.engine, self.timeouts, cookies.get(sessions.COOKIE)
            )
        except Exception:
            await _plain(send, 503, "the session store is unreachable")
            return
        scope.setdefault("state", {})["user"] = user
        if method in csrf.UNSAFE_METHODS:
            expected = cookies.get(LOGIN_COOKIE) if path == "/login" else (user.csrf_token if user else None)
            receive, given = await _token(headers, receive)
            if not csrf.token_matches(expected, given):
                await _plain(send, 403, "missing or wrong CSRF token; reload the page")
                return
        if user is None and not (path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)):
            await _unauthenticated(scope, send, path)
            return
        await self.app(scope, receive, send)


async def _token(headers: Headers, receive: Receive) -> tuple[Receive, str | None]:
    """The CSRF token from the header, or from a url-encoded form body (which is then replayed)."""
    if given := headers.get(csrf.HEADER):
        return receive, given
    if not headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return receive, None
    body = b""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return receive, None
        body += message.get("body", b"")
        if len(body) > csrf.MAX_FORM_BYTES:
            return receive, None
        if not message.get("more_body", False):
            break
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay, csrf.form_token(body)


async def _unauthenticated(scope: Scope, send: Send, path: str) -> None:
    if path.startswith(("/api/", "/sse/")) or Headers(scope=scope).get("hx-request"):
        await _plain(send, 401, "sign in first", {"www-authenticate": 'Cookie realm="shopfloor"'})
        return
    query = scope.get("query_string", b"").decode("latin-1")
    if ("kiosk", "1") in parse_qsl(query):
        # A wall screen whose access was revoked or expired (or that restarted since) has nobody
        # in front of it to sign in: it says so across the hall instead of showing a login form.
        await _respond(send, 401, _disconnected_page(), {"content-type": "text/html; charset=utf-8"})
        return
    target = path + (f"?{query}" if query else "")
    location = "/login" if target == "/" else f"/login?next={quote(target, safe='')}"
    await _respond(send, 303, b"", {"location": location})


@functools.cache
def _disconnected_page() -> bytes:
    return templates.get_template("auth/screen_disconnected.html").render().encode()


async def _plain(send: Send, status: int, message: str, extra: dict[str, str] | None = None) -> None:
    body = json.dumps({"error": message}).encode()
    await _respond(send, status, body, {"content-type": "application/json", **(extra or {})})


async def _respond(send: Send, status: int, body: bytes, headers: dict[str, str]) -> None:
    """A whole response, never cached: the answer depends on who is asking."""
    raw = [(k.encode(), v.encode()) for k, v in {**headers, "cache-control": "no-store"}.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def principal_of(scope: Scope) -> Principal | None:
    user = scope.get("state", {}).get("user")
    return user if isinstance(user, Principal) else None
