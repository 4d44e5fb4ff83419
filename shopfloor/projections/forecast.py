"""The path a predicting detector expects a sensor to take, with a 95 % prediction band.

Pure: reads a detector state (never changes it). The line is the least-squares fit over the same
window means the detector judges (`TREND_POINTS` closed minutes); the band is the textbook
prediction interval of that fit, 2 standard errors of a new window mean at each future time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from shopfloor.projections.anomaly import MIN_TREND_POINTS, TREND_POINTS, WINDOW_MS, DetectorState

STEPS = 24
Z = 2.0
MAX_AHEAD_MS = 24 * 3_600_000


@dataclass(frozen=True, slots=True)
class Forecast:
    crossing_ms: int | None  # when the detector expects the limit to be reached
    points: list[list[float]]  # [ms, expected, low, high]


def predicted_path(state: DetectorState | None) -> Forecast | None:
    """Only while the detector predicts a limit crossing (it holds a time to limit): None otherwise."""
    if state is None or state.ttl_s is None:
        return None
    history = state.history[-TREND_POINTS:]
    n = len(history)
    if n < max(3, MIN_TREND_POINTS):
        return None
    t0 = history[-1][0]
    xs = [(p[0] - t0) / WINDOW_MS for p in history]
    ys = [p[1] for p in history]
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx <= 0:
        return None
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    a = my - b * mx
    s = math.sqrt(sum((y - a - b * x) ** 2 for x, y in zip(xs, ys, strict=True)) / (n - 2))
    crossing = int(state.last_ms + state.ttl_s * 1000)
    ahead_ms = min(MAX_AHEAD_MS, max(crossing - t0, 0) * 1.25 + 5 * WINDOW_MS)
    points = []
    for step in range(STEPS + 1):
        x = ahead_ms * step / STEPS / WINDOW_MS
        mid = a + b * x
        half = Z * s * math.sqrt(1 + 1 / n + (x - mx) ** 2 / sxx)
        points.append([t0 + round(x * WINDOW_MS), round(mid, 4), round(mid - half, 4), round(mid + half, 4)])
    return Forecast(crossing, points)
