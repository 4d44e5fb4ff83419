"""Two `shopfloor web` replicas and one `shopfloor project` worker on one PostgreSQL, a Chromium page
on each replica: one produced event updates both screens, through LISTEN/NOTIFY alone."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from bench.common import fresh_postgres_database
from shopfloor.runtime import open_store
from shopfloor.transport.kafka import ensure_topics
from tests.e2e.browser import seen_at, summary, watch
from tests.integration.scale import scale_settings, workers
from tests.support import event, running_server, wo

ORDERS = [f"WO-R{i:02d}" for i in range(6)]
STATUSES = ["RELEASED", "IN_PROGRESS", "ON_HOLD", "IN_PROGRESS", "COMPLETED"]
ROUNDS = 20


@pytest.fixture
def postgres_url(postgres: str) -> Iterator[str]:
    yield from fresh_postgres_database(postgres)


async def readyz(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=5) as client:
        return (await client.get(f"{url}/readyz")).json()


async def open_board(browser: Any, url: str, errors: list[str]) -> Any:
    page = await browser.new_page(viewport={"width": 1920, "height": 1080})
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"{url}/work-orders")
    await page.wait_for_selector(f'[data-work-order="{ORDERS[-1]}"][data-status="PLANNED"]', timeout=30_000)
    await page.wait_for_selector('#connection[data-state="live"]', timeout=15_000)
    await watch(page, "data-work-order", "data-status")
    return page


async def test_two_web_replicas_update_on_one_event(kafka, producer, browser, postgres_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = scale_settings(kafka, postgres_url, push_interval_seconds=0.2)
    topic = settings.topic_work_orders
    await ensure_topics(kafka, settings.topics + [f"{t}.dlq" for t in settings.topics], 3, {})
    open_store(settings).dispose()
    for i, order in enumerate(ORDERS):
        await producer.event(
            topic, order, event("WorkOrderStatusChanged", wo(order, "PLANNED", line=f"L{i % 2}"), sequence=1)
        )
    with (
        workers(settings, tmp_path, 1),
        running_server(settings, command="web") as first,
        running_server(settings, command="web") as second,
    ):
        for url in (first, second):
            ready = await readyz(url)
            assert "consumer" not in ready, "a web replica must not consume"
        errors: list[str] = []
        pages = [await open_board(browser, first, errors), await open_board(browser, second, errors)]
        for url in (first, second):
            ready = await readyz(url)
            assert ready["listener"]["connected"], ready
        latencies: dict[int, list[float]] = {0: [], 1: []}
        sequences = dict.fromkeys(ORDERS, 1)
        for n in range(ROUNDS):
            order = ORDERS[n % len(ORDERS)]
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
            for i, page in enumerate(pages):
                shown_at = await seen_at(page, order, status)
                latencies[i].append(shown_at - produced_at.timestamp() * 1000)
                await page.evaluate("window.__seen = []")
            await asyncio.sleep(0.3)
        ready = await readyz(second)
        for page in pages:
            await page.close()
    print(f"\nevent->DOM through replica 1 (web, LISTEN/NOTIFY): {summary(latencies[0])}")
    print(f"event->DOM through replica 2 (web, LISTEN/NOTIFY): {summary(latencies[1])}")
    assert ready["listener"]["notices"] >= ROUNDS
    assert len(latencies[1]) == ROUNDS
    assert not [e for e in errors if "Uncaught" in e], errors
