"""The live board in a real Chromium: an event produced to Kafka changes the row on screen."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from tests.e2e.browser import seen_at, summary, watch
from tests.e2e.screens import open_live, serious
from tests.support import event, running_server, unique_settings, wo

STATUSES = ["RELEASED", "IN_PROGRESS", "ON_HOLD", "IN_PROGRESS", "COMPLETED"]


async def test_board_follows_kafka_events_live(kafka, producer, browser, sqlite_url) -> None:  # type: ignore[no-untyped-def]
    settings = unique_settings(kafka, sqlite_url, push_interval_seconds=0.2)
    topic = settings.topic_work_orders
    orders = [f"WO-E2E-{i:02d}" for i in range(12)]
    for i, order in enumerate(orders):
        await producer.event(
            topic, order, event("WorkOrderStatusChanged", wo(order, "PLANNED", line=f"L{i % 3}"), sequence=1)
        )
    with running_server(settings) as url:
        page = await browser.new_page(viewport={"width": 1920, "height": 1080})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        await page.goto(f"{url}/work-orders")
        await page.wait_for_selector(
            f'[data-work-order="{orders[-1]}"][data-status="PLANNED"]', timeout=30_000
        )
        await page.wait_for_selector('#connection[data-state="live"]', timeout=10_000)
        await watch(page, "data-work-order", "data-status")
        latencies: list[float] = []
        sequences = dict.fromkeys(orders, 1)
        for n in range(60):
            order = orders[n % len(orders)]
            sequences[order] += 1
            status = STATUSES[(sequences[order] - 2) % len(STATUSES)]
            produced_at = datetime.now(UTC)
            await producer.event(
                topic,
                order,
                event(
                    "WorkOrderStatusChanged",
                    wo(order, status, line=None),
                    sequence=sequences[order],
                    at=produced_at,
                ),
            )
            shown_at = await seen_at(page, order, status)
            latencies.append(shown_at - produced_at.timestamp() * 1000)
            await page.evaluate("window.__seen = []")
            await asyncio.sleep(0.25)  # a busy plant: ~4 work-order changes a second
        row = page.locator(f'[data-work-order="{orders[0]}"]')
        assert await row.get_attribute("data-line") == "L0"
        print(f"\nevent->DOM latency (work-order status, Chromium): {summary(latencies)}")
        assert len(latencies) == 60
        assert not [e for e in errors if "Content Security Policy" in e or "Uncaught" in e], errors

        filtered = await browser.new_page()
        await filtered.goto(f"{url}/work-orders?line=L1")
        assert await filtered.locator("[data-work-order]").count() == 4
        assert set(
            await filtered.locator("[data-work-order]").evaluate_all("els => els.map(e => e.dataset.line)")
        ) == {"L1"}
        await filtered.close()
        await page.close()


async def test_an_order_turns_late_on_screen_at_its_due_time_with_no_event(
    kafka, producer, browser, sqlite_url
) -> None:  # type: ignore[no-untyped-def]
    """A wall screen runs for hours between events: an open order whose due time passes must read as
    late then, word and colour, not stay "at risk" until something else about it changes. A closed
    order past its due time is not late."""
    settings = unique_settings(kafka, sqlite_url)
    topic = settings.topic_work_orders
    closed = wo("WO-DUE-0", "COMPLETED", line="LD", quantity_planned=10, quantity_done=10)
    closed["due_at"] = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    await producer.event(topic, "WO-DUE-0", event("WorkOrderStatusChanged", closed, sequence=1))
    errors: list[str] = []
    with running_server(settings) as url:
        page = await open_live(browser, f"{url}/work-orders?line=LD", errors)
        due = datetime.now(UTC) + timedelta(seconds=15)  # the row shows first, at risk, on a busy machine too
        data = wo("WO-DUE-1", "IN_PROGRESS", line="LD", quantity_planned=100, quantity_done=0)
        data.update(ideal_cycle_s=60.0, due_at=due.isoformat())  # 100 units at a minute each: at risk
        await producer.event(topic, "WO-DUE-1", event("WorkOrderStatusChanged", data, sequence=1))
        flag = '[data-work-order="WO-DUE-1"] .due'
        await page.wait_for_selector(f'{flag}[data-due-flag="at-risk"]', timeout=20_000)
        assert (await page.locator(flag).inner_text()).rstrip().endswith("⚠ at risk")
        # No further event: the page itself turns it late once the due time has passed.
        await page.wait_for_selector(f'{flag}[data-due-flag="late"]', timeout=40_000)
        assert datetime.now(UTC) > due
        text = await page.locator(flag).inner_text()
        assert text.rstrip().endswith("⚠ late") and "at risk" not in text, text
        assert await page.locator(f"{flag}.due-late").count() == 1
        finished = page.locator('[data-work-order="WO-DUE-0"] .due')  # shown among the finished
        assert await finished.get_attribute("data-due-flag") == ""
        assert await finished.get_attribute("data-late-at") is None
        assert "late" not in await finished.inner_text()
        await page.close()
    assert not serious(errors), errors
