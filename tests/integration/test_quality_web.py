"""/quality and /api/quality in process (ASGI): the hand-worked day, live patches, the work-order
board's inspection cell, and bad query input answered 400."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from shopfloor.events.codec import decode, encode_structured
from shopfloor.runtime import Runtime, build
from shopfloor.store.batch import Batch, apply_batch
from shopfloor.store.registry import HANDLERS
from shopfloor.web import quality as quality_web
from shopfloor.web.app import create_app
from shopfloor.web.board import live_reader
from tests.quality_events import SHIFT_DAY, inspection
from tests.support import event, unique_settings, wo


def apply(runtime: Runtime, events: list[dict[str, Any]]) -> dict[str, frozenset[str]]:
    """Applies one batch; returns the keys it marked changed, per view."""
    items = [decode(*encode_structured(e)) for e in events]
    notice = apply_batch(runtime.engine, Batch("web-test", list(items), {}, {}), HANDLERS).notice
    assert notice is not None
    return notice.keys


@pytest.fixture
async def app(sqlite_url: str) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    settings = unique_settings(
        "127.0.0.1:1", sqlite_url, timezone="UTC", shifts="06:00-14:00,14:00-22:00,22:00-06:00"
    )
    runtime = build(settings, consume=False, serve_web=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(runtime)), base_url="http://t"
    ) as client:
        yield runtime, client
    runtime.engine.dispose()


def _attrs(html: str, name: str) -> dict[str, str]:
    """`data-inspection` id -> `data-result`, as the contract's markup carries them."""
    return dict(re.findall(rf'data-{name}="([^"]+)" data-result="([^"]+)"', html))


async def test_api_and_page_show_the_hand_worked_day(app) -> None:  # type: ignore[no-untyped-def]
    runtime, client = app
    apply(runtime, SHIFT_DAY)
    body = (await client.get("/api/quality")).json()
    assert body["lines"]["L1"]["results"] == {"PASS": 4, "FAIL": 1, "REWORK": 1}
    assert body["lines"]["L2"]["results"] == {"PASS": 2, "FAIL": 2, "REWORK": 0}
    l1 = [
        (y["shift"], y["inspected"], y["passed_first_time"], y["first_pass_yield"])
        for y in body["lines"]["L1"]["first_pass_yield"]
    ]
    assert l1 == [("2026-11-27 14:00", 1, 1, 1.0), ("2026-11-27 06:00", 3, 1, 0.3333)]
    l2 = body["lines"]["L2"]["first_pass_yield"]
    assert [(y["inspected"], y["passed_first_time"]) for y in l2] == [(2, 1)]
    assert body["top_defects"][:3] == [
        {"code": "BURR", "count": 4},
        {"code": "DENT", "count": 4},
        {"code": "SCRATCH", "count": 3},
    ]
    assert [i["inspection_id"] for i in body["inspections"][:2]] == ["I6", "I5"]
    i2 = next(i for i in body["inspections"] if i["inspection_id"] == "I2")
    assert i2["defects"] == [{"code": "SCRATCH", "count": 2}, {"code": "DENT", "count": 1}]
    assert i2["at"] == "2026-11-27T09:00:00.000Z"
    wo6 = next(o for o in body["work_orders"] if o["work_order_id"] == "WO-6")
    assert (wo6["first_result"], wo6["latest_result"], wo6["inspections"]) == ("FAIL", "PASS", 2)
    only = (await client.get("/api/quality", params={"line": "L2"})).json()
    assert set(only["lines"]) == {"L2"} and {i["line_id"] for i in only["inspections"]} == {"L2"}
    assert only["top_defects"] == [{"code": "DENT", "count": 3}, {"code": "BURR", "count": 1}]

    page = await client.get("/quality")
    assert page.status_code == 200
    shown = _attrs(page.text, "inspection")
    assert shown == {
        f"I{n}": e["data"]["result"] for n, e in zip([1, 2, 3, 4, 5, 6, 7, 8, 10, 9], SHIFT_DAY, strict=True)
    }
    assert 'data-quality-line="L1"' in page.text and 'data-fpy="1.000"' in page.text  # L1's latest shift
    assert "33 %" in page.text and "1/3 first time" not in page.text  # earlier shift, listed in its column
    l2 = page.text.split('id="qline-L2"', 1)[1].split("</tr>", 1)[0]
    assert "none earlier in the last three shifts" in l2  # an empty column says so, it is not blank
    assert "every inspection on the line, all shifts" in page.text  # what the three counts cover
    assert 'sse-connect="/sse/quality?since=' in page.text


async def test_patch_renders_the_new_inspection_its_line_and_the_defects(app) -> None:  # type: ignore[no-untyped-def]
    runtime, _ = app
    apply(runtime, SHIFT_DAY)
    changes = apply(
        runtime, [inspection("I11", "REWORK", 4, work_order="WO-7", line="L3", defects=[("BURR", 5)])]
    )
    keys = frozenset(changes["quality"])
    assert keys == {"i:I11", "l:L3"}
    board = quality_web.live_board(runtime.settings)
    html = await board.patch_renderer(live_reader(runtime.engine))(keys)
    assert _attrs(html, "inspection") == {"I11": "REWORK"}
    assert 'data-into="inspections"' in html and 'data-quality-line="L3"' in html
    assert 'data-defect="BURR" data-count="9"' in html
    assert 'data-total="11"' in html


async def test_work_order_board_shows_the_latest_inspection(app) -> None:  # type: ignore[no-untyped-def]
    runtime, client = app
    apply(
        runtime,
        [
            event("WorkOrderStatusChanged", wo("WO-2", "IN_PROGRESS"), sequence=1),
            event("WorkOrderStatusChanged", wo("WO-9", "IN_PROGRESS"), sequence=1),
        ],
    )
    changes = apply(runtime, SHIFT_DAY[1:2])  # WO-2 FAILs
    assert "WO-2" in changes["work-orders"]
    page = (await client.get("/work-orders")).text
    row = re.search(r'<tr[^>]* data-work-order="WO-2".*?</tr>', page, re.S).group(0)  # type: ignore[union-attr]
    assert 'data-inspection-result="FAIL"' in row and "✗ fail" in row
    other = re.search(r'<tr[^>]* data-work-order="WO-9".*?</tr>', page, re.S).group(0)  # type: ignore[union-attr]
    assert "data-inspection-result" not in other
    apply(runtime, SHIFT_DAY[2:3])  # re-inspected: PASS
    page = (await client.get("/work-orders")).text
    row = re.search(r'<tr[^>]* data-work-order="WO-2".*?</tr>', page, re.S).group(0)  # type: ignore[union-attr]
    assert 'data-inspection-result="PASS"' in row


async def test_empty_board_and_bad_queries(app) -> None:  # type: ignore[no-untyped-def]
    _, client = app
    page = await client.get("/quality?kiosk=1")
    assert page.status_code == 200 and "data-kiosk" in page.text and "No inspections yet" in page.text
    empty = (await client.get("/api/quality")).json()
    assert empty["inspections"] == [] and empty["lines"] == {} and empty["top_defects"] == []
    for params in ({"limit": "0"}, {"limit": "many"}, {"line": "x" * 300}):
        bad = await client.get("/api/quality", params=params)
        assert bad.status_code == 400, params
        assert bad.json()["error"] == "invalid request"
