"""Calm screens: under the demo's plant traffic rows keep their places (little layout shift), changed
rows flash, and status fills read for everyone (contrast >= 4.5:1, apart under colour blindness)."""

from __future__ import annotations

import math
import os

from tests.e2e.screens import open_live, serious
from tests.support import running_server, unique_settings

WATCH_SECONDS = float(os.environ.get("SHOPFLOOR_CLS_SECONDS", "30"))  # six 5 s CLS windows of demo traffic
WARM_UP_SECONDS = 15
# Layout shift as Chromium reports it: `total` sums every shift; `cls` is the standard metric, the
# worst session window (shifts less than 1 s apart, at most 5 s long).
CLS = """() => {
  window.__layout = {total: 0, cls: 0, window: 0, start: -1e9, last: -1e9};
  new PerformanceObserver((list) => {
    const s = window.__layout;
    for (const e of list.getEntries()) {
      if (e.hadRecentInput) continue;
      if (e.startTime - s.last > 1000 || e.startTime - s.start > 5000) {
        s.window = 0; s.start = e.startTime;
      }
      s.window += e.value; s.last = e.startTime; s.total += e.value;
      s.cls = Math.max(s.cls, s.window);
    }
  }).observe({type: "layout-shift", buffered: false});
}"""
# Text colour and the first opaque background behind it, as [r, g, b] each.
COLOURS = """(els) => els.filter((el) => el.isConnected).map((el) => {  // patches replace rows meanwhile
  const rgb = (c) => {  // "rgb(r, g, b)", "rgba(r, g, b, a)" or "color(srgb r g b / a)" (0-1)
    const n = (c.match(/[\\d.]+/g) || [0, 0, 0, 0]).map(Number);
    return c.startsWith("color(") ? [n[0] * 255, n[1] * 255, n[2] * 255, n.length > 3 ? n[3] : 1] : n;
  };
  let bg = el, back = null;
  while (bg) {
    const c = rgb(getComputedStyle(bg).backgroundColor);
    if (c.length < 4 || c[3] > 0) { back = c.slice(0, 3); break; }
    bg = bg.parentElement;
  }
  return {text: el.innerText.trim(), fg: rgb(getComputedStyle(el).color).slice(0, 3), bg: back || [0, 0, 0],
          fill: rgb(getComputedStyle(el).backgroundColor), raw: getComputedStyle(el).color};
})"""
# Machado, Oliveira & Fernandes (2009), severity 1, on linear RGB.
SIMULATE = {
    "protanopia": (
        (0.152286, 1.052583, -0.204868),
        (0.114503, 0.786281, 0.099216),
        (-0.003882, -0.048116, 1.051998),
    ),
    "deuteranopia": (
        (0.367322, 0.860646, -0.227968),
        (0.280085, 0.672501, 0.047413),
        (-0.011820, 0.042940, 0.968881),
    ),
}


def _linear(c: float) -> float:
    c /= 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(rgb: list[float]) -> float:
    r, g, b = (_linear(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: list[float], b: list[float]) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def lab(rgb: list[float], matrix=None) -> tuple[float, float, float]:  # type: ignore[no-untyped-def]
    lin = [_linear(c) for c in rgb]
    if matrix:
        lin = [min(1.0, max(0.0, sum(m * v for m, v in zip(row, lin, strict=True)))) for row in matrix]
    r, g, b = lin
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883
    f = [t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116 for t in (x, y, z)]
    return 116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])


# Every row that gains the highlight, and when (a highlight must clear by itself).
FLASHES = """
() => {
  window.__flashes = new Map();
  new MutationObserver((mutations) => {
    for (const m of mutations) {
      const el = m.target;
      if (el.classList && el.classList.contains("flash") && !(m.oldValue || "").includes("flash")) {
        window.__flashes.set(el, performance.now());
      }
    }
  }).observe(document.body,
             {subtree: true, attributes: true, attributeFilter: ["class"], attributeOldValue: true});
}
"""


async def test_demo_traffic_keeps_the_board_calm_and_readable(browser, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = unique_settings(None, f"sqlite:///{tmp_path / 'demo.db'}")
    errors: list[str] = []
    with running_server(settings, "--rate", "10", "--sensor-rate", "50", command="demo") as url:
        page = await open_live(browser, f"{url}/work-orders", errors)
        await page.wait_for_selector('[data-status="IN_PROGRESS"]', timeout=30_000)
        # A wall board runs for weeks: judged once the demo's empty plant has filled its lanes (its
        # first seconds move whole lanes down as each line gets its first orders).
        await page.wait_for_timeout(WARM_UP_SECONDS * 1000)
        await page.evaluate(CLS)
        await page.evaluate(FLASHES)
        await page.wait_for_timeout(WATCH_SECONDS * 1000)
        layout = await page.evaluate("window.__layout")
        cls = layout["cls"]
        flashes = await page.evaluate("window.__flashes.size")
        lingering = await page.evaluate(
            "() => [...window.__flashes].filter(([el, at]) => el.isConnected"
            " && el.classList.contains('flash') && performance.now() - at > 3000).length"
        )
        print(
            f"\nlayout shift over {WATCH_SECONDS:.0f} s of demo traffic on /work-orders (after "
            f"{WARM_UP_SECONDS} s): CLS (worst 5 s session window) {cls:.4f}, "
            f"sum of every shift {layout['total']:.4f}"
        )
        assert flashes > 0, "no changed row was highlighted"
        assert lingering == 0, f"{lingering} rows still highlighted more than 3 s after their change"
        assert cls < 0.1

        pills = await page.locator(".pill, .count, .line-state").evaluate_all(COLOURS)
        assert len(pills) >= 5, pills
        equipment = await open_live(browser, f"{url}/equipment", errors)
        await equipment.wait_for_selector("[data-equipment]", timeout=30_000)
        tiles = await equipment.locator(".eq-tile .eq-id, .eq-tile .eq-status").evaluate_all(COLOURS)
        low = [
            (p["text"], round(contrast(p["fg"], p["bg"]), 2), p["raw"], p["bg"])
            for p in pills + tiles
            if contrast(p["fg"], p["bg"]) < 4.5
        ]
        assert not low, (low, pills[:2])
        print(
            f"status pills and tiles checked for contrast: {len(pills) + len(tiles)}, lowest "
            f"{min(contrast(p['fg'], p['bg']) for p in pills + tiles):.2f}:1"
        )

        fills = await page.evaluate(
            "() => ['IN_PROGRESS', 'ON_HOLD', 'RELEASED', 'COMPLETED'].map((s) => {"
            " const el = document.createElement('span'); el.className = 'pill';"
            " const row = document.createElement('div'); row.className = 'status-' + s; row.appendChild(el);"
            " document.body.appendChild(row); const c = getComputedStyle(el).backgroundColor; row.remove();"
            " return c.match(/[\\d.]+/g).slice(0, 3).map(Number); })"
        )
        for vision, matrix in SIMULATE.items():
            seen = [lab(c, matrix) for c in fills]
            closest = min(math.dist(a, b) for i, a in enumerate(seen) for b in seen[i + 1 :])
            print(f"closest pair of work-order status fills under {vision}: delta E {closest:.1f}")
            assert closest > 15, vision
        assert not serious(errors), errors
        await page.close()
        await equipment.close()
