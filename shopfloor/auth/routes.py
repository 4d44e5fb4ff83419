"""/login, /logout and /kiosk/<token>: where sessions begin and end."""

from __future__ import annotations

import asyncio
import secrets
from typing import Annotated
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shopfloor.auth import kiosks, sessions, users
from shopfloor.auth.middleware import LOGIN_COOKIE, principal_of
from shopfloor.auth.passwords import verify_password
from shopfloor.auth.ratelimit import LoginLimiter
from shopfloor.pages import templates
from shopfloor.runtime import Runtime


def safe_next(target: str | None) -> str:
    """Only a path on this site: never `//host` or a scheme, so sign-in cannot redirect elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target[:2000]


def set_session_cookie(request: Request, response: Response, token: str, max_age: int | None) -> None:
    response.set_cookie(
        sessions.COOKIE,
        token,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def kiosk_target(page: str) -> str:
    """The screen's page with `kiosk=1` added to its query."""
    path, _, query = safe_next(page).partition("?")
    pairs = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "kiosk"]
    return f"{path}?{urlencode([*pairs, ('kiosk', '1')])}"


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def router(runtime: Runtime) -> APIRouter:
    api = APIRouter(include_in_schema=False)
    engine = runtime.engine
    timeouts = sessions.Timeouts.from_settings(runtime.settings, runtime.clock_ms)
    settings = runtime.settings
    limiter = LoginLimiter(settings.login_window_seconds)

    def login_page(request: Request, next_url: str, error: str | None = None, status: int = 200) -> Response:
        token = secrets.token_urlsafe(24)
        response = templates.TemplateResponse(
            request,
            "auth/login.html",
            {"view": "login", "login_token": token, "next": next_url, "error": error},
            status_code=status,
        )
        response.set_cookie(
            LOGIN_COOKIE,
            token,
            path="/login",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        response.headers["Cache-Control"] = "no-store"
        return response

    @api.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, next: str | None = None) -> Response:
        return login_page(request, safe_next(next))

    @api.post("/login")
    async def login(
        request: Request,
        username: Annotated[str, Form(max_length=200)],
        password: Annotated[str, Form(max_length=2000)],
        next: Annotated[str, Form(max_length=2000)] = "/",
    ) -> Response:
        client, account = _client(request), username.strip().lower()[:200]
        limits = (
            (f"pair:{account}|{client}", settings.login_max_failures),
            (f"account:{account}", settings.login_max_failures_per_account),
            (f"client:{client}", settings.login_max_failures_per_account),
        )
        wait, stamp = limiter.begin(limits)
        if wait > 0:
            response = login_page(request, safe_next(next), "Too many failed attempts; try again later.", 429)
            response.headers["Retry-After"] = str(int(wait) + 1)
            return response
        user = await asyncio.to_thread(users.get, engine, username)
        ok = await asyncio.to_thread(verify_password, user["password_hash"] if user else None, password)
        if not ok or user is None or user["disabled"]:
            return login_page(request, safe_next(next), "Wrong user name or password.", 401)
        limiter.succeeded(limits, stamp, forget=limits[0][0])
        previous = principal_of(request.scope)
        if previous is not None and previous.session_id:  # signing in again ends the session it replaces
            await asyncio.to_thread(sessions.revoke, engine, previous.session_id)
        token = await asyncio.to_thread(sessions.create, engine, timeouts, user["name"], user["role"])
        response = RedirectResponse(safe_next(next), status_code=303)
        set_session_cookie(request, response, token, None)
        response.delete_cookie(LOGIN_COOKIE, path="/login")
        return response

    @api.post("/logout")
    async def logout(request: Request) -> Response:
        user = principal_of(request.scope)
        if user is not None and user.session_id:
            await asyncio.to_thread(sessions.revoke, engine, user.session_id)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(sessions.COOKIE, path="/")
        return response

    @api.get("/kiosk/{token}")
    async def kiosk(
        request: Request,
        token: str,
        _next: Annotated[
            str | None, Query(alias="next", description="not followed: the screen's page wins")
        ] = None,
    ) -> Response:
        """A screen opens its link once and gets a long read-only session on the link's page."""
        limits = ((f"kiosk:{_client(request)}", settings.login_max_failures),)
        wait, stamp = limiter.begin(limits)
        if wait > 0:
            return Response("too many attempts", status_code=429, media_type="text/plain")
        screen = await asyncio.to_thread(kiosks.claim, engine, token)
        if screen is None:
            return Response(
                "unknown, revoked or already used screen link; ask an admin for a new one",
                status_code=404,
                media_type="text/plain",
            )
        limiter.succeeded(limits, stamp)
        session = await asyncio.to_thread(
            sessions.create, engine, timeouts, f"kiosk:{screen['name']}", "viewer", screen["id"]
        )
        response = RedirectResponse(kiosk_target(screen["page"]), status_code=303)
        set_session_cookie(request, response, session, timeouts.kiosk_ms // 1000)
        return response

    return api
