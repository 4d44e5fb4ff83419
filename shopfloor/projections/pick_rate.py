"""Pick rate: orders and units picked per hour over a window, from the orders' pick times.

Pure: the caller passes (picked_ms, units) pairs and the window; an order counts when its pick time
falls inside [start_ms, now_ms]. An empty or inverted window has no rate (None), not zero, and nor
has one shorter than `min_window_ms`: one pick half a minute into a shift is not 120 orders an hour.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

HOUR_MS = 3_600_000


@dataclass(frozen=True, slots=True)
class Rate:
    orders: int
    units: int
    orders_per_hour: float | None
    units_per_hour: float | None


def pick_rate(picks: Iterable[tuple[int, int]], start_ms: int, now_ms: int, min_window_ms: int = 0) -> Rate:
    inside = [units for at, units in picks if start_ms <= at <= now_ms]
    orders, units = len(inside), sum(inside)
    hours = (now_ms - start_ms) / HOUR_MS
    if hours <= 0 or now_ms - start_ms < min_window_ms:
        return Rate(orders, units, None, None)
    return Rate(orders, units, orders / hours, units / hours)
