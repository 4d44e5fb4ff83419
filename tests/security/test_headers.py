"""Security headers on every answer: a strict CSP (no inline or eval), and htmx configured for it."""

from __future__ import annotations

import httpx

from shopfloor.runtime import build
from shopfloor.web.app import create_app
from tests.support import unique_settings


async def test_strict_headers_everywhere(sqlite_url) -> None:  # type: ignore[no-untyped-def]
    runtime = build(unique_settings(None, sqlite_url), consume=False, serve_web=True)
    transport = httpx.ASGITransport(app=create_app(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        for path in ("/", "/work-orders", "/api/work-orders", "/healthz", "/static/shopfloor.js", "/nope"):
            headers = (await client.get(path)).headers
            csp = headers["content-security-policy"]
            assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, path
            assert (
                "script-src 'self'" in csp and "object-src 'none'" in csp and "frame-ancestors 'none'" in csp
            )
            assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY"
            assert "camera=()" in headers["permissions-policy"]
            assert "strict-transport-security" not in headers  # only under HTTPS
        page = (await client.get("/work-orders")).text
        assert '"allowEval": false' in page and '"allowScriptTags": false' in page
        assert "<script>" not in page and " on" + "click=" not in page
    async with httpx.AsyncClient(transport=transport, base_url="https://t") as client:
        assert "max-age=" in (await client.get("/healthz")).headers["strict-transport-security"]
