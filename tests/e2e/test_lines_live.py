"""/lines in a real Chromium against a real `shopfloor serve` fed through Kafka: a machine going DOWN
turns its line `stopped`; once it runs again, having lost time against the pro-rata target, `behind`."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime, timedelta

import httpx

from tests.support import event, running_server, unique_settings, wait_until

LINE = "L-E2E"
MACHINE = "M-E2E-1"
BUFFER = 15  # units ahead of target at the start: the line is `running` for this many seconds


# Plotly (the vendored bundle) sets one inline style while it loads, which our CSP blocks; /equipment
# shows the same report. Its page-wide <style> we do avoid (see lines/downtime.html). Only that one
# known report from the vendor file is let through; every other console error fails the test.
PLOTLY_LOAD_STYLE = "sha256-ji27qzEtxXZW+7dun6UwjHXJ18e6WAin1VvNtkzIE/o="


def _counts(msg) -> bool:  # type: ignore[no-untyped-def]
    vendor = msg.location.get("url", "").endswith("/vendor/plotly.min.js")
    return msg.type == "error" and not (vendor and PLOTLY_LOAD_STYLE in msg.text)


def _band(state: str) -> str:
    return f'[data-line-summary="{LINE}"][data-line-state="{state}"]'


async def test_stopping_a_machine_stops_its_line_then_it_is_behind(
    kafka, producer, browser, sqlite_url
) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    start = (now - timedelta(hours=1)).replace(second=0, microsecond=0)
    end = start + timedelta(hours=8)
    # one 8-hour shift around now; ideal 1 s per unit and the full ideal rate as target, no margin:
    # the target grows by one unit a second, so a line not producing falls behind within seconds.
    settings = unique_settings(
        kafka, sqlite_url, shifts=f"{start:%H:%M}-{end:%H:%M}", line_target_share=1.0, line_behind_margin=0.0
    )
    with running_server(settings) as url:
        running = {"equipment_id": MACHINE, "status": "RUNNING", "line_id": LINE}
        await producer.event(
            settings.topic_equipment, MACHINE, event("EquipmentStatusChanged", running, at=start)
        )
        t0 = datetime.now(UTC)
        ahead = int((t0 - start).total_seconds()) + BUFFER
        progress = {
            "work_order_id": "WO-E2E",
            "status": "IN_PROGRESS",
            "line_id": LINE,
            "quantity_planned": 100_000,
            "quantity_done": ahead,
            "quantity_scrap": 0,
            "ideal_cycle_s": 1.0,
            "due_at": (t0 + timedelta(hours=2)).isoformat(),
        }
        await producer.event(
            settings.topic_work_orders, "WO-E2E", event("WorkOrderStatusChanged", progress, at=t0)
        )

        def line_known() -> bool:
            lines = httpx.get(f"{url}/api/lines", timeout=5).json()["lines"]
            return any(line["line_id"] == LINE for line in lines)

        await wait_until(line_known, 30, "the line in /api/lines")
        page = await browser.new_page(viewport={"width": 1600, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if _counts(msg) else None)
        await page.goto(f"{url}/lines")
        await page.wait_for_selector('#connection[data-state="live"]', timeout=15_000)
        band = await page.wait_for_selector(_band("running"), timeout=5_000)
        assert band is not None
        assert await band.get_attribute("data-actual") == str(ahead)
        # A line the page has never shown arrives live, in its sorted place (the board's own refresh
        # is 30 s away): "L-A…" sorts before the line already shown.
        newcomer = {"equipment_id": "M-E2E-NEW", "status": "RUNNING", "line_id": "L-A-NEW"}
        await producer.event(
            settings.topic_equipment,
            "M-E2E-NEW",
            event("EquipmentStatusChanged", newcomer, at=datetime.now(UTC)),
        )
        await page.wait_for_selector('[data-line-summary="L-A-NEW"]', timeout=10_000)
        shown = await page.eval_on_selector_all(
            "[data-line-summary]", "els => els.map(e => e.dataset.lineSummary)"
        )
        assert shown == ["L-A-NEW", LINE], shown
        assert await band.get_attribute("data-quality") == "1.000"
        assert "running" in (await band.inner_text())
        # the overview's line strip carries the same band, live
        overview = await browser.new_page(viewport={"width": 1600, "height": 900})
        overview.on("pageerror", lambda exc: errors.append(str(exc)))
        overview.on("console", lambda msg: errors.append(msg.text) if _counts(msg) else None)
        await overview.goto(url)
        await overview.wait_for_selector('#connection[data-state="live"]', timeout=15_000)
        strip = await overview.wait_for_selector(f".line-strip {_band('running')}", timeout=5_000)
        assert strip is not None and await strip.get_attribute("data-actual") == str(ahead)

        down = {**running, "status": "DOWN", "reason": "jam at infeed"}
        await producer.event(
            settings.topic_equipment, MACHINE, event("EquipmentStatusChanged", down, at=datetime.now(UTC))
        )
        band = await page.wait_for_selector(_band("stopped"), timeout=15_000)
        assert band is not None and "stopped" in (await band.inner_text())
        strip = await overview.wait_for_selector(f".line-strip {_band('stopped')}", timeout=15_000)
        assert strip is not None and "stopped" in (await strip.inner_text())

        # stay down until the target has passed what was made, then run again
        await asyncio.sleep(max(0.0, BUFFER + 2 - (time.time() - t0.timestamp())))
        await producer.event(
            settings.topic_equipment, MACHINE, event("EquipmentStatusChanged", running, at=datetime.now(UTC))
        )
        band = await page.wait_for_selector(_band("behind"), timeout=15_000)
        assert band is not None and "behind" in (await band.inner_text())
        target = int(await band.get_attribute("data-target") or 0)
        assert target > ahead and int(await band.get_attribute("data-actual") or 0) == ahead
        availability = float(await band.get_attribute("data-availability") or 0)
        assert 0 < availability < 1  # the stoppage cost run time
        strip = await overview.wait_for_selector(f".line-strip {_band('behind')}", timeout=15_000)
        assert strip is not None and "behind" in (await strip.inner_text())
        await overview.close()

        # the line board's header carries the same summary; the downtime page the reason
        await page.goto(f"{url}/work-orders?line={LINE}")
        await page.wait_for_selector(_band("behind"), timeout=15_000)
        # its order is due in 2 h; 100 000 units at 1 s each cannot make it: at risk, with a countdown
        due = await page.wait_for_selector(
            '[data-work-order="WO-E2E"] [data-due-flag="at-risk"]', timeout=5_000
        )
        assert due is not None and "at risk" in (await due.inner_text())
        countdown = await page.wait_for_selector('[data-work-order="WO-E2E"] [data-due-in-ms]', timeout=5_000)
        assert countdown is not None
        assert re.fullmatch(r"\(in (1 h 5\d|2 h 0) min\)", await countdown.inner_text())
        await page.goto(f"{url}/downtime")
        shift = f'[data-downtime-line="{LINE}"] [data-window="shift"]'
        await page.wait_for_selector(f'{shift} [data-reason="jam at infeed"]', timeout=15_000)
        await page.wait_for_selector('#connection[data-state="live"]', timeout=15_000)
        # A patch that leaves the figures as they were leaves the drawn chart as it was ...
        await page.wait_for_selector(f"{shift} [data-pareto] svg.main-svg", timeout=10_000)
        await page.evaluate(
            """sel => {
                window.chartBefore = document.querySelector(sel);
                window.patches = 0;
                document.addEventListener("shopfloor:frame", e => {
                    if (e.detail.type === "patch") window.patches++;
                });
            }""",
            f"{shift} [data-pareto] svg.main-svg",
        )
        made = {**progress, "quantity_done": ahead + 1}
        await producer.event(
            settings.topic_work_orders, "WO-E2E", event("WorkOrderStatusChanged", made, at=datetime.now(UTC))
        )
        await page.wait_for_function("() => window.patches >= 1", timeout=15_000)
        assert await page.evaluate("window.chartBefore.isConnected"), "an unchanged chart was drawn again"
        # ... and one whose figures changed is drawn anew with them.
        starved = {**running, "status": "DOWN", "reason": "no material"}
        await producer.event(
            settings.topic_equipment, MACHINE, event("EquipmentStatusChanged", starved, at=datetime.now(UTC))
        )
        await page.wait_for_selector(f'{shift} [data-reason="no material"]', timeout=15_000)
        ticks = await page.wait_for_function(
            """sel => {
                const ticks = [...document.querySelectorAll(sel)].map(e => e.textContent);
                return ticks.includes("no material") && ticks;
            }""",
            arg=f"{shift} [data-pareto] .xtick text",
            timeout=10_000,
        )
        assert "jam at infeed" in await ticks.json_value()
        assert not await page.evaluate("window.chartBefore.isConnected")
        # a chart put back still follows the window's width
        chart = f"{shift} [data-pareto] svg.main-svg"
        wide = float(await page.eval_on_selector(chart, "el => el.getAttribute('width')"))
        await page.set_viewport_size({"width": 900, "height": 900})
        await page.wait_for_function(
            "([sel, wide]) => Number(document.querySelector(sel).getAttribute('width')) < wide",
            arg=[chart, wide],
            timeout=10_000,
        )
        await page.close()
        assert errors == [], errors
