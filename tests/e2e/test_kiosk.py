"""Kiosk screens: every board fills a 1080p and a 4K screen without navigation or scrollbars, the line
board reads from across the hall, and a screen whose session ends says so instead of asking to sign in."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from shopfloor.auth import users
from shopfloor.runtime import open_store
from tests.e2e.screens import serious
from tests.support import event, running_server, unique_settings, wo

PASSWORD = "correct horse battery"
BOARDS = ("/work-orders", "/work-orders?line=L1", "/outbound", "/inventory", "/equipment", "/quality")
SCREENS = ((1920, 1080), (3840, 2160))
FITS = """() => ({
  // the kiosk body clips (no scrollbars), so what its content needs is the body's own scroll size
  scrollWidth: Math.max(document.documentElement.scrollWidth, document.body.scrollWidth),
  scrollHeight: Math.max(document.documentElement.scrollHeight, document.body.scrollHeight),
  width: innerWidth, height: innerHeight, body: document.body.scrollHeight,
  hidden: document.querySelectorAll('[data-kiosk-hidden]').length,
  clipped: [...document.querySelectorAll('.lane, table, td.wo-id, td.status')]
    .filter(e => e.scrollWidth > e.clientWidth + 1).length,
})"""
NEXT_FRAMES = "() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))"
VISIBLE_NAV = (
    "() => [...document.querySelectorAll('nav, .filter')].filter(e => e.offsetParent !== null).length"
)
FONT_PX = "els => els.map(e => parseFloat(getComputedStyle(e).fontSize))"


async def _seed(producer, settings) -> None:  # type: ignore[no-untyped-def]
    statuses = ["IN_PROGRESS", "ON_HOLD", "RELEASED", "PLANNED", "COMPLETED", "IN_PROGRESS", "RELEASED"]
    for i in range(28):
        order = f"WO-K{i:03d}"
        data = wo(order, statuses[i % len(statuses)], line=f"L{i % 2 + 1}", product="pump-housing-XL")
        data.update(quantity_planned=500, quantity_done=120, operator="alexandra")
        await producer.event(
            settings.topic_work_orders,
            order,
            event("WorkOrderStatusChanged", data, sequence=1, at=datetime.now(UTC)),
        )
    checked = {"inspection_id": "QI-K000", "work_order_id": "WO-K000", "line_id": "L1", "result": "REWORK"}
    checked["defects"] = [{"code": "SCRATCH", "count": 2}]
    await producer.event(settings.topic_quality, "QI-K000", event("InspectionRecorded", checked))
    for n in range(3):
        eq = {"equipment_id": f"EQ-K{n}", "status": "RUNNING", "line_id": "L1"}
        await producer.event(settings.topic_equipment, f"EQ-K{n}", event("EquipmentStatusChanged", eq))


OPEN_ON_L1 = 12  # of the seeded orders: 14 on L1, 2 of them completed
MORE_OPEN = 40


async def _overfill(producer, settings, context, url: str) -> None:  # type: ignore[no-untyped-def]
    """More open orders than a 1080p screen holds: the board summarises instead of scrolling."""
    page = await context.new_page()
    await page.goto(f"{url}/work-orders?line=L1&kiosk=1")
    await page.wait_for_selector('body[data-connection="live"]', timeout=20_000)
    for n in range(MORE_OPEN):
        order = f"WO-KX{n:03d}"
        data = wo(order, "PLANNED", line="L1", product="bracket")
        await producer.event(
            settings.topic_work_orders,
            order,
            event("WorkOrderStatusChanged", data, sequence=1, at=datetime.now(UTC)),
        )
    await page.wait_for_selector('[data-work-order="WO-KX039"]', state="attached", timeout=20_000)
    note = page.locator('[data-fit-for="lane-L1"]')
    await note.wait_for(state="visible", timeout=10_000)
    await page.evaluate(NEXT_FRAMES)
    fits = await page.evaluate(FITS)
    assert fits["scrollHeight"] <= fits["height"] and fits["scrollWidth"] <= fits["width"], str(fits)
    shown = await page.locator("#lane-L1 > tr:not([hidden])").count()
    assert 0 < shown < OPEN_ON_L1 + MORE_OPEN
    hidden = OPEN_ON_L1 + MORE_OPEN - shown
    assert (await note.inner_text()).strip() == f"+{hidden} more open, not shown"
    print(f"kiosk line board, {OPEN_ON_L1 + MORE_OPEN} open orders at 1080p: {shown} shown, {hidden} counted")
    await page.close()


async def _sign_in(context, url: str) -> None:  # type: ignore[no-untyped-def]
    page = await context.new_page()
    await page.goto(f"{url}/login")
    assert await page.evaluate("document.body.hasAttribute('data-connection')") is False
    assert await page.locator("#connection").is_hidden()  # no live data here, so no indicator
    await page.fill('input[name="username"]', "kim")
    await page.fill('input[name="password"]', PASSWORD)
    await page.click('button[type="submit"], form.login-form button')
    await page.wait_for_url(lambda u: "/login" not in u, timeout=15_000)
    await page.close()


async def test_kiosk_boards_fill_the_screen_and_a_revoked_screen_says_so(
    kafka, producer, browser, sqlite_url
) -> None:  # type: ignore[no-untyped-def]
    settings = unique_settings(kafka, sqlite_url)
    users.add(open_store(settings), "kim", "viewer", PASSWORD)
    await _seed(producer, settings)
    shots = os.environ.get("SHOPFLOOR_KIOSK_SCREENSHOTS")  # a folder: writes the docs' screenshots
    if shots:
        os.makedirs(shots, exist_ok=True)
    errors: list[str] = []
    with running_server(settings, auth=True) as url:
        for width, height in SCREENS:
            context = await browser.new_context(viewport={"width": width, "height": height})
            await _sign_in(context, url)
            for board in BOARDS:
                page = await context.new_page()
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                sep = "&" if "?" in board else "?"
                await page.goto(f"{url}{board}{sep}kiosk=1")
                await page.wait_for_selector('body[data-connection="live"]', timeout=20_000)
                assert await page.locator("header.topbar").count() == 0, board
                assert await page.evaluate(VISIBLE_NAV) == 0, board
                await page.evaluate(NEXT_FRAMES)
                fits = await page.evaluate(FITS)
                assert fits["scrollWidth"] <= fits["width"], (board, width, fits)
                assert fits["scrollHeight"] <= fits["height"], str((board, width, fits))
                if board.startswith("/work-orders"):
                    assert fits["clipped"] == 0, (board, width, fits)
                if board == "/work-orders?line=L1":
                    await page.wait_for_selector(
                        '[data-work-order="WO-K000"] [data-inspection-result="REWORK"]'
                    )
                    band = page.locator('[data-line-band="L1"]')
                    assert await band.get_attribute("data-line-state") == "running"
                    assert "running" in (await band.inner_text()).lower()
                    least = 32 * width / 1920  # 32 px at 1080p, scaling with the screen
                    ids = await page.locator(".wo-id").evaluate_all(FONT_PX)
                    pills = await page.locator(".pill").evaluate_all(FONT_PX)
                    assert ids and min(ids) >= least, (width, ids[:3])
                    assert pills and min(pills) >= least, (width, pills[:3])
                    sizes = f"order ids {min(ids):.0f} px, statuses {min(pills):.0f} px"
                    print(f"\nkiosk line board {width}x{height}: {sizes}")
                    if shots:
                        await page.wait_for_timeout(1600)  # let the arrival flash fade
                        await page.screenshot(path=os.path.join(shots, f"kiosk-line-{width}x{height}.png"))
                await page.close()
            if width == 1920:
                await _overfill(producer, settings, context, url)
                page = await context.new_page()
                await page.goto(f"{url}/work-orders?line=L1&kiosk=1")
                await page.wait_for_selector('body[data-connection="live"]', timeout=20_000)
                token = await page.evaluate(
                    "JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRF-Token']"
                )
                ended = await context.request.post(
                    f"{url}/logout", headers={"x-csrf-token": token}, max_redirects=0
                )
                assert ended.status in (200, 303), ended.status
                notice = page.locator("#screen-disconnected")
                await notice.wait_for(timeout=20_000)
                assert "Screen disconnected — ask a supervisor" in await notice.inner_text()
                assert await page.locator('input[type="password"]').count() == 0  # no login form on the wall
                assert "/login" not in page.url
                await page.close()
            await context.close()
    assert not serious(errors), errors
