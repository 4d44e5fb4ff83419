"""Pages left open stay the size of a fresh load: thousands of finished orders pass through open pages.

Expectations are counted from what the test produced: how many orders finished on the line, which
were the newest, how many were delivered; the page must show the newest few and count the rest.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.e2e.screens import ELEMENTS, open_live, serious
from tests.support import event, running_server, unique_settings, wait_until, wo

FINISHED = 1500  # work orders that run and complete on line L1 while the pages are open
DELIVERED = 400  # outbound orders taken through the whole saga
NEW_STOCK = 120  # new SKU x location rows (an inventory page shows 50)
SHOWN_FINISHED = 5
SHOWN_DELIVERED = 20
INSPECTED = 600  # of the finished orders, each inspected once
SHOWN_INSPECTIONS = 30
STOPPAGES = 300  # machine stoppages with reasons, spread over machines on three lines
REASONS = ("JAM", "NO_MATERIAL", "CHANGEOVER", "TOOL_BREAK", "QUALITY_CHECK", "POWER", "OPERATOR", "CLEANING")
PAGES = (
    "/work-orders",
    "/work-orders?line=L1",
    "/outbound",
    "/inventory",
    "/equipment",
    "/lines",
    "/downtime",
    "/quality",
    "/",
)


def _order(kind: str, order_id: str, at: datetime | None = None, **data: Any) -> dict[str, Any]:
    return event(kind, {"order_id": order_id, **data}, source="e2e/shop", at=at or datetime.now(UTC))


async def _count_becomes(page: Any, selector: str, expected: int, timeout: float = 90) -> None:
    """Waits for the "+N more" note to say `expected`; on timeout says what it said instead."""
    read = f"() => document.querySelector({selector!r})?.dataset.count"
    last: list[Any] = [None]

    async def settled() -> bool:
        last[0] = await page.evaluate(read)
        return last[0] == str(expected)

    try:
        await wait_until(settled, timeout, f"{selector} to count {expected}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; it says {last[0]} on {page.url}") from None


async def _send_all(producer, items: list[tuple[str, str, dict[str, Any]]]) -> None:  # type: ignore[no-untyped-def]
    for start in range(0, len(items), 200):
        await asyncio.gather(*(producer.event(t, k, e) for t, k, e in items[start : start + 200]))


async def test_thousands_of_finished_orders_leave_open_pages_bounded_and_counted(
    kafka, producer, browser, sqlite_url
) -> None:  # type: ignore[no-untyped-def]
    settings = unique_settings(kafka, sqlite_url)
    wo_topic, ob_topic, inv_topic = (
        settings.topic_work_orders,
        settings.topic_outbound,
        settings.topic_inventory,
    )
    seed = [
        (
            wo_topic,
            f"WO-SEED-{i}",
            event("WorkOrderStatusChanged", wo(f"WO-SEED-{i}", "RELEASED", line=f"L{i % 3}"), sequence=1),
        )
        for i in range(9)
    ]
    seed += [
        (
            ob_topic,
            f"SO-SEED-{i}",
            _order("OrderCreated", f"SO-SEED-{i}", customer="Seed", due_at="2099-01-01T00:00:00Z"),
        )
        for i in range(5)
    ]
    seed += [
        (
            inv_topic,
            "SKU-SEED",
            event(
                "InventoryAdjusted",
                {"sku": "SKU-SEED", "location": f"A{i:02d}", "delta": 40, "reason": "RECEIPT"},
            ),
        )
        for i in range(10)
    ]
    seed += [
        (
            settings.topic_equipment,
            "EQ-1",
            event("EquipmentStatusChanged", {"equipment_id": "EQ-1", "status": "RUNNING", "line_id": "L1"}),
        )
    ]
    await _send_all(producer, seed)
    with running_server(settings) as url:
        errors: list[str] = []
        pages = {path: await open_live(browser, f"{url}{path}", errors) for path in PAGES}
        await pages["/work-orders"].wait_for_selector('[data-work-order="WO-SEED-8"]', timeout=30_000)
        start_counts = {path: await page.evaluate(ELEMENTS) for path, page in pages.items()}

        finished = [f"WO-DONE-{n:05d}" for n in range(FINISHED)]
        work = []
        base = datetime.now(UTC)
        for n, order in enumerate(finished):  # each runs, then completes, 1 ms after the one before
            work.append(
                (
                    wo_topic,
                    order,
                    event(
                        "WorkOrderStatusChanged", wo(order, "IN_PROGRESS"), sequence=1, at=datetime.now(UTC)
                    ),
                )
            )
            work.append(
                (
                    wo_topic,
                    order,
                    event(
                        "WorkOrderStatusChanged",
                        wo(order, "COMPLETED"),
                        sequence=2,
                        at=base + timedelta(milliseconds=n + 1),
                    ),
                )
            )
        delivered = [f"SO-DONE-{n:05d}" for n in range(DELIVERED)]
        saga = []
        for n, order in enumerate(delivered):
            saga.append(
                (
                    ob_topic,
                    order,
                    _order("OrderCreated", order, customer="Bulk", due_at="2099-01-01T00:00:00Z"),
                )
            )
            for kind in ("PaymentProcessed", "PickCompleted", "ShipmentDispatched"):
                saga.append((ob_topic, order, _order(kind, order, at=base)))
            saga.append(
                (ob_topic, order, _order("DeliveryCompleted", order, at=base + timedelta(milliseconds=n + 1)))
            )
        stock = [
            (
                inv_topic,
                f"SKU-NEW-{n:04d}",
                event(
                    "InventoryAdjusted",
                    {"sku": f"SKU-NEW-{n:04d}", "location": "B01", "delta": 50, "reason": "RECEIPT"},
                ),
            )
            for n in range(NEW_STOCK)
        ]
        inspections = [
            (
                settings.topic_quality,
                f"QI-{n:05d}",
                event(
                    "InspectionRecorded",
                    {
                        "inspection_id": f"QI-{n:05d}",
                        "work_order_id": finished[n],
                        "line_id": "L1",
                        "result": ("PASS", "FAIL", "REWORK")[n % 3],
                        "defects": [] if n % 3 == 0 else [{"code": REASONS[n % len(REASONS)], "count": 1}],
                        "inspector": f"QA-{n % 4}",
                    },
                ),
            )
            for n in range(INSPECTED)
        ]
        stoppages = []
        for n in range(STOPPAGES):  # each machine goes down for a reason, then runs again
            machine = f"EQ-B{n % 12:02d}"
            down = base - timedelta(minutes=STOPPAGES - n)
            for status, at, reason in (
                ("DOWN", down, REASONS[n % len(REASONS)]),
                ("RUNNING", down + timedelta(seconds=40), None),
            ):
                data = {"equipment_id": machine, "status": status, "line_id": f"L{n % 3}"}
                if reason:
                    data["reason"] = reason
                stoppages.append(
                    (settings.topic_equipment, machine, event("EquipmentStatusChanged", data, at=at))
                )
        await asyncio.gather(
            _send_all(producer, work),
            _send_all(producer, saga),
            _send_all(producer, stock),
            _send_all(producer, inspections),
            _send_all(producer, stoppages),
        )

        line = pages["/work-orders?line=L1"]
        more = "#lane-more-L1"
        await _count_becomes(line, more, FINISHED - SHOWN_FINISHED)
        newest = list(reversed(finished))[:SHOWN_FINISHED]
        assert (
            await line.locator("#lane-done-L1 [data-work-order]").evaluate_all(
                "els => els.map(e => e.dataset.workOrder)"
            )
            == newest
        )
        assert (
            await line.locator(more).inner_text()
        ).strip() == f"+{FINISHED - SHOWN_FINISHED} more finished"
        everyone = pages["/work-orders"]
        await _count_becomes(everyone, more, FINISHED - SHOWN_FINISHED)
        outbound = pages["/outbound"]
        await _count_becomes(outbound, "#lane-more-DELIVERED", DELIVERED - SHOWN_DELIVERED)
        assert await outbound.locator("#lane-DELIVERED [data-order]").count() == SHOWN_DELIVERED
        assert (
            await outbound.locator("#lane-DELIVERED [data-order]").first.get_attribute("data-order")
            == delivered[-1]
        )
        inventory = pages["/inventory"]
        await inventory.wait_for_selector('[data-sku="SKU-NEW-0000"][data-location="B01"]', timeout=30_000)
        assert await inventory.locator("#stock-rows tr[data-sku]").count() == 50

        quality = pages["/quality"]
        await _count_becomes(quality, "#inspections-more", INSPECTED - SHOWN_INSPECTIONS)
        api = await browser.new_page()
        answer = await api.goto(f"{url}/api/quality?limit={SHOWN_INSPECTIONS}")
        newest = [i["inspection_id"] for i in (await answer.json())["inspections"]]  # time ties go by id
        await api.close()
        assert len(newest) == SHOWN_INSPECTIONS
        await quality.wait_for_selector(f'[data-inspection="{newest[0]}"]', timeout=30_000)
        shown = await quality.locator("#inspections [data-inspection]").evaluate_all(
            "els => els.map(e => e.dataset.inspection)"
        )
        assert shown == newest, "the open page lists other inspections than the store's newest"

        report = []
        for path, page in pages.items():
            fresh = await browser.new_page(viewport={"width": 1920, "height": 1080})
            await fresh.goto(f"{url}{path}")
            await fresh.wait_for_load_state("networkidle")
            fresh_count = await fresh.evaluate(ELEMENTS)
            open_count = await page.evaluate(ELEMENTS)
            report.append(
                f"{path}: open at start {start_counts[path]}, after {open_count}, fresh load {fresh_count}"
            )
            assert open_count <= 1.5 * fresh_count, report[-1]
            await fresh.close()
        print(
            "\nDOM elements after 1,500 finished work orders, 400 delivered orders, 120 new stock rows,"
            " 600 inspections, 300 stoppages:"
        )
        print("\n".join(report))
        assert not serious(errors), errors
        for page in pages.values():
            await page.close()
