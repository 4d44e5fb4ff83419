"""A machine's trend in Chromium: range picker, annotations, limit, predicted path, readable ticks.

A real server fed through Kafka: the machine runs, vibration climbs 0.05 mm/s a minute for 45
minutes (its detector predicts the 7.1 limit about 40 minutes ahead), pressure goes over its
limit for a few seconds (an alarm). The page must draw all of it with no console error and no
Content-Security-Policy violation, and refuse a bad range with a 400 and a message.
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from shopfloor.events.codec import encode_structured
from tests.e2e.test_console_clean import REPORT_CSP
from tests.support import event, running_server, unique_settings, wait_until

MACHINE = "M-TREND"
TICK_PX = 14


def _reading(sensor: str, value: float, at: datetime) -> dict[str, Any]:
    data = {"equipment_id": MACHINE, "sensor": sensor, "value": value, "unit": "u"}
    return event("SensorReading", data, source="iot/e2e", at=at)


async def _send(producer: Any, topic: str, evt: dict[str, Any]) -> None:
    value, headers = encode_structured(evt)
    await producer.sink.send(topic, value, MACHINE.encode(), headers)


def _trend(url: str, range_: str = "10m") -> Any:
    return httpx.get(f"{url}/api/equipment/{MACHINE}/trend", params={"range": range_}, timeout=5).json()


def _status(url: str) -> str | None:
    items = httpx.get(f"{url}/api/equipment", timeout=5).json()["items"]
    return next((m["status"] for m in items if m["equipment_id"] == MACHINE), None)


PLOT_STATE = """
el => ({
  limit: (el.layout.shapes || []).filter(s => s.name === "limit").map(s => s.y0),
  status: (el.layout.annotations || []).filter(a => a.name === "status").map(a => a.text),
  prediction: el.data.filter(t => t.name === "prediction").map(t => t.x.length),
  band: el.data.filter(t => t.name === "prediction band").map(t => t.x.length),
  alarms: el.data.filter(t => t.name === "alarm").map(t => t.x.length),
  ticks: Array.from(el.querySelectorAll(".xtick text, .ytick text"))
    .map(t => parseFloat(getComputedStyle(t).fontSize)),
  annotationText: Array.from(el.querySelectorAll(".annotation-text")).map(t => t.textContent),
})
"""


async def test_trend_ranges_annotations_and_prediction(kafka, producer, browser, sqlite_url) -> None:  # type: ignore[no-untyped-def]
    settings = unique_settings(kafka, sqlite_url, push_interval_seconds=0.2)
    with running_server(settings) as url:
        now = datetime.now(UTC).replace(microsecond=0)
        running = {"equipment_id": MACHINE, "status": "RUNNING", "line_id": "L9", "reason": "shift start"}
        await producer.event(
            settings.topic_equipment,
            MACHINE,
            event("EquipmentStatusChanged", running, at=now - timedelta(minutes=50)),
        )
        await wait_until(lambda: _status(url) == "RUNNING", 30, "the machine running")
        noise = random.Random(7)
        for i in range(45 * 12):  # every 5 s for 45 minutes
            minutes = i * 5 / 60
            value = 3.0 + 0.05 * minutes + noise.gauss(0, 0.05)
            await _send(
                producer,
                settings.topic_sensors,
                _reading("vibration", value, now - timedelta(minutes=45 - minutes)),
            )
        for i in range(8):  # pressure over its 9 bar limit for 8 s: a threshold alarm
            await _send(
                producer, settings.topic_sensors, _reading("pressure", 9.5, now - timedelta(seconds=20 - i))
            )
        await producer.sink.flush()

        def ready() -> bool:
            data = _trend(url)
            sensors = data["sensors"]
            alarms = [a for a in data["annotations"] if a["kind"] == "alarm" and a["sensor"] == "pressure"]
            return "vibration" in sensors and sensors["vibration"]["prediction"] is not None and bool(alarms)

        await wait_until(ready, 60, "the vibration prediction and the pressure alarm")
        bad = await asyncio.to_thread(
            httpx.get, f"{url}/api/equipment/{MACHINE}/trend", params={"range": "xyz"}, timeout=5
        )
        assert bad.status_code == 400 and "range must be one of 10m, 1h, 8h, 24h, 7d" in bad.json()["detail"]

        context = await browser.new_context(viewport={"width": 1600, "height": 1000})
        problems: list[str] = []
        await context.expose_function("__cspViolation", lambda text: problems.append(f"CSP: {text}"))
        await context.add_init_script(REPORT_CSP)
        page = await context.new_page()
        page.on(
            "console",
            lambda m: problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None,
        )
        page.on("pageerror", lambda e: problems.append(f"uncaught: {e}"))
        await page.goto(f"{url}/equipment?machine={MACHINE}")
        await page.wait_for_selector('#trend-panel[data-ready="true"][data-range="10m"]', timeout=15_000)
        vibration = await page.eval_on_selector('[data-plot-for="vibration"]', PLOT_STATE)
        pressure = await page.eval_on_selector('[data-plot-for="pressure"]', PLOT_STATE)
        assert vibration["limit"] == [7.1] and pressure["limit"] == [9.0]
        assert (
            vibration["prediction"][0] > 0 and vibration["band"][0] > 0
        )  # drawn where the detector predicts
        assert pressure["prediction"] == [0] and pressure["alarms"][0] >= 1
        assert vibration["ticks"] and min(vibration["ticks"]) >= TICK_PX
        assert "limit 7.1" in vibration["annotationText"]
        assert vibration["status"] == []  # the status change is 50 minutes back: not in 10 minutes

        await page.click('[data-range-choice="1h"]')
        await page.wait_for_selector('#trend-panel[data-range="1h"]', timeout=15_000)
        assert await page.get_attribute('[data-range-choice="1h"]', "aria-pressed") == "true"
        assert "per minute" in await page.inner_text("#trend-caption")
        assert "range=1h" in page.url
        vibration = await page.eval_on_selector('[data-plot-for="vibration"]', PLOT_STATE)
        assert vibration["status"] == ["RUNNING: shift start"]
        assert "RUNNING: shift start" in vibration["annotationText"]
        assert min(vibration["ticks"]) >= TICK_PX

        await page.click('[data-range-choice="24h"]')
        await page.wait_for_selector('#trend-panel[data-range="24h"]', timeout=15_000)
        note = await page.inner_text("#trend-note")
        assert "kept for 12 h" in note and await page.is_visible("#trend-note")
        await asyncio.sleep(1)  # live frames keep arriving meanwhile
        await context.close()
        assert problems == []
