"""Bad HTTP input on SQLite and PostgreSQL: a 4xx that names the parameter and what it accepts,
never a 500 and never silently ignored; unknown single entities are 404 in the API; pages for a line
or machine not seen yet say so."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from shopfloor.events.codec import decode, encode_structured
from shopfloor.runtime import Runtime, build
from shopfloor.store.batch import Batch, apply_batch
from shopfloor.store.registry import HANDLERS
from shopfloor.web.app import create_app
from tests.support import event, unique_settings, wo

HTML = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def apply(runtime: Runtime, events: list[dict[str, Any]]) -> None:
    items = [decode(*encode_structured(e)) for e in events]
    apply_batch(runtime.engine, Batch("bad-input-test", list(items), {}, {}), HANDLERS)


@pytest.fixture
async def plant(database_url: str) -> AsyncIterator[Callable[[], Any]]:
    """A store with one line (L1), one work order and one machine that has reported."""
    runtimes: list[Runtime] = []

    def make() -> tuple[Runtime, httpx.AsyncClient]:
        runtime = build(unique_settings("127.0.0.1:1", database_url), consume=False, serve_web=False)
        runtimes.append(runtime)
        apply(
            runtime,
            [
                event("WorkOrderStatusChanged", wo("WO-1", "IN_PROGRESS", line="L1")),
                event(
                    "EquipmentStatusChanged",
                    {"equipment_id": "M-001", "status": "RUNNING", "line_id": "L1"},
                    offset_s=1,
                ),
                event(
                    "SensorReading",
                    {"equipment_id": "M-001", "sensor": "temperature", "value": 40.0, "unit": "C"},
                    offset_s=2,
                ),
            ],
        )
        app = create_app(runtime)
        return runtime, httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")

    yield make
    for runtime in runtimes:
        runtime.engine.dispose()


def problems(response: httpx.Response) -> str:
    body = response.json()
    return " ".join(body.get("problems") or [str(body.get("detail") or body.get("error"))])


@pytest.mark.parametrize(
    ("url", "named", "accepts"),
    [
        ("/dead-letters?state=bogus", "state", "status"),
        ("/api/dead-letters?state=bogus", "state", "status"),
        ("/equipment?window=99y", "window", "range"),
        ("/equipment?range=99y", "range", "10m"),
        ("/api/equipment/M-001/trend?window=bogus", "window", "range"),
        ("/api/downtime?window=bogus", "window", "at"),
        ("/downtime?window=7d", "window", "at"),
        ("/lines?line=L1", "line", "at"),
        ("/quality?line=L1", "line", "at"),
        ("/api/work-orders?status=BOGUS", "status", "IN_PROGRESS"),
        ("/api/work-orders?state=OPEN", "state", "status"),
        ("/inventory?search=x", "search", "q"),
        ("/outbound?kiosk=yes", "kiosk", "1"),
        ("/api/alerts?severity=HIGH", "severity", "state"),
    ],
)
async def test_bad_query_parameters_are_refused_naming_the_parameter(  # type: ignore[no-untyped-def]
    plant, url: str, named: str, accepts: str
) -> None:
    _, client = plant()
    response = await client.get(url)
    assert response.status_code == 400, (url, response.status_code, response.text[:300])
    text = problems(response)
    assert named in text and accepts in text, (url, text)


async def test_a_flood_of_unknown_parameters_gets_a_short_answer(plant) -> None:  # type: ignore[no-untyped-def]
    _, client = plant()
    response = await client.get("/inventory?" + "&".join(f"p{i}=1" for i in range(3000)))
    assert response.status_code == 400 and len(response.content) < 4000, len(response.content)
    assert "p0" in problems(response) and "and 2990 more" in problems(response)


async def test_parameters_the_routes_read_still_work(plant) -> None:  # type: ignore[no-untyped-def]
    _, client = plant()
    for url in (
        "/dead-letters?status=ALL",
        "/equipment?machine=M-001&range=1h",
        "/equipment?kiosk=1",
        "/work-orders?line=L1&kiosk=1",
        "/api/work-orders?status=IN_PROGRESS",
        "/api/equipment/M-001/trend?range=8h",
        "/alarms?notice=Shelved+A-1",
        "/sse/work-orders?since=abc",  # read by hand: still checked (400), never "unknown"
    ):
        response = await client.get(url) if "/sse/" not in url else await client.head(url)
        if "/sse/" in url:
            assert response.status_code == 400
            continue
        assert response.status_code == 200, (url, response.text[:300])


@pytest.mark.parametrize(
    "url",
    [
        "/outbound?q=%00%01",
        "/inventory?q=SKU%00",
        "/work-orders?line=L1%00",
        "/api/work-orders/WO%00/history",
        "/api/equipment/M%00/trend",
        "/api/alerts?equipment=%00",
    ],
)
async def test_nul_characters_are_refused_before_any_store_sees_them(  # type: ignore[no-untyped-def]
    plant, url: str
) -> None:
    _, client = plant()
    response = await client.get(url)
    assert response.status_code == 400, (url, response.status_code, response.text[:300])
    assert "NUL" in problems(response)


@pytest.mark.parametrize(
    "url",
    [
        "/work-orders?line=" + "L" * 5000,
        "/work-orders?" + "x" * 3000 + "=1",
        "/equipment?machine=%E2%98%83%F0%9F%94%A5",
        "/equipment?range=-1",
        "/api/equipment/M-001/trend?range=%00",
        "/api/work-orders?limit=-5",
        "/api/work-orders/%E2%98%83/history",
        "/api/lines/L1/shifts?from=-1",
        "/alarms?from=9999999999999",
        "/inventory?after=%F0%9F%94%A5",
        "/outbound?q=%00%01",
        "/sse/work-orders?since=-1",
        "/handover?line=",
    ],
)
async def test_hostile_values_are_never_5xx(plant, url: str) -> None:  # type: ignore[no-untyped-def]
    _, client = plant()
    for headers in ({}, HTML):
        response = await (client.head if "/sse/" in url else client.get)(url, headers=headers)
        assert response.status_code < 500, (url, response.status_code, response.text[:300])


async def test_an_api_asked_for_an_entity_it_never_saw_is_404(plant) -> None:  # type: ignore[no-untyped-def]
    _, client = plant()
    for url, words in (("/api/work-orders/NOPE/history", "no work order 'NOPE'"),):
        response = await client.get(url)
        assert response.status_code == 404, (url, response.status_code, response.text[:300])
        assert words in response.json()["detail"], url
    known = await client.get("/api/work-orders/WO-1/history")
    assert known.status_code == 200 and [e["status"] for e in known.json()["history"]] == ["IN_PROGRESS"]
    trend = await client.get("/api/equipment/M-001/trend")
    assert trend.status_code == 200 and "temperature" in trend.json()["sensors"]


async def test_pages_for_a_line_or_machine_not_seen_yet_say_so(plant) -> None:  # type: ignore[no-untyped-def]
    _, client = plant()
    board = await client.get("/work-orders?line=NEW")
    assert board.status_code == 200
    assert "No work order has been seen for line NEW yet" in board.text
    assert 'data-line-unseen="NEW"' in board.text and "not seen yet" in board.text
    header = await client.get("/lines/header?line=NEW")
    assert header.status_code == 200
    assert "Nothing has been seen for line NEW yet" in header.text
    assert "data-line-summary" not in header.text  # no zeroed band that reads as a stopped line
    machine = await client.get("/equipment?machine=NOPE")
    assert machine.status_code == 200
    assert "No machine NOPE had reported when this page opened" in machine.text
    # a screen set up before its machine's first event fills in live: the panel is there, its
    # trend empty, not refused
    assert 'data-trend-url="/api/equipment/NOPE/trend"' in machine.text
    empty = await client.get("/api/equipment/NOPE/trend")
    assert empty.status_code == 200 and empty.json()["sensors"] == {}
    # a line and a machine that have reported read as before
    seen = await client.get("/work-orders?line=L1")
    assert "not seen yet" not in seen.text and "has been seen" not in seen.text
    assert 'data-line-summary="L1"' in (await client.get("/lines/header?line=L1")).text
    tile = await client.get("/equipment?machine=M-001")
    assert 'data-trend-machine="M-001"' in tile.text and "had reported" not in tile.text


@pytest.mark.parametrize(
    ("url", "named", "back"),
    [
        ("/outbound?q=" + "y" * 101, "query.q", "/outbound"),
        ("/inventory?q=" + "y" * 101, "query.q", "/inventory"),
        ("/work-orders?line=" + "L" * 201, "query.line", "/work-orders"),
        ("/equipment?machine=" + "M" * 201, "query.machine", "/equipment"),
        ("/work-orders?line=" + "L" * 201 + "&kiosk=1", "query.line", "/work-orders?kiosk=1"),
        ("/dead-letters?state=bogus", "query.state", "/dead-letters"),
        ("/handover?line=" + "L" * 201, "query.line", "/handover"),
        ("/no-such-page", "Not Found", "/"),
    ],
)
async def test_browsers_get_a_readable_error_page_with_a_link_that_works(  # type: ignore[no-untyped-def]
    plant, url: str, named: str, back: str
) -> None:
    _, client = plant()
    page = await client.get(url, headers=HTML)
    assert 400 <= page.status_code < 500 and page.headers["content-type"].startswith("text/html"), (
        url,
        page.status_code,
        page.text[:300],
    )
    assert named in page.text and "<h1>" in page.text
    assert f'href="{back}" data-error-back' in page.text.replace("&amp;", "&")
    followed = await client.get(back, headers=HTML)
    assert followed.status_code == 200, (back, followed.status_code)
    machine = await client.get(url)  # not a browser: the JSON as before
    assert machine.status_code == page.status_code and named in machine.text
    assert machine.headers["content-type"].startswith("application/json")


async def test_api_and_stream_errors_stay_json_even_for_a_browser(plant) -> None:  # type: ignore[no-untyped-def]
    _, client = plant()
    for url in ("/api/work-orders?status=BOGUS", "/api/work-orders/NOPE/history", "/api/nothing-here"):
        response = await client.get(url, headers=HTML)
        assert 400 <= response.status_code < 500
        assert response.headers["content-type"].startswith("application/json"), url


async def test_a_refused_past_view_is_a_page_for_browsers_and_json_for_programs(plant) -> None:  # type: ignore[no-untyped-def]
    _, client = plant()
    for headers, kind in (({}, "application/json"), (HTML, "text/html")):
        response = await client.get("/work-orders", params={"at": "2200-01-01T00:00:00Z"}, headers=headers)
        assert response.status_code == 400 and "has not happened yet" in response.text
        assert response.headers["content-type"].startswith(kind), headers


async def test_handover_without_a_line_lists_the_lines_to_choose_from(plant) -> None:  # type: ignore[no-untyped-def]
    _, client = plant()
    page = await client.get("/handover", headers=HTML)
    assert page.status_code == 200, page.text[:300]
    assert 'href="/handover?line=L1" data-handover-line="L1"' in page.text
