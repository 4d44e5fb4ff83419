"""Per machine and sensor: operating context, sensor health, spikes, level shifts, bursts and trends.

Pure and deterministic, driven only by event time: `fold(state, spec, readings, context)` returns the
next state and the conditions that started, changed or ended; `tick(state, spec, now_ms, context)`
judges silence against a clock taken from other events. Readings are reduced to one-minute window
means (winsorised against the previous window, so a burst of noise barely moves them); the windows
feed a median/MAD baseline (level shifts), a least-squares trend (time to the limit), a burst
counter (intermittent faults) and hourly means (multi-day wear).

What the machine is doing decides what is judged: only RUNNING minutes outside the warm-up after a
restart feed the baseline, trends and burst counts; a status change restarts the trend. A sensor
that repeats one value, goes silent or reads outside its physical range is a sensor fault, and its
readings teach the detector nothing (so a recovered sensor is not judged against a collapsed noise
estimate). Every condition has separate raise and clear rules (hysteresis), so alerts don't flap.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from operator import attrgetter
from statistics import median

import msgspec

WINDOW_MS = 60_000
HOUR_MS = 3_600_000
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
GAP_MS = 120_000  # a longer pause in readings re-learns the reference before judging spikes
GRACE_MS = 300_000  # after a restart, a gap or a sensor fault: no spike judged for 5 minutes
RANGE_RAISE, RANGE_CLEAR = 3, 60  # clears only after a minute's worth of good readings: no chatter
STUCK_MIN_READINGS = 10  # fewer identical readings prove nothing, however far apart
NOISE_POINTS = 30  # minutes of reading-to-reading noise kept as the burst baseline
MIN_NOISE_POINTS = 10
BURST_RATIO = 3.0  # a minute whose reading-to-reading noise is 3x the usual is a burst
BURST_SPAN_MS = 60 * 60_000
BURSTS_TO_RAISE = 4  # distinct bursts within the last hour: an intermittent fault
BURSTS_TO_CLEAR = 1
HOURS = 36  # hourly running means kept for the multi-day trend
WEAR_POINTS = 24
MIN_WEAR_POINTS = 6
MIN_HOUR_MINUTES = 20
WEAR_T = 5.0
WEAR_HORIZON_S = 12 * 3600.0

RUNNING, IDLE, DOWN, MAINTENANCE, UNKNOWN = "RUNNING", "IDLE", "DOWN", "MAINTENANCE", "UNKNOWN"
OPERATING = (RUNNING, UNKNOWN)  # a machine nobody reported on is judged as running

THRESHOLD = "THRESHOLD"
PREDICTIVE = "PREDICTIVE"
WEAR = "WEAR"
INTERMITTENT = "INTERMITTENT"
SENSOR_FAULT = "SENSOR_FAULT"
SHIFT = "SHIFT"
SPIKE = "SPIKE"
ALARM_KINDS = (THRESHOLD, PREDICTIVE, WEAR, INTERMITTENT, SENSOR_FAULT)
NOTE_KINDS = (SHIFT, SPIKE)  # informative: recorded on the trend, never raised as alarms
KINDS = ALARM_KINDS + NOTE_KINDS
STUCK, SILENT, OUT_OF_RANGE = "stuck", "silent", "out of range"
PRIORITIES = ("critical", "high", "medium", "low")

Point = tuple[int, float]
StatusAt = tuple[int, str]


@dataclass(frozen=True, slots=True)
class SensorSpec:
    """What is normal for a sensor: its limits, how far ahead to warn, and its health rules."""

    limit: float | None
    unit: str = ""
    horizon_s: float = 3600.0
    deadband: float = 0.03  # a threshold clears only below limit * (1 - deadband)
    priority: str = "high"
    physical_min: float | None = None
    physical_max: float | None = None
    stuck_s: float = 300.0  # the same value this long while running: stuck
    silent_s: float = 300.0  # no reading this long while the machine runs: silent
    warmup_s: float = 600.0  # after a restart: no trends, shifts or bursts judged

    def in_range(self, value: float) -> bool:
        low, high = self.physical_min, self.physical_max
        return (low is None or value >= low) and (high is None or value <= high)


SPECS: dict[str, SensorSpec] = {
    "temperature": SensorSpec(95.0, "°C", physical_min=-40.0, physical_max=400.0, warmup_s=2700.0),
    "vibration": SensorSpec(7.1, "mm/s", physical_min=0.0, physical_max=100.0),
    "power": SensorSpec(45.0, "kW", physical_min=0.0, physical_max=1000.0),
    "pressure": SensorSpec(9.0, "bar", physical_min=0.0, physical_max=100.0),
    "current": SensorSpec(32.0, "A", physical_min=0.0, physical_max=1000.0),
}
UNLIMITED = SensorSpec(None)


def spec_for(sensor: str) -> SensorSpec:
    """The built-in spec of a kind of sensor (configuration may override it per machine)."""
    return SPECS.get(sensor, UNLIMITED)


@dataclass(slots=True)
class DetectorState:
    """Mutated only inside `fold`/`tick` on their own copy: callers' states never change."""

    count: int = 0
    last_ms: int = 0
    win_start: int = -1
    win_n: int = 0
    win_sum: float = 0.0
    win_dsq: float = 0.0  # squared reading-to-reading differences: noise that ignores steps and trends
    win_dn: int = 0
    win_ok: bool = True  # every reading of the window taken while running, warm, healthy
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
    status: str = UNKNOWN
    status_ms: int = 0  # when the current status began (0: never reported)
    settle_ms: int = 0  # when another sensor of the machine last saw its load step
    prev_value: float | None = None
    prev_ms: int = 0
    same_since_ms: int = -1  # start of the current run of identical readings
    same_count: int = 0
    stuck_on: bool = False
    silent_on: bool = False
    range_bad: int = 0
    range_good: int = 0
    range_on: bool = False
    fault_on: bool = False
    grace_until_ms: int = 0
    noise: tuple[float, ...] = ()  # reading-to-reading noise of recent calm minutes
    burst_on: bool = False
    bursts: tuple[int, ...] = ()  # when each recent burst began
    intermittent_on: bool = False
    hour_start: int = -1
    hour_n: int = 0
    hour_sum: float = 0.0
    hours: tuple[Point, ...] = ()
    wear_streak: int = 0
    wear_calm: int = 0
    wear_on: bool = False


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
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class Fit:
    slope: float  # per ms
    level: float  # fitted value at the last point
    t: float
    step_like: bool
    # What a prediction interval needs, in units of `unit_ms` before the last point:
    n: int
    mean_x: float
    sxx: float
    sse: float  # sum of squared residuals


