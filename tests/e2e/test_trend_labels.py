"""A machine's trend on a small screen: status labels of changes close together stay apart, and none
runs off the chart's edge."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import httpx

from tests.e2e.screens import open_live, serious
from tests.e2e.test_trend_ranges import _send
from tests.support import event, running_server, unique_settings, wait_until

MACHINE = "M-TREND"
STATUS_TEXTS = ("RUNNING", "DOWN: failure: temperature high", "RUNNING: restarted after repair")
# Each status label's box, and the chart's, in screen pixels.
LABELS = """el => {
  const chart = el.getBoundingClientRect();
  const labels = [...el.querySelectorAll('.annotation-text')]
    .filter(t => !t.textContent.startsWith('limit'))
    .map(t => { const r = t.getBoundingClientRect();
      return {text: t.textContent, left: r.left, right: r.right, top: r.top, bottom: r.bottom}; });
  return {labels, chart: {left: chart.left, right: chart.right, top: chart.top, bottom: chart.bottom}};
}"""


def _overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return (
        a["left"] < b["right"] - 1
        and b["left"] < a["right"] - 1
        and a["top"] < b["bottom"] - 1
        and b["top"] < a["bottom"] - 1
    )


async def test_status_labels_stay_apart_and_inside_the_chart(kafka, producer, browser, sqlite_url) -> None:  # type: ignore[no-untyped-def]
    settings = unique_settings(kafka, sqlite_url, push_interval_seconds=0.2)
    now = datetime.now(UTC).replace(microsecond=0)
    # two changes ten seconds apart, and one moments ago (at the chart's right edge)
    steps = [
        ("RUNNING", None, timedelta(minutes=4)),
        ("DOWN", "failure: temperature high", timedelta(minutes=3, seconds=50)),
        ("RUNNING", "restarted after repair", timedelta(seconds=5)),
    ]
    with running_server(settings) as url:
        for status, reason, ago in steps:
            data = {"equipment_id": MACHINE, "status": status, "line_id": "L9"}
            if reason:
                data["reason"] = reason
            await producer.event(
                settings.topic_equipment, MACHINE, event("EquipmentStatusChanged", data, at=now - ago)
            )
        for i in range(5 * 12):  # every 5 s for 5 minutes
            at = now - timedelta(minutes=5) + timedelta(seconds=5 * i)
            value = 60.0 + (i % 7)
            reading = {"equipment_id": MACHINE, "sensor": "temperature", "value": value, "unit": "°C"}
            await _send(
                producer, settings.topic_sensors, event("SensorReading", reading, source="iot/e2e", at=at)
            )
        await producer.sink.flush()

        def ready() -> bool:
            response = httpx.get(f"{url}/api/equipment/{MACHINE}/trend", timeout=5)
            if response.status_code == 404:  # the machine's first event is not applied yet
                return False
            data = response.json()
            return len([a for a in data["annotations"] if a["kind"] == "status"]) == len(steps)

        await wait_until(ready, 60, "three status changes in the trend")
        errors: list[str] = []
        page = await open_live(
            browser, f"{url}/equipment?machine={MACHINE}", errors, viewport={"width": 1280, "height": 720}
        )
        await page.wait_for_selector('#trend-panel[data-ready="true"][data-range="10m"]', timeout=15_000)
        shot = os.environ.get("SHOPFLOOR_TREND_SCREENSHOT")  # a .png path: the chart as drawn
        if shot:
            await page.locator('[data-plot-for="temperature"]').screenshot(path=shot)
        found = await page.eval_on_selector('[data-plot-for="temperature"]', LABELS)
        labels, chart = found["labels"], found["chart"]
        assert sorted(label["text"] for label in labels) == sorted(STATUS_TEXTS), labels
        for n, label in enumerate(labels):
            inside = label["left"] >= chart["left"] - 1 and label["right"] <= chart["right"] + 1
            assert inside and label["top"] >= chart["top"] - 1, (label, chart)
            for other in labels[n + 1 :]:
                assert not _overlap(label, other), (label, other)
        width = chart["right"] - chart["left"]
        print(f"trend at 1280x720: {len(labels)} status labels apart, inside a {width:.0f} px chart")
        await page.close()
    assert not serious(errors), errors
