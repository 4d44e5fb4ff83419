"""`shopfloor serve` stopped and started again on the same port while Chromium has /work-orders and
/inventory open: both pages show they are offline, reconnect by themselves, and show current data,
including the events produced while the server was down."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.support import event, free_port, running_server, unique_settings, wo

DOWN_SECONDS = 4.0


def adjustment(sku: str, location: str, delta: int) -> dict[str, Any]:
    data = {"sku": sku, "location": location, "delta": delta, "reason": "RECEIPT" if delta > 0 else "PICK"}
    return event("InventoryAdjusted", data, source="fault/wms")


async def test_pages_reconnect_after_web_server_restart(kafka, producer, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = unique_settings(kafka, f"sqlite:///{tmp_path / 'store.db'}", push_interval_seconds=0.2)
    orders, stock = settings.topic_work_orders, settings.topic_inventory
    for n in range(4):
        await producer.event(
            orders, f"WO-RS-{n}", event("WorkOrderStatusChanged", wo(f"WO-RS-{n}", "RELEASED"), sequence=1)
        )
    await producer.event(stock, "SKU-RS", adjustment("SKU-RS", "A1", 100))
    port = free_port()
    errors: list[str] = []
    pages: list[Any] = []
    with running_server(settings, port=port) as url:
        for path, ready in (
            ("/work-orders", '[data-work-order="WO-RS-3"][data-status="RELEASED"]'),
            ("/inventory", '[data-sku="SKU-RS"][data-location="A1"][data-on-hand="100"]'),
        ):
            page = await browser.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(f"{url}{path}")
            await page.wait_for_selector(ready)
            await page.wait_for_selector('#connection[data-state="live"]', timeout=15_000)
            pages.append(page)
    down_at = time.monotonic()
    for page in pages:
        await page.wait_for_selector('#connection[data-state="offline"]', timeout=15_000)
    offline_after = time.monotonic() - down_at

    # While the server is down the plant carries on.
    await producer.event(
        orders, "WO-RS-0", event("WorkOrderStatusChanged", wo("WO-RS-0", "IN_PROGRESS"), sequence=2)
    )
    await producer.event(
        orders, "WO-RS-NEW", event("WorkOrderStatusChanged", wo("WO-RS-NEW", "RELEASED"), sequence=1)
    )
    await producer.event(stock, "SKU-RS", adjustment("SKU-RS", "A1", -30))
    remaining = DOWN_SECONDS - (time.monotonic() - down_at)
    if remaining > 0:
        await pages[0].wait_for_timeout(remaining * 1000)

    with running_server(settings, port=port):
        up_at = time.monotonic()
        work_orders, inventory = pages
        for page in pages:
            await page.wait_for_selector('#connection[data-state="live"]', timeout=30_000)
        live_after = time.monotonic() - up_at
        await work_orders.wait_for_selector('[data-work-order="WO-RS-0"][data-status="IN_PROGRESS"]')
        await work_orders.wait_for_selector('[data-work-order="WO-RS-NEW"][data-status="RELEASED"]')
        await inventory.wait_for_selector('[data-sku="SKU-RS"][data-location="A1"][data-on-hand="70"]')
        shown_after = time.monotonic() - up_at
        # And live pushes work on the new connection.
        await producer.event(stock, "SKU-RS", adjustment("SKU-RS", "A1", 5))
        await inventory.wait_for_selector('[data-sku="SKU-RS"][data-location="A1"][data-on-hand="75"]')
        await producer.event(
            orders, "WO-RS-1", event("WorkOrderStatusChanged", wo("WO-RS-1", "ON_HOLD"), sequence=2)
        )
        await work_orders.wait_for_selector('[data-work-order="WO-RS-1"][data-status="ON_HOLD"]')
    for page in pages:
        await page.close()
    print(
        f"\nweb server down {up_at - down_at:.1f}s: pages offline after {offline_after:.1f}s; "
        f"live {live_after:.1f}s after the restart; events from the downtime shown after {shown_after:.1f}s"
    )
    assert not [e for e in errors if "Uncaught" in e], errors