def fit_trend(points: Sequence[Point], unit_ms: int = WINDOW_MS) -> Fit | None:
    """Least squares over the window means, with its t-statistic and a single-step alternative."""
    n = len(points)
    if n < 3:
        return None
    t0 = points[-1][0]
    xs = [(p[0] - t0) / unit_ms for p in points]
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
    step_like = _step_sse(ys) < STEP_RATIO * sse
    return Fit(slope=b / unit_ms, level=a, t=t, step_like=step_like, n=n, mean_x=mx, sxx=sxx, sse=sse)


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


def _apply_status(s: DetectorState, context: Sequence[StatusAt], upto_ms: int) -> DetectorState:
    """Status changes up to `upto_ms`: any change restarts the trend and re-learns the reference."""
    for at_ms, status in context:
        if at_ms > upto_ms or at_ms <= s.status_ms or status == s.status:
            continue
        s = _set(
            s,
            status=status,
            status_ms=at_ms,
            history=(),
            ref=None,
            shift_streak=0,
            calm_streak=0,
            predict_streak=0,
            win_ok=False,
            grace_until_ms=max(s.grace_until_ms, at_ms + GRACE_MS),
        )
    return s


_SLOTS: tuple[str, ...] = DetectorState.__slots__  # type: ignore[attr-defined]
_FIELDS = attrgetter(*_SLOTS)  # every field in one C call, in the constructor's order
if tuple(f.name for f in fields(DetectorState) if f.init and not f.kw_only) != _SLOTS:
    raise TypeError("DetectorState is built positionally from its slots: keep every field in __init__")


def _copy(state: DetectorState) -> DetectorState:
    """A shallow copy. A batch copies each sensor's state once or more, so this is per reading on a
    live feed: five times faster than copying field by field, or than copy.copy."""
    return DetectorState(*_FIELDS(state))


def _set(s: DetectorState, **changes: object) -> DetectorState:
    for name, value in changes.items():
        setattr(s, name, value)
    return s


def operating(s: DetectorState) -> bool:
    return s.status in OPERATING


