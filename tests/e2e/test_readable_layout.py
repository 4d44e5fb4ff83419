"""What a person sees on the boards, measured in a real Chromium: no word cut off, a one-line board
across the whole screen, and kiosk screens that show everything or say plainly what they leave out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.e2e.screens import open_live, serious
from tests.support import event, running_server, unique_settings, wo

LINES = [f"L{n}" for n in range(1, 7)]
PRODUCTS = ["pump-housing-P2", "gearbox-A7", "manifold-M6", "impeller-I5", "flange-F8", "bracket-B4"]
STATUSES = ["IN_PROGRESS", "IN_PROGRESS", "ON_HOLD", "RELEASED", "RELEASED", "PLANNED", "IN_PROGRESS"]
OPERATORS = ["alexandra", "goran", "fatou", "chen"]
SCREENS = ((1920, 1080), (1280, 720))

# Every cell whose text a person reads, with what it needs and what it shows (inline boxes measured
# through their cell, which is what clips them).
CUT_CELLS = """() => {
  const cut = [];
  for (const row of document.querySelectorAll('tr[data-work-order]:not([hidden])')) {
    for (const cell of row.querySelectorAll(':scope > td')) {
      if (getComputedStyle(cell).display === 'none') continue;
      if (cell.scrollWidth > cell.clientWidth + 1) cut.push(row.dataset.workOrder + ': ' + cell.innerText);
      const box = cell.getBoundingClientRect();
      for (const word of cell.querySelectorAll('.pill, .due, .due-flag')) {
        for (const r of word.getClientRects()) {
          if (r.right > box.right + 1 || r.bottom > box.bottom + 1) cut.push('word ' + word.textContent);
        }
      }
    }
  }
  for (const head of document.querySelectorAll('.lane-head, .lane-head .counts, .lane-head .count')) {
    if (head.scrollWidth > head.clientWidth + 1) cut.push('head: ' + head.innerText);
  }
  return cut;
}"""
LATE_WORDS = """() => [...document.querySelectorAll('tr[data-work-order] .due-late')]
  .filter(e => e.offsetParent !== null).map(e => e.innerText)"""
LANE_WIDTHS = "() => [...document.querySelectorAll('.lane')].map(e => e.getBoundingClientRect().width)"
NEXT_FRAMES = "() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))"


async def _seed_work_orders(producer: Any, settings: Any) -> None:
    """Eight open orders a line on six lines, real-looking ids, long counts, and late, at-risk and
    on-time due times, some of them on another day (shown with the day: the longest due lines),
    whatever the hour the test runs at."""
    now = datetime.now(UTC)
    day = timedelta(days=1)
    for n in range(48):
        order = f"WO-87{n:03d}"
        status = STATUSES[n % len(STATUSES)]
        data = wo(order, status, line=LINES[n % len(LINES)], product=PRODUCTS[n % len(PRODUCTS)])
        due = {3: -day - timedelta(minutes=30), 5: day + timedelta(minutes=40)}.get(
            n % 8, timedelta(minutes=-30 if n % 4 == 0 else 40 + n)
        )
        data.update(
            quantity_planned=1200,
            quantity_done=112,
            quantity_scrap=3,
            operator=OPERATORS[n % len(OPERATORS)],
            # 1088 units left at 30 s: whatever is due today is at risk; at 90 s, tomorrow's too
            ideal_cycle_s=90.0 if n % 8 == 5 else 30.0,
            due_at=(now + due).isoformat(),
        )
        if status == "ON_HOLD":
            data["reason"] = "waiting for material"
        await producer.event(
            settings.topic_work_orders, order, event("WorkOrderStatusChanged", data, sequence=1, at=now)
        )


async def test_work_order_boards_show_every_word(kafka, producer, browser, sqlite_url) -> None:  # type: ignore[no-untyped-def]
    settings = unique_settings(kafka, sqlite_url)
    await _seed_work_orders(producer, settings)
    errors: list[str] = []
    with running_server(settings) as url:
        for width, height in (*SCREENS, (390, 844)):
            for board in ("/work-orders?line=L3", "/work-orders", "/work-orders?line=L3&kiosk=1"):
                page = await open_live(
                    browser, f"{url}{board}", errors, viewport={"width": width, "height": height}
                )
                await page.wait_for_selector('[data-work-order="WO-87044"]', state="attached", timeout=20_000)
                await page.evaluate(NEXT_FRAMES)
                cut = await page.evaluate(CUT_CELLS)
                assert cut == [], (board, width, cut[:6])
                late = await page.evaluate(LATE_WORDS)
                assert late and all(text.rstrip().endswith("⚠ late") for text in late), (board, width, late)
                lanes = await page.evaluate(LANE_WIDTHS)
                if "line=" in board:
                    assert len(lanes) == 1 and lanes[0] >= 0.9 * width, (board, width, lanes)
                    print(f"one-line board {board} at {width}x{height}: lane {lanes[0]:.0f} px wide")
                await page.close()
    assert not serious(errors), errors
