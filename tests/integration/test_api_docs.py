"""The documentation the app serves itself: /docs (Swagger UI from local assets), the AsyncAPI
document and page for the configured topics, and HEAD answered wherever GET is."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from shopfloor.runtime import build
from shopfloor.web.app import create_app
from tests.support import unique_settings


@pytest.fixture
async def client(sqlite_url: str) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    settings = unique_settings(None, sqlite_url)
    runtime = build(settings, consume=False, serve_web=True)
    transport = httpx.ASGITransport(app=create_app(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as http:
        yield settings, http


async def test_swagger_ui_comes_from_our_own_assets(client: tuple[Any, httpx.AsyncClient]) -> None:
    _, http = client
    page = await http.get("/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert "/vendor/swagger-ui-bundle.js" in sources and "/vendor/swagger-ui.css" in sources
    assert all(s.startswith("/") and not s.startswith("//") for s in sources), sources
    assert "<script>" not in page.text, "an inline script would be refused by the CSP"
    script = await http.get("/vendor/swagger-ui-bundle.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert "SwaggerUIBundle" in script.text
    css = await http.get("/vendor/swagger-ui.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    spec = (await http.get("/openapi.json")).json()
    assert "/api/work-orders" in spec["paths"]


async def test_asyncapi_describes_the_configured_topics(client: tuple[Any, httpx.AsyncClient]) -> None:
    settings, http = client
    doc = (await http.get("/asyncapi.json")).json()
    assert doc["asyncapi"] == "3.0.0"
    addresses = {c["address"] for c in doc["channels"].values()}
    assert addresses == set(settings.topics)
    assert settings.topic_work_orders.startswith("t") and settings.topic_work_orders in addresses
    page = await http.get("/asyncapi")
    assert page.status_code == 200
    for topic in settings.topics:
        assert f'data-channel="{topic}"' in page.text
    for name in ("WorkOrderStatusChanged", "InventoryAdjusted", "OrderCreated", "SensorReading"):
        assert f'data-message="{name}"' in page.text
    order = page.text.split('data-message="WorkOrderStatusChanged"', 1)[1].split("</table>", 1)[0]
    assert 'data-field="work_order_id"' in order and 'data-field="quantity_done"' in order
    assert "PLANNED" in order and "required" in order


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/work-orders",
        "/inventory",
        "/equipment",
        "/docs",
        "/asyncapi",
        "/asyncapi.json",
        "/healthz",
        "/api/work-orders",
        "/static/shopfloor.css",
        "/vendor/htmx.min.js",
        "/vendor/plotly.css",
        "/nowhere",
    ],
)
async def test_head_answers_like_get_without_a_body(client: tuple[Any, httpx.AsyncClient], path: str) -> None:
    _, http = client
    got = await http.get(path)
    head = await http.head(path)
    assert head.status_code == got.status_code
    assert head.headers["content-type"] == got.headers["content-type"]
    assert head.content == b""
    assert head.headers["content-security-policy"] == got.headers["content-security-policy"]


async def test_head_on_a_live_stream_ends_after_the_headers(client: tuple[Any, httpx.AsyncClient]) -> None:
    _, http = client
    head = await asyncio.wait_for(http.head("/sse/work-orders"), 20)
    assert head.status_code == 200
    assert head.headers["content-type"].startswith("text/event-stream")
    assert head.content == b""
