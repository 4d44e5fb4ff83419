"""Screenshots of /lines, /downtime and a line board for docs/img/, from a scripted plant history.

Needs Kafka (SHOPFLOOR_TEST_KAFKA, default 127.0.0.1:9092) and Chromium (/usr/bin/chromium):
    PYTHONPATH=. python3 dev/screenshots_lines.py
Four lines over the last five hours of an 8-hour shift (and a week of older stoppages): one ahead,
one behind, one stopped right now, one without a rate (performance unknown).
"""

from __future__ import annotations

import asyncio
import os
import random
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from playwright.async_api import async_playwright

from shopfloor.transport.kafka import KafkaSink
from tests.support import REPO, encode, event, running_server, unique_settings, wait_until

KAFKA = os.environ.get("SHOPFLOOR_TEST_KAFKA", "127.0.0.1:9092")
REASONS = ["jam at infeed", "material shortage", "changeover", "tool change", "sensor fault", "no operator"]
OUT = REPO / "docs" / "img"


def history(now: datetime, start: datetime, rng: random.Random) -> list[tuple[str, str, dict]]:
    out: list[tuple[str, str, dict]] = []
    profiles = {"L1": (0.97, 12.0), "L2": (0.70, 9.0), "L3": (0.90, 15.0), "L4": (0.92, None)}
    for line, (pace, cycle) in profiles.items():
        machines = [f"{line}-M{i}" for i in range(1, 4)]
        for m in machines:
            out.append(("eq", m, _status(m, line, "RUNNING", None, now - timedelta(days=7))))
        t = now - timedelta(days=7)
        while t < now - timedelta(minutes=20):  # stoppages over the week, more on slow lines
            t += timedelta(minutes=rng.randint(40, 400) * pace)
            m, reason = rng.choice(machines), rng.choice(REASONS[: 3 + int(3 * (1 - pace) * 3)])
            out.append(("eq", m, _status(m, line, "DOWN", reason, t)))
            back = min(t + timedelta(minutes=rng.randint(3, 35)), now - timedelta(minutes=10))
            out.append(("eq", m, _status(m, line, "RUNNING", None, back)))
        order, done, scrap, t = f"WO-{line}-1", 0, 0, start
        while t < now:
            t += timedelta(minutes=10)
            if cycle:
                done += int(600 / cycle * pace * 0.75)
            else:
                done += rng.randint(30, 50)
            scrap += rng.randint(0, 2)
            data = {
                "work_order_id": order,
                "status": "IN_PROGRESS",
                "line_id": line,
                "product": "pump-housing-P2",
                "quantity_planned": 5000,
                "quantity_done": done,
                "quantity_scrap": scrap,
                "due_at": (start + timedelta(hours=7 if line != "L2" else 5)).isoformat(),
            }
            if cycle:
                data["ideal_cycle_s"] = cycle
            out.append(("wo", order, event("WorkOrderStatusChanged", data, at=min(t, now))))
    out.append(("eq", "L3-M2", _status("L3-M2", "L3", "DOWN", "jam at infeed", now - timedelta(minutes=7))))
    return out


def _status(machine: str, line: str, status: str, reason: str | None, at: datetime) -> dict:
    data = {"equipment_id": machine, "status": status, "line_id": line}
    if reason:
        data["reason"] = reason
    return event("EquipmentStatusChanged", data, at=at)


async def main() -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    start = (now - timedelta(hours=5)).replace(second=0)
    brk = start + timedelta(hours=2)
    with tempfile.TemporaryDirectory() as tmp:
        settings = unique_settings(
            KAFKA,
            f"sqlite:///{Path(tmp) / 'shots.db'}",
            shifts=f"{start:%H:%M}-{start + timedelta(hours=8):%H:%M}",
            breaks=f"{brk:%H:%M}-{brk + timedelta(minutes=15):%H:%M}",
        )
        events = history(now, start, random.Random(7))
        with running_server(settings) as url:
            sink = KafkaSink(KAFKA, {})
            await sink.start()
            topics = {"eq": settings.topic_equipment, "wo": settings.topic_work_orders}
            for kind, key, evt in sorted(events, key=lambda e: e[2]["time"]):
                value, headers = encode(evt)
                await sink.send(topics[kind], value, key.encode(), headers)
            await sink.flush()
            await sink.stop()

            def consumed() -> bool:
                c = httpx.get(f"{url}/readyz", timeout=5).json()["consumer"]
                return c["applied"] + c["duplicates"] + c["stale"] >= len(events)

            await wait_until(consumed, 120, "all events applied")
            async with async_playwright() as p:
                browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
                page = await browser.new_page(viewport={"width": 1400, "height": 900})
                for path, name in (
                    ("/lines", "lines"),
                    ("/downtime", "downtime"),
                    ("/work-orders?line=L2", "line-board"),
                ):
                    await page.goto(url + path)
                    await page.wait_for_selector('#connection[data-state="live"]', timeout=15_000)
                    await asyncio.sleep(2)
                    await page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
                    print("wrote", OUT / f"{name}.png")
                await browser.close()


if __name__ == "__main__":
    asyncio.run(main())