def settled(s: DetectorState, spec: SensorSpec, at_ms: int) -> bool:
    """Running and past the warm-up that follows a restart: the readings say something about wear."""
    if not operating(s):
        return False
    since = max(s.status_ms, s.settle_ms)
    return since == 0 or at_ms - since >= spec.warmup_s * 1000


def settle(state: DetectorState, at_ms: int) -> DetectorState:
    """The machine's load stepped (another sensor saw a level shift): restart the trend and let the
    reading settle for a warm-up, as a new load takes time to reach a new equilibrium."""
    if at_ms <= state.settle_ms:
        return state
    s = _copy(state)
    return _set(s, settle_ms=at_ms, history=(), predict_streak=0, win_ok=False)


SensorSignal = tuple[str, Signal]


def fold_machine(
    states: dict[str, DetectorState | None],
    specs: dict[str, SensorSpec],
    readings: dict[str, Sequence[Point]],
    context: Sequence[StatusAt],
    now_ms: int,
) -> tuple[dict[str, DetectorState | None], list[SensorSignal]]:
    """One machine's batch: fold the sensors that reported, judge the silent ones on `now_ms` (the
    newest event of the machine), and let a level shift on one sensor settle the others."""
    out: dict[str, DetectorState | None] = {}
    signals: list[SensorSignal] = []
    for sensor in sorted(states.keys() | readings.keys()):
        spec = specs[sensor]
        if sensor in readings:
            out[sensor], raised = fold(states.get(sensor), spec, readings[sensor], context)
        else:
            out[sensor], raised = tick(states.get(sensor), spec, now_ms, context)
        signals.extend((sensor, r) for r in raised)
    for sensor, signal in signals:
        if signal.kind == SHIFT and signal.active:
            for other, state in out.items():
                if other != sensor and state is not None:
                    out[other] = settle(state, signal.at_ms)
    return out, signals


def _fault_signal(s: DetectorState, at_ms: int, value: float) -> tuple[DetectorState, list[Signal]]:
    on = s.stuck_on or s.silent_on or s.range_on
    detail = ", ".join(
        name
        for name, flag in ((SILENT, s.silent_on), (STUCK, s.stuck_on), (OUT_OF_RANGE, s.range_on))
        if flag
    )
    if on == s.fault_on:
        return s, []
    return _set(s, fault_on=on), [Signal(SENSOR_FAULT, at_ms, on, value, detail=detail or None)]


def tick(
    state: DetectorState | None, spec: SensorSpec, now_ms: int, context: Sequence[StatusAt] = ()
) -> tuple[DetectorState | None, list[Signal]]:
    """Silence: no reading for `silent_s` while the machine runs, judged on a clock from other events."""
    if state is None or state.count == 0:
        return state, []
    changes = any(state.status_ms < at <= now_ms and status != state.status for at, status in context)
    quiet = now_ms - state.last_ms < spec.silent_s * 1000
    if state.silent_on or (quiet and not changes):
        return state, []  # nothing to judge: the caller may keep the stored state as it is
    s = _apply_status(_copy(state), context, now_ms)
    deadline = _silent_at(s, spec)
    if deadline is None or now_ms < deadline:
        return s, []
    s = _set(s, silent_on=True)
    return _fault_signal(s, deadline, s.prev_value if s.prev_value is not None else 0.0)


def _silent_at(s: DetectorState, spec: SensorSpec) -> int | None:
    """When the sensor counts as silent if nothing arrives: a fixed moment, so that it does not depend
    on how readings were batched (a replay raises the same alarm at the same time)."""
    if not operating(s) or s.count == 0:
        return None
    return max(s.last_ms, s.status_ms) + int(spec.silent_s * 1000)


