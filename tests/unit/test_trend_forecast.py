"""The predicted path drawn on a trend: the detector's window means extended, with a 95 % band."""

from __future__ import annotations

from dataclasses import replace

import pytest

from shopfloor.projections.anomaly import DetectorState
from shopfloor.projections.forecast import predicted_path

T0 = 1_795_000_020_000
MIN = 60_000
# 8 window means on the line 5.5 + 0.5 x (x in minutes before the last), off by +-0.1 in a pattern
# that leaves the fitted line exactly on it: residual s = sqrt(8 * 0.01 / 6), mean x -3.5, Sxx 42.
WIGGLE = (0.1, -0.1, -0.1, 0.1, 0.1, -0.1, -0.1, 0.1)
HISTORY = tuple((T0 + (7 + x) * MIN, 5.5 + 0.5 * x + r) for x, r in zip(range(-7, 1), WIGGLE, strict=True))
LAST = T0 + 7 * MIN


def test_path_and_band_follow_the_least_squares_prediction_interval() -> None:
    # crossing 15.2 min after the last mean: drawn 1.25 x that + 5 min = 24 min ahead, a step a minute
    state = DetectorState(history=HISTORY, last_ms=LAST + 30_000, ttl_s=882.0)
    forecast = predicted_path(state)
    assert forecast is not None
    assert forecast.crossing_ms == LAST + 912_000
    assert [p[0] for p in forecast.points] == [LAST + k * MIN for k in range(25)]
    # x = 0: 2 s sqrt(1 + 1/8 + 3.5^2/42) = 0.274874; x = 10: 2 s sqrt(1 + 1/8 + 13.5^2/42) = 0.539846
    for k, half in ((0, 0.274874), (10, 0.539846)):
        _at, mid, low, high = forecast.points[k]
        assert mid == pytest.approx(5.5 + 0.5 * k, abs=1e-4)
        assert (high - mid, mid - low) == (pytest.approx(half, abs=2e-4), pytest.approx(half, abs=2e-4))


def test_nothing_is_drawn_unless_the_detector_predicts_a_crossing() -> None:
    predicting = DetectorState(history=HISTORY, last_ms=LAST, ttl_s=600.0)
    assert predicted_path(replace(predicting, ttl_s=None)) is None
    assert predicted_path(replace(predicting, history=HISTORY[-5:])) is None  # too few minutes to fit
    assert predicted_path(None) is None
