"""Per machine and sensor: robust baseline, spikes, level shifts, and a trend predicting time to limit.

Pure and deterministic, driven only by event time: `fold(state, spec, readings)` returns the next
state and the conditions that started, changed or ended. Readings are reduced to one-minute window
means (winsorised against the previous window, so a burst of noise barely moves them); the windows
feed a median/MAD baseline (level shifts) and a least-squares trend (time to the limit). Every
condition has separate raise and clear rules (hysteresis), so alerts don't flap.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from statistics import median

WINDOW_MS = 60_000
HISTORY = 30  # closed windows kept: the baseline and the trend look back 30 minutes
WARMUP = 10  # windows before shifts are judged
TREND_POINTS = 15
MIN_TREND_POINTS = 8
SCALE_ALPHA = 0.02  # reading-level noise: EWMA of absolute deviation
CLIP_Z = 5.0
SPIKE_Z = 8.0
SPIKES_TO_RAISE = 3
SPIKE_SPAN_MS = 120_000
SPIKE_CLEAR_MS = 600_000
SHIFT_Z = 6.0
SHIFT_CALM_Z = 3.0
SHIFT_RAISE = 2
SHIFT_CLEAR = 5
THRESHOLD_RAISE = 5
THRESHOLD_CLEAR = 10
PREDICT_T = 4.0
PREDICT_RAISE = 2
PREDICT_CLEAR = 3
STEP_RATIO = 0.5  # a single jump explaining the window far better than a line is a step, not a trend
SIGMA_PER_MAD = 1.4826
SIGMA_PER_MEAN_ABS = 1.2533

THRESHOLD = "THRESHOLD"
SPIKE = "SPIKE"
SHIFT = "SHIFT"
PREDICTIVE = "PREDICTIVE"
KINDS = (THRESHOLD, PREDICTIVE, SHIFT, SPIKE)

Point = tuple[int, float]


@dataclass(frozen=True, slots=True)
class SensorSpec:
    """What is normal for a kind of sensor: its upper limit and how far ahead to warn."""

    limit: float | None
    unit: str = ""
    horizon_s: float = 3600.0
    deadband: float = 0.03  # a threshold clears only below limit * (1 - deadband)


SPECS: dict[str, SensorSpec] = {
    "temperature": SensorSpec(95.0, "°C"),
    "vibration": SensorSpec(7.1, "mm/s"),
    "power": SensorSpec(45.0, "kW"),
    "pressure": SensorSpec(9.0, "bar"),
    "current": SensorSpec(32.0, "A"),
}
UNLIMITED = SensorSpec(None)


def spec_for(sensor: str) -> SensorSpec:
    return SPECS.get(sensor, UNLIMITED)


@dataclass(frozen=True, slots=True)
class DetectorState:
    count: int = 0
    last_ms: int = 0
    win_start: int = -1
    win_n: int = 0
    win_sum: float = 0.0
    ref: float | None = None  # previous window mean: what spikes and clipping are judged against
    scale: float = 0.0  # mean absolute deviation of single readings from `ref`
    history: tuple[Point, ...] = ()  # closed windows: (middle ms, winsorised mean)
    spikes: tuple[int, ...] = ()
    above: int = 0
    below: int = 0
    shift_streak: int = 0
    calm_streak: int = 0
    predict_streak: int = 0
    unpredict_streak: int = 0
    threshold_on: bool = False
    spike_on: bool = False
    shift_on: bool = False
    predict_on: bool = False
    ttl_s: float | None = None
    slope_per_min: float | None = None


@dataclass(frozen=True, slots=True)
class Signal:
    """A condition started (active), changed (active again, new numbers) or ended (not active)."""

    kind: str
    at_ms: int
    active: bool
    value: float
    ttl_s: float | None = None
    slope_per_min: float | None = None
    evidence: tuple[Point, ...] = ()


@dataclass(frozen=True, slots=True)
class Fit:
    slope: float  # per ms
    level: float  # fitted value at the last point
    t: float
    step_like: bool


def fit_trend(points: Sequence[Point]) -> Fit | None:
    """Least squares over the window means, with its t-statistic and a single-step alternative."""
    n = len(points)
    if n < 3:
        return None
    t0 = points[-1][0]
    xs = [(p[0] - t0) / WINDOW_MS for p in points]
    ys = [p[1] for p in points]
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx <= 0:
        return None
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    a = my - b * mx
    sse = sum((y - a - b * x) ** 2 for x, y in zip(xs, ys, strict=True))
    se = math.sqrt(sse / (n - 2) / sxx) if n > 2 else 0.0
    t = b / se if se > 0 else (math.inf if b > 0 else 0.0)
    return Fit(slope=b / WINDOW_MS, level=a, t=t, step_like=_step_sse(ys) < STEP_RATIO * sse)


def _step_sse(ys: Sequence[float]) -> float:
    """Smallest squared error of a two-level fit (one jump), both sides at least 3 points."""
    n = len(ys)
    best = math.inf
    total, total_sq = sum(ys), sum(y * y for y in ys)
    left, left_sq = 0.0, 0.0
    for k in range(1, n):
        left += ys[k - 1]
        left_sq += ys[k - 1] ** 2
        if k < 3 or n - k < 3:
            continue
        right, right_sq = total - left, total_sq - left_sq
        sse = (left_sq - left * left / k) + (right_sq - right * right / (n - k))
        best = min(best, sse)
    return best


def _window_scale(means: Sequence[float], reading_scale: float, centre: float) -> float:
    mad = median(abs(m - centre) for m in means) * SIGMA_PER_MAD
    return max(mad, 0.5 * SIGMA_PER_MEAN_ABS * reading_scale, 1e-9 + 1e-4 * abs(centre))


def fold(
    state: DetectorState | None, spec: SensorSpec, readings: Sequence[Point]
) -> tuple[DetectorState, list[Signal]]:
    """Apply readings (event ms, value) in order; returns the new state and the signals raised."""
    s = state or DetectorState()
    signals: list[Signal] = []
    count, last_ms = s.count, s.last_ms
    win_start, win_n, win_sum = s.win_start, s.win_n, s.win_sum
    ref, scale = s.ref, s.scale
    spikes = list(s.spikes)
    above, below = s.above, s.below
    threshold_on, spike_on = s.threshold_on, s.spike_on
    limit = spec.limit
    for at_ms, value in readings:
        at_ms = max(at_ms, last_ms)
        window = at_ms - at_ms % WINDOW_MS
        if win_start >= 0 and window > win_start:
            if win_n:
                mean = win_sum / win_n
                s = replace(s, ref=mean, scale=scale, spikes=tuple(spikes), last_ms=last_ms)
                s, closed = _close_window(s, spec, (win_start + WINDOW_MS // 2, mean), at_ms)
                signals.extend(closed)
                ref = mean
            win_n, win_sum = 0, 0.0
        if win_start < 0 or window > win_start:
            win_start = window
        count += 1
        last_ms = at_ms
        warm = ref is not None and count > 30 and scale > 0
        clipped = value
        if ref is None:
            ref = value
        elif warm:
            sigma = SIGMA_PER_MEAN_ABS * max(scale, 1e-9 + 1e-5 * abs(ref))
            z = abs(value - ref) / sigma
            if z > SPIKE_Z:
                spikes.append(at_ms)
            span = CLIP_Z * sigma
            clipped = min(max(value, ref - span), ref + span)
        scale += max(SCALE_ALPHA, 1 / count) * (abs(clipped - ref) - scale) if count > 1 else 0.0
        win_n += 1
        win_sum += clipped
        spikes = [t for t in spikes if at_ms - t <= SPIKE_CLEAR_MS]
        if not spike_on:
            recent = [t for t in spikes if at_ms - t <= SPIKE_SPAN_MS]
            if len(recent) >= SPIKES_TO_RAISE:
                spike_on = True
                signals.append(Signal(SPIKE, at_ms, True, value))
        elif not spikes:
            spike_on = False
            signals.append(Signal(SPIKE, at_ms, False, value))
        if limit is not None:
            if value > limit:
                above, below = above + 1, 0
                if not threshold_on and above >= THRESHOLD_RAISE:
                    threshold_on = True
                    signals.append(Signal(THRESHOLD, at_ms, True, value))
            else:
                above = 0
                below = below + 1 if value < limit * (1 - spec.deadband) else 0
                if threshold_on and below >= THRESHOLD_CLEAR:
                    threshold_on = False
                    signals.append(Signal(THRESHOLD, at_ms, False, value))
    new_state = replace(
        s,
        count=count,
        last_ms=last_ms,
        win_start=win_start,
        win_n=win_n,
        win_sum=win_sum,
        ref=ref,
        scale=scale,
        spikes=tuple(spikes[-20:]),
        above=above,
        below=below,
        threshold_on=threshold_on,
        spike_on=spike_on,
    )
    return new_state, signals


def _close_window(
    s: DetectorState, spec: SensorSpec, point: Point, now_ms: int
) -> tuple[DetectorState, list[Signal]]:
    """A minute is complete: judge level shifts and refresh the time-to-limit prediction."""
    signals: list[Signal] = []
    history = (*s.history, point)[-HISTORY:]
    shift_streak, calm_streak, shift_on = s.shift_streak, s.calm_streak, s.shift_on
    base = [m for _, m in history[:-1]][: -SHIFT_RAISE + 1 or None]
    if len(base) >= WARMUP:
        centre = median(base)
        z = abs(point[1] - centre) / _window_scale(base, s.scale, centre)
        shift_streak = shift_streak + 1 if z > SHIFT_Z else 0
        calm_streak = calm_streak + 1 if z < SHIFT_CALM_Z else 0
        if not shift_on and shift_streak >= SHIFT_RAISE:
            shift_on, calm_streak = True, 0
            signals.append(Signal(SHIFT, now_ms, True, point[1], evidence=history[-SHIFT_RAISE - 3 :]))
        elif shift_on and calm_streak >= SHIFT_CLEAR:
            shift_on = False
            signals.append(Signal(SHIFT, now_ms, False, point[1]))
    s = replace(s, history=history, shift_streak=shift_streak, calm_streak=calm_streak, shift_on=shift_on)
    predicted, more = _predict(s, spec, now_ms)
    return predicted, signals + more


def _predict(s: DetectorState, spec: SensorSpec, now_ms: int) -> tuple[DetectorState, list[Signal]]:
    if spec.limit is None:
        return s, []
    points = s.history[-TREND_POINTS:]
    fit = fit_trend(points) if len(points) >= MIN_TREND_POINTS else None
    ttl_s: float | None = None
    if fit is not None and not fit.step_like:
        if fit.level >= spec.limit:
            ttl_s = 0.0
        elif fit.slope > 0 and fit.t >= PREDICT_T:
            ttl_s = (spec.limit - fit.level) / fit.slope / 1000
    slope = None if fit is None else round(fit.slope * WINDOW_MS, 6)
    soon = ttl_s is not None and ttl_s <= spec.horizon_s
    still = ttl_s is not None and ttl_s <= 1.5 * spec.horizon_s
    streak = s.predict_streak + 1 if soon else 0
    calm = 0 if still else s.unpredict_streak + 1
    on = s.predict_on
    signals: list[Signal] = []
    value = points[-1][1]
    if not on and streak >= PREDICT_RAISE:
        on = True
        signals.append(Signal(PREDICTIVE, now_ms, True, value, _round(ttl_s), slope, points))
    elif on and calm >= PREDICT_CLEAR:
        on = False
        signals.append(Signal(PREDICTIVE, now_ms, False, value))
    elif on and still:
        signals.append(Signal(PREDICTIVE, now_ms, True, value, _round(ttl_s), slope, points))
    state = replace(
        s,
        predict_streak=streak,
        unpredict_streak=calm,
        predict_on=on,
        ttl_s=_round(ttl_s) if on else None,
        slope_per_min=slope,
    )
    return state, signals


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def to_json(state: DetectorState) -> str:
    """Compact, stable encoding for the read-model row (same state, same bytes)."""
    values = [getattr(state, name) for name in DetectorState.__slots__]  # type: ignore[attr-defined]
    return json.dumps(values, separators=(",", ":"))


def from_json(text: str | None) -> DetectorState | None:
    if not text:
        return None
    values = json.loads(text)
    fields = dict(zip(DetectorState.__slots__, values, strict=True))  # type: ignore[attr-defined]
    fields["history"] = tuple((int(t), float(m)) for t, m in fields["history"])
    fields["spikes"] = tuple(fields["spikes"])
    return DetectorState(**fields)
