"""Plugs sign-in into the app: middleware, routes, and what every template needs to know."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request

from shopfloor.auth import admin, routes, sessions
from shopfloor.auth.middleware import AuthMiddleware, principal_of
from shopfloor.auth.roles import current_user
from shopfloor.pages import templates
from shopfloor.runtime import Runtime


def template_context(request: Request) -> dict[str, Any]:
    """`signed_in` (None with sign-in off), `csrf_token` for forms and hx-headers, `can(role)`."""
    user = current_user(request)
    auth_on = bool(request.app.state.runtime.auth)
    return {
        "signed_in": user if auth_on else None,
        "csrf_token": (user.csrf_token or "") if (auth_on and user) else "",
        "can": lambda role: user is not None and role in user.roles,
    }


def install(app: FastAPI, runtime: Runtime) -> None:
    """Call before the security-headers middleware is added, so refusals carry those headers too."""
    app.add_middleware(AuthMiddleware, runtime=runtime)
    app.include_router(routes.router(runtime))
    app.include_router(admin.router(runtime))
    if template_context not in templates.context_processors:
        templates.context_processors.append(template_context)


def session_watch(runtime: Runtime, request: Request) -> Callable[[], Awaitable[bool]] | None:
    """For SSE: a check that says whether the request's session is still good (None with sign-in off)."""
    user = principal_of(request.scope)
    if not runtime.auth or user is None or user.session_id is None:
        return None
    timeouts = sessions.Timeouts.from_settings(runtime.settings, runtime.clock_ms)
    session_id = user.session_id

    async def alive() -> bool:
        try:
            return await asyncio.to_thread(sessions.still_valid, runtime.engine, timeouts, session_id)
        except Exception:  # store briefly unreachable: keep streaming, ask again next time
            return True

    return alive
