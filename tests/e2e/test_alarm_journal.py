"""Acknowledge with a note from the alarm journal, in a real Chromium against a real `shopfloor serve`."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from shopfloor.events.codec import encode_structured
from tests.support import event, running_server, unique_settings

MACHINE = "M-JOURNAL"
FIT = """() => ({
  page: document.documentElement.scrollWidth,
  shelve: Math.max(
    ...[...document.querySelectorAll('[data-action="shelve"]')].map((b) => b.getBoundingClientRect().right)
  ),
})"""


async def test_acknowledge_with_a_note_from_the_journal(kafka, producer, browser, sqlite_url) -> None:  # type: ignore[no-untyped-def]
    settings = unique_settings(
        kafka, sqlite_url, topic_alert_commands=f"t{time.time_ns()}.ops.alert-commands"
    )
    with running_server(settings) as url:
        start = datetime.now(UTC) - timedelta(seconds=30)
        for i in range(8):  # over the vibration limit (7.1) long enough to raise a threshold alarm
            data = {"equipment_id": MACHINE, "sensor": "vibration", "value": 9.5, "unit": "mm/s"}
            value, headers = encode_structured(event("SensorReading", data, at=start + timedelta(seconds=i)))
            await producer.sink.send(settings.topic_sensors, value, MACHINE.encode(), headers)
        await producer.sink.flush()
        page = await browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        row = f'[data-alarm][data-equipment="{MACHINE}"]'
        for _ in range(60):  # the projector needs a moment: reload until the alarm is there
            await page.goto(f"{url}/alarms")
            if await page.query_selector(row):
                break
            await page.wait_for_timeout(500)
        # On a 1920 px screen the whole journal fits: the actions are on screen, not past its edge.
        await page.set_viewport_size({"width": 1920, "height": 1080})
        fit = await page.evaluate(FIT)
        assert fit["page"] <= 1920 and fit["shelve"] <= 1920, fit
        await page.fill(f'{row} [data-ack-form] input[name="note"]', "valve replaced")
        await page.click(f'{row} button[data-action="acknowledge"]')
        await page.wait_for_selector("[data-action-done]", timeout=15_000)
        for _ in range(60):
            await page.goto(f"{url}/alarms")
            if await page.query_selector(f'{row}[data-state="ACKED"]'):
                break
            await page.wait_for_timeout(500)
        assert await page.text_content(f'{row}[data-state="ACKED"] [data-note]') == "valve replaced"
        assert await page.query_selector(f'{row} button[data-action="acknowledge"]') is None
        assert errors == []
