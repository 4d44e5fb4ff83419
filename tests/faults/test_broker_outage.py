"""The broker stopped for a while and started again (same data): a Chromium page on a real
`shopfloor serve` shows it is stale while the broker is down, with the reason the server's status
frame gives, and goes back to live by itself once the broker is back, showing new events.

CI waits 15 s before restarting (the broker is down ~21 s with its start); a 30 s outage is
`SHOPFLOOR_BROKER_OUTAGE_SECONDS=30`.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from shopfloor.transport.kafka import KafkaSink
from tests.conftest import Producer
from tests.faults.components import own_broker
from tests.support import event, running_server, unique_settings, wait_until, wo

OUTAGE_SECONDS = float(os.environ.get("SHOPFLOOR_BROKER_OUTAGE_SECONDS", "15"))

# Records every status frame the page receives (the page's own handler also sees them).
RECORD_STATUS = """
() => {
  window.__status = [];
  document.addEventListener("htmx:sseBeforeMessage", (evt) => {
    if (evt.detail.type === "status") window.__status.push([Date.now(), evt.detail.data]);
  });
}
"""


async def _produce(producer: Producer, topic: str, order: str, status: str, sequence: int) -> None:
    await producer.event(topic, order, event("WorkOrderStatusChanged", wo(order, status), sequence=sequence))


def _ready(http: httpx.AsyncClient) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return (await http.get("/readyz")).status_code == 200

    return check


async def test_broker_outage_page_goes_stale_then_recovers(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with own_broker() as broker:
        settings = unique_settings(broker.bootstrap, f"sqlite:///{tmp_path / 'store.db'}")
        sink = KafkaSink(broker.bootstrap, {})
        await sink.start()
        producer = Producer(sink)
        try:
            for n in range(5):
                await _produce(producer, settings.topic_work_orders, f"WO-OUT-{n}", "RELEASED", 1)
            with running_server(settings) as url:
                page = await browser.new_page()
                await page.goto(f"{url}/work-orders")
                await page.wait_for_selector('[data-work-order="WO-OUT-4"][data-status="RELEASED"]')
                await page.wait_for_selector('#connection[data-state="live"]', timeout=15_000)
                await page.evaluate(RECORD_STATUS)

                broker.stop()
                down_at = time.monotonic()
                await page.wait_for_selector(
                    '#connection[data-state="stale"], #connection[data-state="offline"]', timeout=30_000
                )
                stale_after = time.monotonic() - down_at
                label = await page.locator("#connection .conn-label").text_content()
                assert label and "event log unreachable" in label, label
                frames = [json.loads(data) for _, data in await page.evaluate("window.__status")]
                assert any(f["healthy"] is False and "event log unreachable" in f["reason"] for f in frames)
                http = httpx.AsyncClient(base_url=url, timeout=10)
                ready = await http.get("/readyz")
                assert ready.status_code == 503
                assert "event log (Kafka) unreachable" in ready.json()["problems"]
                remaining = OUTAGE_SECONDS - (time.monotonic() - down_at)
                if remaining > 0:
                    await page.wait_for_timeout(remaining * 1000)
                assert await page.get_attribute("#connection", "data-state") in ("stale", "offline")

                broker.resume()
                up_at = time.monotonic()
                outage = up_at - down_at
                await page.wait_for_selector('#connection[data-state="live"]', timeout=60_000)
                live_after = time.monotonic() - up_at
                for n in range(5):
                    await _produce(producer, settings.topic_work_orders, f"WO-OUT-{n}", "IN_PROGRESS", 2)
                await _produce(producer, settings.topic_work_orders, "WO-OUT-NEW", "RELEASED", 1)
                await page.wait_for_selector('[data-work-order="WO-OUT-NEW"][data-status="RELEASED"]')
                for n in range(5):
                    await page.wait_for_selector(f'[data-work-order="WO-OUT-{n}"][data-status="IN_PROGRESS"]')
                shown_after = time.monotonic() - up_at
                await wait_until(_ready(http), 30, "/readyz 200 again")
                await http.aclose()
                assert await page.get_attribute("#connection", "data-state") == "live"
                print(
                    f"\nbroker outage {outage:.1f}s: page stale after {stale_after:.1f}s; "
                    f"live {live_after:.1f}s after the broker was back; "
                    f"new events shown after {shown_after:.1f}s"
                )
                await page.close()
        finally:
            await sink.stop()
