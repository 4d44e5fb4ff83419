"""New things appear in open pages in their sorted place, without a reload; rows that leave a view
leave the DOM; a widget whose data went quiet shows its own age."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.e2e.screens import open_live, serious
from tests.support import event, running_server, unique_settings, wo

ORDER_IDS = "els => els.map(e => e.dataset.workOrder)"
MARK = "() => { window.__sameDocument = true; }"
SAME = "() => window.__sameDocument === true"


def _stock(sku: str, location: str, delta: int) -> dict[str, Any]:
    data = {"sku": sku, "location": location, "delta": delta, "reason": "RECEIPT"}
    return event("InventoryAdjusted", data, at=datetime.now(UTC))


def _machine(equipment_id: str, line: str) -> dict[str, Any]:
    data = {"equipment_id": equipment_id, "status": "RUNNING", "line_id": line}
    return event("EquipmentStatusChanged", data, at=datetime.now(UTC))


def _reading(equipment_id: str, at: datetime) -> dict[str, Any]:
    data = {"equipment_id": equipment_id, "sensor": "temperature", "value": 60.0, "unit": "C"}
    return event("SensorReading", data, at=at)


async def test_new_rows_arrive_in_place_and_leaving_rows_go(kafka, producer, browser, sqlite_url) -> None:  # type: ignore[no-untyped-def]
    s = unique_settings(kafka, sqlite_url)
    for order, status in (("WO-B", "RELEASED"), ("WO-D", "RELEASED"), ("WO-E", "IN_PROGRESS")):
        await producer.event(
            s.topic_work_orders, order, event("WorkOrderStatusChanged", wo(order, status), sequence=1)
        )
    for sku in ("SKU-A", "SKU-C"):
        await producer.event(s.topic_inventory, sku, _stock(sku, "A1", 10))
    await producer.event(s.topic_equipment, "EQ-1", _machine("EQ-1", "L1"))
    await producer.event(s.topic_sensors, "EQ-1", _reading("EQ-1", datetime.now(UTC) - timedelta(seconds=90)))
    errors: list[str] = []
    with running_server(s) as url:
        orders = await open_live(browser, f"{url}/work-orders", errors)
        line = await open_live(browser, f"{url}/work-orders?line=L1", errors)
        stock = await open_live(browser, f"{url}/inventory", errors)
        machines = await open_live(browser, f"{url}/equipment?machine=EQ-1", errors)
        await orders.wait_for_selector('[data-work-order="WO-E"]', timeout=30_000)
        await stock.wait_for_selector('[data-sku="SKU-C"]', timeout=30_000)
        for page in (orders, line, stock, machines):
            await page.evaluate(MARK)

        # The quiet sensor says how old its value is (90 s, more than a few seconds).
        age = machines.locator('[data-sensor="temperature"] .widget-age')
        await age.wait_for(state="visible", timeout=10_000)
        assert "m ago" in await age.inner_text()

        # A new order sorts among its status (RELEASED: after IN_PROGRESS, by id); a new line's lane appears.
        await producer.event(
            s.topic_work_orders, "WO-C", event("WorkOrderStatusChanged", wo("WO-C", "RELEASED"), sequence=1)
        )
        await producer.event(
            s.topic_work_orders,
            "WO-Z",
            event("WorkOrderStatusChanged", wo("WO-Z", "PLANNED", line="L9"), sequence=1),
        )
        await orders.wait_for_selector('#lane-L1 [data-work-order="WO-C"]', timeout=15_000)
        assert await orders.locator("#lane-L1 [data-work-order]").evaluate_all(ORDER_IDS) == [
            "WO-E",
            "WO-B",
            "WO-C",
            "WO-D",
        ]
        await orders.wait_for_selector('#lane-L9 [data-work-order="WO-Z"]', timeout=15_000)
        lanes = await orders.locator("[data-line-band]").evaluate_all(
            "els => els.map(e => e.dataset.lineBand)"
        )
        assert lanes == ["L1", "L9"]

        # An order moved to another line leaves the filtered board; a finished one leaves the open rows.
        await producer.event(
            s.topic_work_orders,
            "WO-D",
            event("WorkOrderStatusChanged", wo("WO-D", "RELEASED", line="L2"), sequence=2),
        )
        await producer.event(
            s.topic_work_orders, "WO-B", event("WorkOrderStatusChanged", wo("WO-B", "COMPLETED"), sequence=2)
        )
        await line.wait_for_selector('[data-work-order="WO-D"]', state="detached", timeout=15_000)
        await line.wait_for_selector('#lane-done-L1 [data-work-order="WO-B"]', timeout=15_000)
        assert await line.locator("#lane-L1 [data-work-order]").evaluate_all(ORDER_IDS) == ["WO-E", "WO-C"]

        # A new SKU x location joins the stock table between its neighbours.
        await producer.event(s.topic_inventory, "SKU-B", _stock("SKU-B", "A1", 5))
        await stock.wait_for_selector('[data-sku="SKU-B"][data-location="A1"]', timeout=15_000)
        skus = await stock.locator("#stock-rows tr[data-sku]").evaluate_all(
            "els => els.map(e => e.dataset.sku)"
        )
        assert skus == ["SKU-A", "SKU-B", "SKU-C"]

        # A new machine appears on its line; a fresh reading clears the quiet sensor's age.
        await producer.event(s.topic_equipment, "EQ-0", _machine("EQ-0", "L1"))
        await machines.wait_for_selector('#line-L1 [data-equipment="EQ-0"]', timeout=15_000)
        tiles = await machines.locator("#line-L1 [data-equipment]").evaluate_all(
            "els => els.map(e => e.dataset.equipment)"
        )
        assert tiles == ["EQ-0", "EQ-1"]
        await producer.event(s.topic_sensors, "EQ-1", _reading("EQ-1", datetime.now(UTC)))
        await age.wait_for(state="hidden", timeout=15_000)

        for page in (orders, line, stock, machines):
            assert await page.evaluate(SAME), "the page reloaded instead of updating in place"
            await page.close()
    assert not serious(errors), errors