def fold(
    state: DetectorState | None,
    spec: SensorSpec,
    readings: Sequence[Point],
    context: Sequence[StatusAt] = (),
) -> tuple[DetectorState, list[Signal]]:
    """Apply readings (event ms, value) in order, with the machine's status changes (ms, status)."""
    s = _copy(state) if state is not None else DetectorState()
    signals: list[Signal] = []
    limit = spec.limit
    for at_ms, value in readings:
        at_ms = max(at_ms, s.last_ms)
        if context:
            s = _apply_status(s, context, at_ms)
        if not spec.in_range(value):
            s = _set(s, range_bad=s.range_bad + 1, range_good=0, last_ms=at_ms, win_ok=False)
            if not s.range_on and s.range_bad >= RANGE_RAISE:
                s, raised = _fault_signal(_set(s, range_on=True), at_ms, value)
                signals.extend(raised)
            continue
        s.range_bad = 0
        s.range_good += 1
        if s.range_on and s.range_good >= RANGE_CLEAR:
            s = _set(s, range_on=False, grace_until_ms=at_ms + GRACE_MS, ref=None)
            s, raised = _fault_signal(s, at_ms, value)
            signals.extend(raised)
        deadline = None if s.silent_on else _silent_at(s, spec)
        if deadline is not None and at_ms >= deadline:  # silent, though no clock said so in time
            s, raised = _fault_signal(_set(s, silent_on=True), deadline, value)
            signals.extend(raised)
        if s.silent_on:
            s = _set(s, silent_on=False, grace_until_ms=at_ms + GRACE_MS, ref=None)
            s, raised = _fault_signal(s, at_ms, value)
            signals.extend(raised)
        elif s.count and at_ms - s.last_ms > GAP_MS:
            s = _set(s, grace_until_ms=at_ms + GRACE_MS, ref=None)
        prev, prev_ms = s.prev_value, s.prev_ms
        s, raised = _health(s, spec, at_ms, value)
        signals.extend(raised)
        step = None if prev is None or at_ms - prev_ms > GAP_MS or s.same_since_ms >= 0 else value - prev
        s, raised = _reading(s, spec, at_ms, value, step)
        signals.extend(raised)
        if limit is not None and s.status != MAINTENANCE:
            s, raised = _threshold(s, spec, at_ms, value)
            signals.extend(raised)
    return s, signals


def _health(
    s: DetectorState, spec: SensorSpec, at_ms: int, value: float
) -> tuple[DetectorState, list[Signal]]:
    """Stuck: one value repeated for `stuck_s` while running. Any new value ends it."""
    same_since, same_count = s.same_since_ms, s.same_count
    if s.prev_value is not None and value == s.prev_value:
        if same_since < 0:
            same_since, same_count = s.prev_ms, 1
        same_count += 1
    else:
        same_since, same_count = -1, 0
    s.same_since_ms, s.same_count, s.prev_value, s.prev_ms = same_since, same_count, value, at_ms
    if s.stuck_on and same_since < 0:
        s = _set(s, stuck_on=False, grace_until_ms=at_ms + GRACE_MS, ref=None)
        return _fault_signal(s, at_ms, value)
    long_enough = same_count >= STUCK_MIN_READINGS and at_ms - same_since >= spec.stuck_s * 1000
    if not s.stuck_on and same_since >= 0 and operating(s) and long_enough:
        return _fault_signal(_set(s, stuck_on=True), at_ms, value)
    return s, []


def _reading(
    s: DetectorState, spec: SensorSpec, at_ms: int, value: float, step: float | None
) -> tuple[DetectorState, list[Signal]]:
    signals: list[Signal] = []
    window = at_ms - at_ms % WINDOW_MS
    if s.win_start >= 0 and window > s.win_start:
        if s.win_n:
            s, closed = _close_window(s, spec, at_ms)
            signals.extend(closed)
        s = _set(s, win_n=0, win_sum=0.0, win_dsq=0.0, win_dn=0, win_ok=True)
    if s.win_start < 0 or window > s.win_start:
        s = _set(s, win_start=window)
    repeating = s.same_since_ms >= 0
    judged = settled(s, spec, at_ms) and not s.fault_on and at_ms >= s.grace_until_ms
    count, ref, scale = s.count + 1, s.ref, s.scale
    spikes = list(s.spikes)
    clipped = value
    if ref is None:
        ref = value
    elif judged and count > 30 and scale > 0:
        sigma = SIGMA_PER_MEAN_ABS * max(scale, 1e-9 + 1e-5 * abs(ref))
        if abs(value - ref) / sigma > SPIKE_Z:
            spikes.append(at_ms)
        span = CLIP_Z * sigma
        clipped = min(max(value, ref - span), ref + span)
    if count > 1 and not repeating and not s.fault_on:
        scale += max(SCALE_ALPHA, 1 / count) * (abs(clipped - ref) - scale)
    dsq, dn = (s.win_dsq, s.win_dn) if step is None else (s.win_dsq + step * step, s.win_dn + 1)
    spikes = [t for t in spikes if at_ms - t <= SPIKE_CLEAR_MS]
    spike_on = s.spike_on
    if not spike_on:
        if len([t for t in spikes if at_ms - t <= SPIKE_SPAN_MS]) >= SPIKES_TO_RAISE:
            spike_on = True
            signals.append(Signal(SPIKE, at_ms, True, value))
    elif not spikes:
        spike_on = False
        signals.append(Signal(SPIKE, at_ms, False, value))
    s.count, s.last_ms, s.ref, s.scale = count, at_ms, ref, scale
    s.spikes = tuple(spikes[-20:])
    s.spike_on = spike_on
    s.win_n += 1
    s.win_sum += clipped
    s.win_dsq, s.win_dn = dsq, dn
    s.win_ok = s.win_ok and judged
    return s, signals


