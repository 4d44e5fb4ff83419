"""Huge integers (and other overlong numbers) in any query parameter answer 4xx, never 500."""

from __future__ import annotations

import re
from typing import Any

import httpx
from fastapi.routing import APIRoute

from shopfloor.runtime import build
from shopfloor.web.app import create_app
from tests.support import unique_settings

HUGE = (str(2**63), str(-(2**63)), "9" * 40)


def _all_routes(routes: list[object]) -> list[object]:
    out = []
    for route in routes:
        inner = getattr(route, "original_router", None)  # an included router (no prefixes here)
        out.extend(_all_routes(inner.routes) if inner is not None else [route])
    return out


def _query_names(dependant: Any) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def _get_routes(app: object) -> list[tuple[str, list[str]]]:
    """Every GET route (pages and APIs, documented or not) and its query parameter names."""
    found = []
    for route in _all_routes(app.routes):  # type: ignore[attr-defined]
        if isinstance(route, APIRoute) and "GET" in route.methods and not route.path.startswith("/sse/"):
            names = sorted(_query_names(route.dependant))
            path = re.sub(r"\{[^}]+\}", "x", route.path)
            found.append((path, names))
    return found


async def test_huge_integers_are_refused_with_4xx(sqlite_url: str) -> None:
    runtime = build(unique_settings(None, sqlite_url), consume=False, serve_web=True)
    app = create_app(runtime)
    routes = _get_routes(app)
    assert any(path == "/api/work-orders" and "offset" in names for path, names in routes), routes
    tried = 0
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        for path, names in routes:
            for name in names:
                for value in HUGE:
                    answer = await client.get(path, params={name: value})
                    tried += 1
                    assert answer.status_code < 500, (path, name, value, answer.text[:300])
        for stream in ("/sse/equipment-trend?machine=M1&since=", "/sse/work-orders?since="):
            answer = await client.get(stream + str(2**63))
            assert answer.status_code == 400, (stream, answer.text[:200])
        offset = await client.get("/api/work-orders", params={"offset": str(2**63)})
        assert offset.status_code == 400 and "offset" in offset.text
        revoke = await client.post("/admin/screens/revoke", data={"screen_id": str(2**63)})
        assert 400 <= revoke.status_code < 500
    assert tried > 50
