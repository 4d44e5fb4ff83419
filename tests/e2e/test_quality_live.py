"""The quality board and the work-order board in a real Chromium against `shopfloor serve`: an
inspection produced to Kafka appears live on both, the list stays bounded, the kiosk does not scroll,
and result pills are readable (contrast >= 4.5:1) and carry their word and an icon."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.e2e.browser import seen_at, summary, watch
from tests.e2e.screens import open_live, serious
from tests.e2e.test_calm_updates import COLOURS, contrast
from tests.support import event, running_server, unique_settings, wo

LINE = "LQ"
ORDERS = ["WO-Q-1", "WO-Q-2"]


def inspection(
    inspection_id: str, work_order: str, result: str, defects: list[tuple[str, int]] = ()
) -> dict[str, Any]:  # type: ignore[assignment]
    data = {
        "inspection_id": inspection_id,
        "work_order_id": work_order,
        "line_id": LINE,
        "result": result,
        "defects": [{"code": c, "count": n} for c, n in defects],
        "inspector": "qa-e2e",
    }
    return event("InspectionRecorded", data, source="e2e/qms", at=datetime.now(UTC))


async def test_inspections_appear_live_on_quality_and_work_order_boards(
    kafka, producer, browser, sqlite_url
) -> None:  # type: ignore[no-untyped-def]
    # One 8-hour shift from an hour ago: the line's row counts this shift's first inspections, and a
    # shift changing between two of them (the default shifts change at 06:00, 14:00 and 22:00) would
    # split them.
    start = (datetime.now(UTC) - timedelta(hours=1)).replace(second=0, microsecond=0)
    shift = f"{start:%H:%M}-{start + timedelta(hours=8):%H:%M}"
    settings = unique_settings(kafka, sqlite_url, push_interval_seconds=0.2, shifts=shift)
    quality_topic = settings.topic_quality
    for n, order in enumerate(ORDERS):
        data = wo(order, "IN_PROGRESS", line=LINE, quantity_planned=10, quantity_done=n)
        await producer.event(
            settings.topic_work_orders,
            order,
            event("WorkOrderStatusChanged", data, sequence=1, at=datetime.now(UTC)),
        )
    errors: list[str] = []
    with running_server(settings) as url:
        board = await open_live(browser, f"{url}/quality", errors)
        orders = await open_live(browser, f"{url}/work-orders?line={LINE}", errors)
        await orders.wait_for_selector(f'[data-work-order="{ORDERS[1]}"]', timeout=30_000)
        assert await board.locator("[data-inspection]").count() == 0
        await watch(board, "data-inspection", "data-result")

        latencies = []
        first = inspection("QI-E2E-1", ORDERS[0], "FAIL", [("SCRATCH", 2), ("DENT", 1)])
        sent_ms = datetime.fromisoformat(first["time"]).timestamp() * 1000
        await producer.event(quality_topic, "QI-E2E-1", first)
        latencies.append(await seen_at(board, "QI-E2E-1", "FAIL") - sent_ms)
        cell = f'[data-work-order="{ORDERS[0]}"] [data-inspection-result]'
        await orders.wait_for_selector(f'{cell}[data-inspection-result="FAIL"]', timeout=10_000)
        assert "fail" in (await orders.locator(cell).inner_text())
        assert await orders.locator(f'[data-work-order="{ORDERS[1]}"] [data-inspection-result]').count() == 0

        again = inspection("QI-E2E-2", ORDERS[0], "PASS")
        sent_ms = datetime.fromisoformat(again["time"]).timestamp() * 1000
        await producer.event(quality_topic, "QI-E2E-2", again)
        latencies.append(await seen_at(board, "QI-E2E-2", "PASS") - sent_ms)
        await orders.wait_for_selector(f'{cell}[data-inspection-result="PASS"]', timeout=10_000)
        other = inspection("QI-E2E-3", ORDERS[1], "REWORK", [("BURR", 4)])
        sent_ms = datetime.fromisoformat(other["time"]).timestamp() * 1000
        await producer.event(quality_topic, "QI-E2E-3", other)
        latencies.append(await seen_at(board, "QI-E2E-3", "REWORK") - sent_ms)
        print(f"\nevent->DOM latency (inspection on /quality, Chromium): {summary(latencies)}")

        # WO-Q-1 first FAILed, WO-Q-2 first needed rework: no order passed first time on LQ.
        line_row = board.locator(f'[data-quality-line="{LINE}"]')
        await board.wait_for_selector(f'[data-quality-line="{LINE}"][data-fpy="0.000"]', timeout=10_000)
        assert "0/2 first time" in await line_row.inner_text()
        assert await board.locator('#top-defects [data-defect="BURR"]').get_attribute("data-count") == "4"
        first_code = board.locator("#top-defects [data-defect]").first
        assert await first_code.get_attribute("data-defect") == "BURR"
        rows = board.locator("#inspections [data-inspection]")
        assert [await rows.nth(i).get_attribute("data-inspection") for i in range(3)] == [
            "QI-E2E-3",
            "QI-E2E-2",
            "QI-E2E-1",
        ]
        pills = await board.locator(".result-pill").evaluate_all(COLOURS)
        assert {p["text"] for p in pills} == {"✗ FAIL", "✓ PASS", "↻ REWORK"}
        for pill in pills:
            background = pill["fill"][:3] if len(pill["fill"]) > 3 and pill["fill"][3] > 0 else pill["bg"]
            assert contrast(pill["fg"], background) >= 4.5, pill

        # Many more than the list shows: the DOM keeps its cap, the page counts the rest, the kiosk fits.
        kiosk = await open_live(browser, f"{url}/quality?kiosk=1", errors)
        for n in range(40):
            await producer.event(quality_topic, f"QI-BULK-{n}", inspection(f"QI-BULK-{n}", ORDERS[1], "PASS"))
        await board.wait_for_selector('[data-inspection="QI-BULK-39"]', timeout=20_000)
        await kiosk.wait_for_selector('[data-inspection="QI-BULK-39"]', timeout=20_000)
        for page in (board, kiosk):
            assert await page.locator("#inspections [data-inspection]").count() == 30
            await page.wait_for_selector("#inspections-more:not([hidden])", timeout=5_000)
            assert await page.locator("#inspections-more").get_attribute("data-count") == "13"
        fits = await kiosk.evaluate(
            "() => { const d = document.documentElement;"
            " return [d.scrollHeight, d.scrollWidth, innerHeight, innerWidth]; }"
        )
        assert fits[0] <= fits[2] and fits[1] <= fits[3], fits
        assert await kiosk.locator("nav").count() == 0
        assert not serious(errors), errors
        assert not errors, errors
        for page in (board, orders, kiosk):
            await page.close()
