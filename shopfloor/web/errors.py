"""Refusals a person can read: a browser asking for a page gets a small HTML page with the same
message and status and a link that leads somewhere that works; API clients, streams and anything
that does not ask for HTML keep the JSON (`{"error", "problems"}` or `{"detail"}`)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.utils import is_body_allowed_for_status_code
from starlette.exceptions import HTTPException
from starlette.responses import Response

from shopfloor.pages import templates
from shopfloor.web.query_rules import query_fields

MACHINE_PREFIXES = ("/api/", "/sse/", "/asyncapi.json", "/openapi.json", "/metrics", "/healthz", "/readyz")
TITLES = {400: "Invalid request", 401: "Sign-in needed", 403: "Not allowed", 404: "Not found", 410: "Gone"}


def wants_html(request: Request) -> bool:
    """A browser loading a page: it asks for text/html, and the path is not an API or a stream."""
    if request.url.path.startswith(MACHINE_PREFIXES):
        return False
    return "text/html" in request.headers.get("accept", "").lower()


def back_url(request: Request) -> str:
    """The same page without the query string when that page needs none (its defaults); otherwise
    the overview. A wall screen stays a wall screen."""
    route = request.scope.get("route")
    target = "/"
    if (
        request.url.query
        and isinstance(route, APIRoute)
        and "GET" in route.methods
        and "{" not in route.path_format
        and not any(field.field_info.is_required() for field in query_fields(route.dependant))
    ):
        target = request.url.path
    return target + ("?kiosk=1" if request.query_params.get("kiosk") == "1" else "")


def error_page(
    request: Request, status: int, messages: list[str], headers: dict[str, str] | None = None
) -> Response:
    back = back_url(request)
    context: dict[str, Any] = {
        "view": "error",
        "title": TITLES.get(status, "Request refused"),
        "status": status,
        "messages": messages,
        "back_url": back,
        "back_label": "Back to the overview" if back.startswith("/?") or back == "/" else f"Back to {back}",
    }
    return templates.TemplateResponse(request, "error.html", context, status_code=status, headers=headers)


def problems_of(exc: RequestValidationError) -> list[str]:
    return [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]


def install(app: FastAPI) -> None:
    """Bad input is a 400 with every problem named; HTTP errors keep their status and headers."""

    async def bad_request(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        problems = problems_of(exc)
        if wants_html(request):
            return error_page(request, 400, problems)
        return JSONResponse({"error": "invalid request", "problems": problems}, status_code=400)

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if wants_html(request) and is_body_allowed_for_status_code(exc.status_code):
            return error_page(request, exc.status_code, [str(exc.detail)], exc.headers)
        return await http_exception_handler(request, exc)

    app.add_exception_handler(RequestValidationError, bad_request)
    app.add_exception_handler(HTTPException, refused)
