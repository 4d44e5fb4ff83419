"""The path a predicting detector expects a sensor to take, with a 95 % prediction band.

Pure: reads a detector state (never changes it). The line is the least-squares fit over the same
window means the detector judges (`TREND_POINTS` closed minutes); the band is the textbook
prediction interval of that fit, 2 standard errors of a new window mean at each future time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from shopfloor.projections.anomaly import (
    MIN_TREND_POINTS,
    TREND_POINTS,
    WINDOW_MS,
    DetectorState,
    fit_trend,
)

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
    if len(history) < MIN_TREND_POINTS:
        return None
    fit = fit_trend(history)
    if fit is None:
        return None
    t0, n, mx, sxx = history[-1][0], fit.n, fit.mean_x, fit.sxx
    a, b = fit.level, fit.slope * WINDOW_MS
    s = math.sqrt(fit.sse / (n - 2))
    crossing = int(state.last_ms + state.ttl_s * 1000)
    ahead_ms = min(MAX_AHEAD_MS, max(crossing - t0, 0) * 1.25 + 5 * WINDOW_MS)
    points = []
    for step in range(STEPS + 1):
        x = ahead_ms * step / STEPS / WINDOW_MS
        mid = a + b * x
        half = Z * s * math.sqrt(1 + 1 / n + (x - mx) ** 2 / sxx)
        points.append([t0 + round(x * WINDOW_MS), round(mid, 4), round(mid - half, 4), round(mid + half, 4)])
    return Forecast(crossing, points)
