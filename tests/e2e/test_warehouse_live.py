"""Warehouse pages in a real Chromium against `shopfloor serve`: Kafka events change what is on screen."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.e2e.browser import seen_at, summary, watch
from tests.support import event, running_server, unique_settings

ORDERS = [f"SO-E2E-{i:02d}" for i in range(8)]
STEPS = [
    ("PaymentProcessed", "PAID"),
    ("PickCompleted", "PICKED"),
    ("ShipmentDispatched", "DISPATCHED"),
    ("DeliveryCompleted", "DELIVERED"),
]


def order_event(kind: str, order_id: str, **data: Any) -> dict[str, Any]:
    return event(
        kind,
        {"order_id": order_id, **data},
        source="e2e/shop",
        at=datetime.now(UTC),
        correlationid=f"corr-{order_id}",
    )


def adjustment(location: str, delta: int) -> dict[str, Any]:
    data = {
        "sku": "SKU-E2E",
        "location": location,
        "delta": delta,
        "reason": "PICK" if delta < 0 else "RECEIPT",
    }
    return event("InventoryAdjusted", data, source="e2e/wms", at=datetime.now(UTC))


async def open_page(browser: Any, url: str, errors: list[str]) -> Any:
    page = await browser.new_page(viewport={"width": 1920, "height": 1080})
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    await page.goto(url)
    await page.wait_for_selector('#connection[data-state="live"]', timeout=15_000)
    return page


async def test_outbound_and_inventory_pages_follow_kafka_live(kafka, producer, browser, sqlite_url) -> None:  # type: ignore[no-untyped-def]
    settings = unique_settings(kafka, sqlite_url, push_interval_seconds=0.2)
    outbound, inventory = settings.topic_outbound, settings.topic_inventory
    for order_id in ORDERS:
        await producer.event(
            outbound,
            order_id,
            order_event("OrderCreated", order_id, customer="E2E Co", due_at="2099-01-01T00:00:00Z"),
        )
    for n in range(3):
        await producer.event(inventory, "SKU-E2E", adjustment(f"E2E-LOC-{n}", 100))
    errors: list[str] = []
    with running_server(settings) as url:
        board = await open_page(browser, f"{url}/outbound", errors)
        await board.wait_for_selector(f'[data-order="{ORDERS[-1]}"][data-stage="CREATED"]', timeout=30_000)
        filtered = await open_page(browser, f"{url}/outbound?q={ORDERS[0]}", errors)
        await watch(board, "data-order", "data-stage")

        latencies: list[float] = []
        for kind, stage in STEPS:
            for order_id in ORDERS:
                produced = order_event(kind, order_id)
                sent_ms = datetime.fromisoformat(produced["time"]).timestamp() * 1000
                await producer.event(outbound, order_id, produced)
                latencies.append(await seen_at(board, order_id, stage) - sent_ms)
                await asyncio.sleep(0.1)
        print(f"\nevent->DOM latency (outbound stage change, Chromium): {summary(latencies)}")
        assert await board.locator(f'[data-order="{ORDERS[3]}"]').get_attribute("data-stage") == "DELIVERED"
        assert await board.locator("#lane-DELIVERED [data-order]").count() == len(ORDERS)
        assert await filtered.locator("[data-order]").count() == 1
        assert (
            await filtered.locator(f'[data-order="{ORDERS[0]}"]').get_attribute("data-stage") == "DELIVERED"
        )

        await board.locator(f'[data-order="{ORDERS[2]}"] button.order-id').click()
        timeline = board.locator(f'#timeline [data-timeline-order="{ORDERS[2]}"]')
        await timeline.wait_for(timeout=10_000)
        assert f"corr-{ORDERS[2]}" in await timeline.inner_text()
        assert await timeline.locator("[data-span-stage]").count() == 5

        stock = await open_page(browser, f"{url}/inventory?q=E2E", errors)
        cell = '[data-sku="SKU-E2E"][data-location="E2E-LOC-1"]'
        await stock.wait_for_selector(f'{cell}[data-on-hand="100"]', timeout=30_000)
        await watch(stock, "data-location", "data-on-hand")
        stock_latencies = []
        for n, delta in enumerate([-7, -30, 12, -75]):
            produced = adjustment("E2E-LOC-1", delta)
            sent_ms = datetime.fromisoformat(produced["time"]).timestamp() * 1000
            await producer.event(inventory, "SKU-E2E", produced)
            expected = 100 + sum([-7, -30, 12, -75][: n + 1])
            stock_latencies.append(await seen_at(stock, "E2E-LOC-1", str(expected)) - sent_ms)
        print(f"event->DOM latency (inventory on hand, Chromium): {summary(stock_latencies)}")
        assert await stock.locator(cell).get_attribute("data-on-hand") == "0"
        assert await stock.locator(cell).get_attribute("data-low") == "0"
        await producer.event(inventory, "SKU-E2E", adjustment("E2E-LOC-0", -100))
        await producer.event(inventory, "SKU-E2E", adjustment("E2E-LOC-2", -95))
        # the SKU falls below its reorder point: rows of it that did not change are flagged too
        await stock.wait_for_selector(f'{cell}[data-low="1"]', timeout=10_000)
        assert await stock.locator(f"{cell} [data-sku-total]").inner_text() == "5"
        assert await stock.locator('#low-rows [data-low-sku="SKU-E2E"]').count() == 1
        assert not [e for e in errors if "Content Security Policy" in e or "Uncaught" in e], errors
        for page in (board, filtered, stock):
            await page.close()


async def test_outbound_countdown_and_late_count_move_without_events(
    kafka, producer, browser, sqlite_url
) -> None:  # type: ignore[no-untyped-def]
    settings = unique_settings(kafka, sqlite_url, push_interval_seconds=0.2)

    def due_in(delta: timedelta) -> str:
        return (datetime.now(UTC) + delta).isoformat().replace("+00:00", "Z")

    later = order_event("OrderCreated", "SO-LATER", due_at=due_in(timedelta(hours=2, seconds=20)))
    await producer.event(settings.topic_outbound, "SO-LATER", later)
    errors: list[str] = []
    with running_server(settings) as url:
        page = await open_page(browser, f"{url}/outbound", errors)
        await page.wait_for_selector('[data-order="SO-LATER"]', timeout=30_000)
        assert (
            await page.locator('[data-order="SO-LATER"] [data-countdown-ms]').inner_text() == "in 2 h 0 min"
        )
        soon = order_event("OrderCreated", "SO-SOON", due_at=due_in(timedelta(seconds=10)))
        await producer.event(settings.topic_outbound, "SO-SOON", soon)
        await page.wait_for_selector('[data-order="SO-SOON"]', timeout=8_000)
        countdown = page.locator('[data-order="SO-SOON"] [data-countdown-ms]')
        late_flag = page.locator("#ob-pipeline .flag.late")
        assert await late_flag.get_attribute("data-count") == "0"
        assert (await countdown.inner_text()).startswith("in ")
        # No event arrives after this: the count and the words change on the page's own clock.
        await page.wait_for_selector('#ob-pipeline .flag.late[data-count="1"]', timeout=20_000)
        assert await late_flag.locator(".n").inner_text() == "1"
        assert (await countdown.inner_text()).endswith(" late")
        assert await page.locator('[data-order="SO-SOON"]').get_attribute("data-late") == "1"
        assert not errors, errors
        await page.close()
