"""Watching a page the way a person's screen would: DOM mutations, timed with the machine clock."""

from __future__ import annotations

import statistics
from typing import Any

WATCH_ATTRIBUTE = """
([selectorAttr, attr]) => {
  window.__seen = [];
  const record = (el, t) => {
    if (el.nodeType === 1 && el.hasAttribute(selectorAttr)) {
      window.__seen.push([el.getAttribute(selectorAttr), el.getAttribute(attr), t]);
    }
  };
  new MutationObserver((mutations) => {
    const t = Date.now();
    for (const m of mutations) {
      if (m.type === "attributes") record(m.target, t);
      for (const n of m.addedNodes) {
        record(n, t);
        if (n.querySelectorAll) n.querySelectorAll("[" + selectorAttr + "]").forEach((c) => record(c, t));
      }
    }
  }).observe(document.body, {subtree: true, childList: true, attributes: true, attributeFilter: [attr]});
}
"""

SEEN_AT = """
([key, value]) => {
  const hit = (window.__seen || []).find((s) => s[0] === key && s[1] === value);
  return hit ? hit[2] : null;
}
"""


async def watch(page: Any, selector_attr: str, attr: str) -> None:
    await page.evaluate(WATCH_ATTRIBUTE, [selector_attr, attr])


async def seen_at(page: Any, key: str, value: str, timeout_ms: float = 15_000) -> float:
    """Epoch ms at which the element `key` got `value`, waiting for it to happen."""
    handle = await page.wait_for_function(SEEN_AT, arg=[key, value], timeout=timeout_ms, polling=20)
    return float(await handle.json_value())


def summary(latencies_ms: list[float]) -> str:
    ordered = sorted(latencies_ms)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return (
        f"n={len(ordered)} p50={statistics.median(ordered):.1f}ms p95={p95:.1f}ms "
        f"max={ordered[-1]:.1f}ms min={ordered[0]:.1f}ms"
    )
