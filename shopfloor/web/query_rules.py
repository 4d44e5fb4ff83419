"""Every query parameter a route is given must be one it reads.

A misspelt or borrowed name (`?state=` where the route reads `status`, `?window=` where it reads
`range`) used to be dropped without a word, so the answer looked like the filtered one and was not.
Now it is a 400 naming the parameter and the ones the route does read, in the same shape as any
other invalid query (`{"error": "invalid request", "problems": [...]}`).

What a route reads is what it declares (its own and its dependencies' query parameters), plus the
few every route may carry: `at` (a past view) and `kiosk` (a wall screen, `1` or `0`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.routing import Match

SHARED = {
    "at": "a past moment, for a past view",
    "kiosk": "1 for a wall screen",
}
KIOSK_VALUES = ("", "0", "1")
NAME_SHOWN = 60  # a hostile name is quoted this far, not echoed whole
NAMES_LISTED = 10  # unknown names named one by one; the rest counted

CACHE_ATTRIBUTE = "_shopfloor_query_names"  # on the route itself: routes are not hashable


def query_fields(dependant: Dependant) -> Iterator[Any]:
    yield from dependant.query_params
    for sub in dependant.dependencies:
        yield from query_fields(sub)


def accepted(route: APIRoute) -> dict[str, str]:
    """Name → short description of each query parameter `route` reads (cached per route)."""
    found: dict[str, str] | None = getattr(route, CACHE_ATTRIBUTE, None)
    if found is None:
        found = {}
        for field in query_fields(route.dependant):
            found[field.alias] = getattr(field.field_info, "description", None) or ""
        for name, text in SHARED.items():
            found.setdefault(name, text)
        setattr(route, CACHE_ATTRIBUTE, found)
    return found


def describe(names: dict[str, str]) -> str:
    return ", ".join(f"{name} ({text})" if text else name for name, text in names.items())


def _problem(name: str, message: str, where: str = "query") -> dict[str, Any]:
    return {"loc": (where, name[:NAME_SHOWN]), "msg": message, "type": "value_error", "input": None}


async def known_query_only(request: Request) -> None:
    """An app-wide dependency: refuses query parameters the matched route does not read, and NUL
    characters in any query or path parameter."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    names = accepted(route)
    unknown = _unknown(names, request.query_params.keys())
    problems = [_problem(name, f"not a parameter of {route.path_format}") for name in unknown[:NAMES_LISTED]]
    if len(unknown) > NAMES_LISTED:
        problems.append(_problem("…", f"and {len(unknown) - NAMES_LISTED} more that are not"))
    if unknown:  # what it does read, once: a long hostile query gets a short answer
        problems.append(_problem(unknown[0], f"{route.path_format} reads {describe(names)}"))
    for where, values in (
        ("query", request.query_params.multi_items()),
        ("path", request.path_params.items()),
    ):
        for name, value in values:
            if isinstance(value, str) and "\x00" in value:  # no store keeps it (PostgreSQL text refuses it)
                problems.append(_problem(name, "must not contain a NUL character (0x00)", where))
    if request.query_params.get("kiosk", "") not in KIOSK_VALUES:
        problems.append(_problem("kiosk", "must be 1 (a wall screen) or 0"))
    if problems:
        raise RequestValidationError(problems)


def page_refusal(app: Any, page: str) -> str | None:
    """Why `page` (a path with a query) would be refused by this app's rule above, or None: a
    screen is checked when it is set up, not on the wall the first time it loads."""
    path, _, query = page.partition("?")
    scope = {"type": "http", "path": path, "method": "GET", "root_path": ""}
    for route in _routes(app.routes):
        if route.matches(scope)[0] is Match.FULL:
            names = accepted(route)
            unknown = _unknown(names, (name for name, _ in parse_qsl(query, keep_blank_values=True)))
            if unknown:
                return f"{path} does not read {', '.join(unknown[:NAMES_LISTED])}; it reads {describe(names)}"
            return None
    return f"{path} is not a page of this site"


def _unknown(names: dict[str, str], given: Iterable[str]) -> list[str]:
    """The given names a route does not read, each once, in the order given."""
    return [name for name in dict.fromkeys(given) if name not in names]


def _routes(routes: Any) -> Iterator[APIRoute]:
    """Every API route, included routers opened (FastAPI wraps each `include_router` in one)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from _routes(route.original_router.routes)