def _threshold(
    s: DetectorState, spec: SensorSpec, at_ms: int, value: float
) -> tuple[DetectorState, list[Signal]]:
    assert spec.limit is not None
    limit = spec.limit
    if value > limit:
        s.above += 1
        s.below = 0
        if not s.threshold_on and s.above >= THRESHOLD_RAISE:
            return _set(s, threshold_on=True), [Signal(THRESHOLD, at_ms, True, value)]
        return s, []
    below = s.below + 1 if value < limit * (1 - spec.deadband) else 0
    s.above, s.below = 0, below
    if s.threshold_on and below >= THRESHOLD_CLEAR:
        return _set(s, threshold_on=False), [Signal(THRESHOLD, at_ms, False, value)]
    return s, []


def _close_window(s: DetectorState, spec: SensorSpec, now_ms: int) -> tuple[DetectorState, list[Signal]]:
    """A minute is complete: judge level shifts, bursts and wear, refresh the time-to-limit prediction."""
    mean = s.win_sum / s.win_n
    point = (s.win_start + WINDOW_MS // 2, mean)
    s = _set(s, ref=mean)
    if not s.win_ok:
        return s, []
    signals: list[Signal] = []
    s, more = _bursts(s, now_ms, mean)
    signals.extend(more)
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
    s = _set(s, history=history, shift_streak=shift_streak, calm_streak=calm_streak, shift_on=shift_on)
    s, more = _predict(s, spec, now_ms)
    signals.extend(more)
    s, more = _wear(s, spec, point, now_ms)
    return s, signals + more


def _bursts(s: DetectorState, now_ms: int, mean: float) -> tuple[DetectorState, list[Signal]]:
    """Intermittent faults: minutes of far more reading-to-reading noise than usual, ever more often."""
    if s.win_dn < 5:
        return s, []
    rms = math.sqrt(s.win_dsq / s.win_dn)
    usual = median(s.noise) if len(s.noise) >= MIN_NOISE_POINTS else None
    bursty = usual is not None and rms > BURST_RATIO * max(usual, 1e-9 + 1e-5 * abs(mean))
    noise = (*s.noise, rms if usual is None else min(rms, BURST_RATIO * usual))[-NOISE_POINTS:]
    bursts = tuple(t for t in s.bursts if now_ms - t <= BURST_SPAN_MS)
    if bursty and not s.burst_on:
        bursts = (*bursts, s.win_start)
    s = _set(s, noise=noise, burst_on=bursty, bursts=bursts[-20:])
    if not s.intermittent_on and len(bursts) >= BURSTS_TO_RAISE:
        return _set(s, intermittent_on=True), [Signal(INTERMITTENT, now_ms, True, rms)]
    if s.intermittent_on and len(bursts) <= BURSTS_TO_CLEAR:
        return _set(s, intermittent_on=False), [Signal(INTERMITTENT, now_ms, False, rms)]
    return s, []


def _predict(s: DetectorState, spec: SensorSpec, now_ms: int) -> tuple[DetectorState, list[Signal]]:
    if spec.limit is None:
        return s, []
    points = s.history[-TREND_POINTS:]
    fit = fit_trend(points) if len(points) >= MIN_TREND_POINTS else None
    ttl_s: float | None = None
    if fit is not None and not fit.step_like:
        recent = fit_trend(points[len(points) // 2 :])
        # a settling curve (warm-up, a new load) slows down: judge it by its recent slope
        slope = fit.slope if recent is None else min(fit.slope, max(recent.slope, 0.0))
        if fit.level >= spec.limit:
            ttl_s = 0.0
        elif slope > 0 and fit.t >= PREDICT_T:
            ttl_s = (spec.limit - fit.level) / slope / 1000
    slope_per_min = None if fit is None else round(fit.slope * WINDOW_MS, 6)
    soon = ttl_s is not None and ttl_s <= spec.horizon_s
    still = ttl_s is not None and ttl_s <= 1.5 * spec.horizon_s
    streak = s.predict_streak + 1 if soon else 0
    calm = 0 if still else s.unpredict_streak + 1
    on = s.predict_on
    signals: list[Signal] = []
    value = points[-1][1]
    if not on and streak >= PREDICT_RAISE:
        on = True
        signals.append(Signal(PREDICTIVE, now_ms, True, value, _round(ttl_s), slope_per_min, points))
    elif on and calm >= PREDICT_CLEAR:
        on = False
        signals.append(Signal(PREDICTIVE, now_ms, False, value))
    elif on and still:
        signals.append(Signal(PREDICTIVE, now_ms, True, value, _round(ttl_s), slope_per_min, points))
    state = _set(
        s,
        predict_streak=streak,
        unpredict_streak=calm,
        predict_on=on,
        ttl_s=_round(ttl_s) if on else None,
        slope_per_min=slope_per_min,
    )
    return state, signals


def _wear(
    s: DetectorState, spec: SensorSpec, point: Point, now_ms: int
) -> tuple[DetectorState, list[Signal]]:
    """Multi-day wear: hourly means of settled running minutes, extrapolated to the limit."""
    hour = point[0] - point[0] % HOUR_MS
    hours = s.hours
    if s.hour_start >= 0 and hour > s.hour_start:
        if s.hour_n >= MIN_HOUR_MINUTES:
            hours = (*hours, (s.hour_start + HOUR_MS // 2, s.hour_sum / s.hour_n))[-HOURS:]
        s = _set(s, hour_n=0, hour_sum=0.0)
    appended = hours is not s.hours
    s = _set(s, hour_start=hour, hour_n=s.hour_n + 1, hour_sum=s.hour_sum + point[1], hours=hours)
    if spec.limit is None or not appended:
        return s, []
    points = hours[-WEAR_POINTS:]
    fit = fit_trend(points, HOUR_MS) if len(points) >= MIN_WEAR_POINTS else None
    ttl_s: float | None = None
    if fit is not None and fit.slope > 0 and fit.t >= WEAR_T and not fit.step_like:
        ttl_s = max(0.0, (spec.limit - fit.level) / fit.slope / 1000)
    soon = ttl_s is not None and ttl_s <= WEAR_HORIZON_S
    streak = s.wear_streak + 1 if soon else 0
    calm = 0 if soon else s.wear_calm + 1
    s = _set(s, wear_streak=streak, wear_calm=calm)
    if not s.wear_on and streak >= 2:
        slope = None if fit is None else round(fit.slope * WINDOW_MS, 6)
        return _set(s, wear_on=True), [Signal(WEAR, now_ms, True, point[1], _round(ttl_s), slope, points)]
    if s.wear_on and calm >= 3:
        return _set(s, wear_on=False), [Signal(WEAR, now_ms, False, point[1])]
    return s, []


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def to_json(state: DetectorState) -> str:
    """Compact, stable encoding for the read-model row (same state, same bytes). msgspec writes it in
    a ninth of the stdlib's time, but writes a non-finite float as null: where it did (more nulls
    than None fields), the stdlib's encoding, whose Infinity and NaN read back as they were."""
    values = _FIELDS(state)
    encoded = _ENCODE(values)
    if encoded.count(b"null") != values.count(None):
        return json.dumps(values, separators=(",", ":"))
    return encoded.decode()


_ENCODE = msgspec.json.Encoder().encode
_DECODE = msgspec.json.Decoder().decode
_PAIRS = tuple(_SLOTS.index(name) for name in ("history", "hours"))
_TUPLES = tuple(_SLOTS.index(name) for name in ("spikes", "noise", "bursts"))


def from_json(text: str | None) -> DetectorState | None:
    """The stored state; one written by an older detector layout starts afresh."""
    if not text:
        return None
    try:
        values = _DECODE(text)
    except msgspec.DecodeError:  # Infinity or NaN, which only the stdlib reads
        values = json.loads(text)
    if len(values) != len(_SLOTS):
        return None
    for index in _PAIRS:  # JSON keeps ints and floats apart: no conversion needed
        values[index] = tuple(map(tuple, values[index]))
    for index in _TUPLES:
        values[index] = tuple(values[index])
    return DetectorState(*values)
