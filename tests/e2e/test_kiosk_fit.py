"""Kiosk screens that cannot scroll show everything they hold, scaled or in columns, or say plainly
what they leave out: every line band and chart inside the screen, chart labels that read from across
the hall, and the orders needing attention listed in full or counted."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.e2e.screens import open_live, serious
from tests.e2e.test_lines_live import _counts
from tests.e2e.test_readable_layout import LINES, NEXT_FRAMES, SCREENS, _seed_work_orders
from tests.support import event, running_server, unique_settings, wait_until

LATE_ORDERS = 9
# What lies outside the screen, or is cut by its own box, of each thing a kiosk screen shows.
OUTSIDE = """(sel) => [...document.querySelectorAll(sel)].filter(e => e.offsetParent !== null).filter(e => {
  const r = e.getBoundingClientRect();
  return r.top < -1 || r.left < -1 || r.bottom > innerHeight + 1 || r.right > innerWidth + 1;
}).map(e => e.getAttribute('data-line-summary') || e.getAttribute('data-downtime-line')
        || e.getAttribute('data-attention-order') || e.className)"""
PAGE_SIZE = """() => ({
  height: Math.max(document.documentElement.scrollHeight, document.body.scrollHeight), innerHeight,
  width: Math.max(document.documentElement.scrollWidth, document.body.scrollWidth), innerWidth})"""
TICK_PX = """() => [...document.querySelectorAll('[data-pareto-key] :is(.xtick, .ytick) text')]
  .map(t => t.getBoundingClientRect().height).filter(h => h > 0)"""
VISIBLE_LINKS = (
    "() => [...document.querySelectorAll('main a, nav a')].filter(e => e.offsetParent !== null).length"
)
# Late orders drawn wholly inside their list (and, on a kiosk, inside the screen).
ATTENTION_INSIDE = """() => {
  const list = document.querySelector('#ob-attention ul').getBoundingClientRect();
  const kiosk = document.body.hasAttribute('data-kiosk');
  return [...document.querySelectorAll('[data-attention-order]')].filter(e => e.offsetParent).filter(e => {
    const r = e.getBoundingClientRect();
    const inList = r.bottom <= list.bottom + 1 && r.right <= list.right + 1;
    return inList && (!kiosk || r.bottom <= innerHeight + 1);
  }).length;
}"""


async def _seed_downtime(producer: Any, settings: Any) -> None:
    """Each line lost time to two reasons in the last hour."""
    now = datetime.now(UTC)
    for line in LINES:
        machine = f"M-{line}"
        steps = [
            ("DOWN", "jam at infeed", 50),
            ("RUNNING", None, 40),
            ("DOWN", "no material", 30),
            ("RUNNING", None, 25),
        ]
        for status, reason, minutes_ago in steps:
            data = {"equipment_id": machine, "status": status, "line_id": line}
            if reason:
                data["reason"] = reason
            at = now - timedelta(minutes=minutes_ago)
            await producer.event(
                settings.topic_equipment, machine, event("EquipmentStatusChanged", data, at=at)
            )


async def _seed_late_outbound(producer: Any, settings: Any) -> None:
    """Orders whose due time has passed: each one needs attention."""
    due = (datetime.now(UTC) - timedelta(minutes=20)).isoformat().replace("+00:00", "Z")
    for n in range(LATE_ORDERS):
        order = f"SO-3666{n:02d}"
        data = {"order_id": order, "customer": "Borealis Logistics AB", "due_at": due}
        data["lines"] = [{"sku": "SKU-1", "qty": 2}]
        await producer.event(
            settings.topic_outbound,
            order,
            event("OrderCreated", data, source="e2e/shop", at=datetime.now(UTC)),
        )


async def test_kiosk_boards_show_everything_or_say_what_is_left_out(
    kafka, producer, browser, sqlite_url
) -> None:  # type: ignore[no-untyped-def]
    settings = unique_settings(kafka, sqlite_url)
    await _seed_work_orders(producer, settings)
    await _seed_downtime(producer, settings)
    await _seed_late_outbound(producer, settings)
    errors: list[str] = []
    shots = os.environ.get("SHOPFLOOR_KIOSK_SCREENSHOTS")  # a folder: what each screen showed

    async def shot(page: Any, name: str) -> None:
        if shots:
            os.makedirs(shots, exist_ok=True)
            await page.screenshot(path=os.path.join(shots, f"{name}.png"))

    with running_server(settings) as url:

        def all_lines_known() -> bool:
            lines = httpx.get(f"{url}/api/lines", timeout=5).json()["lines"]
            return {line["line_id"] for line in lines} >= set(LINES)

        await wait_until(all_lines_known, 30, "six lines in /api/lines")
        for width, height in SCREENS:
            viewport = {"width": width, "height": height}
            page = await open_live(browser, f"{url}/lines?kiosk=1", errors, viewport=viewport)
            await page.wait_for_selector('[data-line-summary="L6"]', timeout=20_000)
            await page.evaluate(NEXT_FRAMES)
            await shot(page, f"kiosk-lines-{width}x{height}")
            assert await page.evaluate(OUTSIDE, "[data-line-summary]") == [], width
            size = await page.evaluate(PAGE_SIZE)
            assert size["height"] <= size["innerHeight"] and size["width"] <= size["innerWidth"], size
            await page.close()

            page = await open_live(browser, f"{url}/downtime?kiosk=1", [], viewport=viewport)
            page.on("console", lambda msg: errors.append(msg.text) if _counts(msg) else None)
            await page.wait_for_selector(
                '[data-downtime-line="L6"] [data-pareto-key] .xtick text', timeout=20_000
            )
            await page.evaluate(NEXT_FRAMES)
            await shot(page, f"kiosk-downtime-{width}x{height}")
            assert await page.evaluate(OUTSIDE, "[data-downtime-line], [data-pareto-key]") == [], width
            size = await page.evaluate(PAGE_SIZE)
            assert size["height"] <= size["innerHeight"] and size["width"] <= size["innerWidth"], size
            ticks = await page.evaluate(TICK_PX)
            least = 18 * width / 1920  # chart labels as tall as the board's small print, with the screen
            assert ticks and min(ticks) >= least, (width, sorted(ticks)[:4])
            print(f"kiosk downtime {width}x{height}: chart labels at least {min(ticks):.1f} px tall")
            assert await page.evaluate(VISIBLE_LINKS) == 0, width
            await page.close()

            for kiosk in (True, False):
                board = "/outbound?kiosk=1" if kiosk else "/outbound"
                page = await open_live(browser, f"{url}{board}", errors, viewport=viewport)
                await page.wait_for_selector(
                    f'[data-attention-order="SO-3666{LATE_ORDERS - 1:02d}"]', state="attached"
                )
                await page.evaluate(NEXT_FRAMES)
                await shot(page, f"outbound{'-kiosk' if kiosk else ''}-{width}x{height}")
                items = page.locator("[data-attention-order]")
                shown = [i for i in range(await items.count()) if await items.nth(i).is_visible()]
                inside = await page.evaluate(ATTENTION_INSIDE)
                assert inside == len(shown), (board, width, inside, len(shown))
                left_out = LATE_ORDERS - len(shown)
                note = page.locator('[data-fit-for="ob-attention-list"]')
                if left_out:
                    assert (await note.inner_text()).strip().startswith(f"+{left_out} more"), (board, width)
                else:
                    assert await note.count() == 0 or await note.is_hidden(), (board, width)
                print(f"{board} at {width}x{height}: {len(shown)} of {LATE_ORDERS} late orders shown")
                if kiosk:
                    size = await page.evaluate(PAGE_SIZE)
                    assert size["height"] <= size["innerHeight"], (board, size)
                await page.close()

        # more lines than a 720p screen holds: smaller type first, then the rest counted
        more = [f"M{n:02d}" for n in range(7, 25)]
        for line in more:
            running = {"equipment_id": f"M-{line}", "status": "RUNNING", "line_id": line}
            await producer.event(
                settings.topic_equipment, f"M-{line}", event("EquipmentStatusChanged", running)
            )
        page = await open_live(
            browser, f"{url}/lines?kiosk=1", errors, viewport={"width": 1280, "height": 720}
        )
        await page.wait_for_selector('[data-line-summary="M24"]', state="attached", timeout=20_000)
        await page.evaluate(NEXT_FRAMES)
        assert await page.evaluate(OUTSIDE, "[data-line-summary]") == []
        size = await page.evaluate(PAGE_SIZE)
        assert size["height"] <= size["innerHeight"], size
        total = len(LINES) + len(more)
        shown = await page.locator("[data-line-summary]:visible").count()
        note = page.locator('[data-fit-for="board"]')
        assert (
            0 < shown < total
            and (await note.inner_text()).strip() == f"+{total - shown} more lines, not shown"
        )
        step = await page.evaluate("document.body.dataset.kioskStep")
        print(f"kiosk lines 1280x720, {total} lines: {shown} shown at type step {step}, the rest counted")
        await page.close()
    assert not serious(errors), errors
