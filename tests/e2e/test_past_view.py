"""A past view in Chromium, on `shopfloor demo` (the embedded log): the banner with its time, no
live connection (no stream opened, no connection indicator), no actions, the same rows as the
API's answer for that moment, and a clean console."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx

from tests.e2e.screens import open_live, serious
from tests.support import event, running_server, unique_settings, wait_until


def _past_orders(base: str, moment: dict[str, str]) -> bool:
    """A moment a second ago whose past already holds a few work orders (the demo is starting up)."""
    moment["at"] = (datetime.now(UTC) - timedelta(seconds=1)).isoformat(timespec="seconds")
    answer = httpx.get(f"{base}/api/work-orders", params={"at": moment["at"], "limit": 5000}, timeout=30)
    return answer.status_code == 200 and len(answer.json()["items"]) >= 3


async def test_a_past_view_is_marked_read_only_and_not_live(browser: Any, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    settings = unique_settings(None, url)
    with running_server(settings, "--database-url", url, command="demo") as base:
        moment: dict[str, str] = {}
        await wait_until(lambda: _past_orders(base, moment), 120, "the demo's first work orders, past")
        at = moment["at"]
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            expected = await client.get("/api/work-orders", params={"at": at, "limit": 5000})
        assert expected.status_code == 200, expected.text
        expected_rows = {(i["work_order_id"], i["status"]) for i in expected.json()["items"]}

        context = await browser.new_context(base_url=base)
        page = await context.new_page()
        problems: list[str] = []
        streams: list[str] = []
        polled: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("request", lambda r: streams.append(r.url) if "/sse/" in r.url else None)
        page.on("request", lambda r: polled.append(r.url) if "/lines/header" in r.url else None)

        line = sorted({i["line_id"] for i in expected.json()["items"]})[0]
        await page.goto(f"/work-orders?at={at.replace('+', '%2B')}")
        await page.wait_for_load_state("networkidle")
        banner = page.locator("[data-past-banner]")
        assert await banner.is_visible()
        assert "Past view at" in await banner.inner_text()
        assert await page.locator("#connection").count() == 0
        assert await page.evaluate("document.body.dataset.connection") is None
        assert await page.evaluate("document.body.hasAttribute('data-past')")
        shown = await page.eval_on_selector_all(
            "[data-work-order]", "els => els.map(e => [e.dataset.workOrder, e.dataset.status])"
        )
        # The page caps finished rows per lane; every row it shows is as the API says for that moment.
        assert shown and {tuple(row) for row in shown} <= expected_rows

        # The timeline: a slider over the retained range around the moment; play moves the moment on
        # and reloads the board for each one, never opening a stream.
        await page.locator("#timeline").wait_for(state="visible")
        low, value, high = await page.eval_on_selector(
            "#timeline-slider", "s => [Number(s.min), Number(s.value), Number(s.max)]"
        )
        shown_ms = await page.evaluate("Number(document.body.dataset.past)")
        assert low <= value == shown_ms <= high
        boards: list[str] = []
        page.on("request", lambda r: boards.append(r.url) if "/work-orders/board" in r.url else None)
        await page.select_option("#timeline-speed", "60")
        await page.click("#timeline-play")
        await page.wait_for_function(
            "(shown) => Number(document.body.dataset.past) > shown", arg=shown_ms, timeout=15_000
        )
        await page.click("#timeline-play")
        await page.wait_for_load_state("networkidle")
        assert boards and all("at=" in u for u in boards), boards
        assert "at=" in page.url

        await page.goto(f"/work-orders?line={line}&at={at.replace('+', '%2B')}")
        await page.wait_for_load_state("networkidle")
        await page.locator("[data-line-summary]").first.wait_for()
        assert polled and all("at=" in u for u in polled), polled  # fragments ask for the same moment

        await page.goto(f"/equipment?at={at.replace('+', '%2B')}")
        await page.wait_for_load_state("networkidle")
        assert await page.locator("[data-action]").count() == 0  # acknowledge / shelve are not offered

        assert not problems, problems
        gone = await page.goto("/work-orders?at=2001-01-01T00:00:00Z")
        assert gone is not None and gone.status == 410  # Chromium logs the status: expected here only
        problems.clear()
        assert "not available" in await page.locator("main").inner_text()
        back = page.locator("text=Back to live")
        await back.click()
        await page.wait_for_load_state("networkidle")
        await wait_until(
            lambda: page.evaluate("document.body.dataset.connection === 'live'"),
            15,
            "the live page connected",
        )
        assert streams == [s for s in streams if "at=" not in s]
        assert len(streams) >= 1  # only the live page opened a stream
        assert not problems, problems
        await context.close()


async def test_a_past_views_countdowns_and_flags_count_from_its_moment(
    kafka, producer, browser, sqlite_url
) -> None:  # type: ignore[no-untyped-def]
    """A past view's "now" is its moment: an order open then and due after it reads "in 5 min", not
    late, though its due time has passed since (the page's countdowns and flags once counted from
    the wall clock); a machine's trend is the moment's too (it was the live one, streaming); and the
    timeline reads in plant time, as the banner does."""
    settings = unique_settings(kafka, sqlite_url, timezone="Asia/Kolkata")  # UTC+05:30 on the pages
    now = datetime.now(UTC).replace(microsecond=0)
    created, due = now - timedelta(minutes=10), now - timedelta(minutes=2)
    moment = created + timedelta(minutes=3)  # open, due in 5 min
    data = {"order_id": "SO-PAST", "customer": "Borealis", "due_at": due.isoformat()}
    await producer.event(settings.topic_outbound, "SO-PAST", event("OrderCreated", data, at=created))
    status = {"equipment_id": "M-PAST", "status": "RUNNING", "line_id": "L1"}
    await producer.event(
        settings.topic_equipment, "M-PAST", event("EquipmentStatusChanged", status, at=created)
    )
    for second in range(0, 120, 5):
        reading = {"equipment_id": "M-PAST", "sensor": "temperature", "value": 60.0}
        at = created + timedelta(seconds=second)
        await producer.event(settings.topic_sensors, "M-PAST", event("SensorReading", reading, at=at))
    errors: list[str] = []
    with running_server(settings) as url:
        live = await open_live(browser, f"{url}/outbound", errors)
        await live.wait_for_selector('[data-order="SO-PAST"][data-late="1"]', timeout=20_000)  # late now
        await live.close()
        page = await browser.new_page(viewport={"width": 1920, "height": 1080})
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(f"{url}/outbound?at={quote(moment.isoformat())}")  # its clocks ran at load
        card = page.locator('[data-order="SO-PAST"]')
        await card.wait_for(timeout=20_000)
        assert await card.get_attribute("data-late") == "0"
        assert (await card.locator("[data-countdown-ms]").inner_text()).strip() == "in 5 min"
        # The timeline's ends read in plant time, as the banner does (they were UTC).
        await page.wait_for_selector("#timeline:not([hidden]) [data-timeline-to]:not(:empty)", timeout=20_000)
        kolkata = ZoneInfo("Asia/Kolkata")
        for end, bound in (("[data-timeline-from]", "min"), ("[data-timeline-to]", "max")):
            ms = int(await page.eval_on_selector("#timeline-slider", f"s => s.{bound}"))
            expected = datetime.fromtimestamp(ms / 1000, kolkata).strftime("%Y-%m-%d %H:%M:%S")
            assert (await page.locator(end).inner_text()).startswith(expected), (end, expected)
        banner = (await page.locator("[data-past-label]").inner_text()).strip()
        assert banner.startswith(moment.astimezone(kolkata).strftime("%Y-%m-%d %H:%M:%S")), banner
        await page.close()

        # A machine's trend in a past view is the moment's: asked for with it, and never streamed live.
        asked: list[str] = []
        page = await browser.new_page(viewport={"width": 1920, "height": 1080})
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("request", lambda r: asked.append(r.url) if "trend" in r.url else None)
        await page.goto(f"{url}/equipment?machine=M-PAST&at={quote(moment.isoformat())}")
        await page.wait_for_selector('#trend-panel[data-ready="true"]', timeout=20_000)
        trends = [u for u in asked if "/api/equipment/M-PAST/trend" in u]
        assert trends and all("at=" in u for u in trends), asked
        assert not [u for u in asked if "/sse/equipment-trend" in u], asked
        await page.close()
    assert not serious(errors), errors
