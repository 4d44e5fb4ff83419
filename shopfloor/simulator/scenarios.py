"""Ground-truth sensor scenarios for judging the detector: what happened, and exactly when.

Each series is a list of (event ms, value) readings plus the episodes injected into it: noise
bursts, step changes, dropouts, and slow degradations that end in failure (the moment the
underlying value crosses the sensor's limit). Seeded, so an evaluation is repeatable.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from shopfloor.projections.anomaly import spec_for

NORMAL = "normal"
NOISE_BURST = "noise_burst"
STEP = "step"
DROPOUT = "dropout"
DEGRADATION = "degradation"
KINDS = (NORMAL, NOISE_BURST, STEP, DROPOUT, DEGRADATION)
DAY_MS = 86_400_000
MINUTE_MS = 60_000


@dataclass(frozen=True, slots=True)
class Profile:
    """How a healthy sensor of a kind behaves: level range, noise, slow daily swing."""

    base_low: float
    base_high: float
    noise: float
    swing: float = 0.0
    swing_period_ms: int = 6 * 3600 * 1000
    magnitude: bool = False  # never negative (a vibration velocity RMS)


PROFILES: dict[str, Profile] = {
    "vibration": Profile(1.5, 3.0, 0.15, magnitude=True),
    "temperature": Profile(55.0, 70.0, 0.4, swing=1.5),
    "power": Profile(15.0, 25.0, 0.6, swing=1.0),
    "pressure": Profile(5.0, 6.5, 0.05),
    "current": Profile(10.0, 16.0, 0.3),
}


@dataclass(frozen=True, slots=True)
class Episode:
    kind: str
    start_ms: int
    end_ms: int
    failure_ms: int | None = None


@dataclass
class Series:
    sensor: str
    readings: list[tuple[int, float]] = field(default_factory=list)
    episodes: list[Episode] = field(default_factory=list)


@dataclass
class _Plan:
    bursts: list[tuple[int, int, float]] = field(default_factory=list)
    steps: list[tuple[int, float]] = field(default_factory=list)
    gaps: list[tuple[int, int]] = field(default_factory=list)
    degradation: tuple[int, int, float] | None = None  # start, failure, exponent


def _spread(rng: random.Random, start_ms: int, duration_ms: int, count: int, length_ms: int) -> list[int]:
    """`count` episode starts, apart from each other and from the series ends."""
    slot = duration_ms // max(1, count)
    return [
        start_ms + i * slot + rng.randrange(length_ms, max(length_ms + 1, slot - 2 * length_ms))
        for i in range(count)
    ]


def series(
    kind: str,
    sensor: str,
    *,
    seed: int,
    start_ms: int,
    duration_ms: int = DAY_MS,
    rate_hz: float = 1.0,
) -> Series:
    """One sensor's readings over `duration_ms` with episodes of `kind` injected.

    For DEGRADATION the series ends at the failure (the machine stops), after at least three hours
    of healthy running.
    """
    rng = random.Random(seed)
    profile = PROFILES[sensor]
    limit = spec_for(sensor).limit or profile.base_high * 3
    base = rng.uniform(profile.base_low, profile.base_high)
    phase = rng.uniform(0, 2 * math.pi)
    plan = _Plan()
    out = Series(sensor)
    end_ms = start_ms + duration_ms
    if kind == NOISE_BURST:
        for t in _spread(rng, start_ms, duration_ms, 3, 20 * MINUTE_MS):
            length = rng.randrange(2, 11) * MINUTE_MS
            plan.bursts.append((t, t + length, rng.uniform(3, 8)))
            out.episodes.append(Episode(NOISE_BURST, t, t + length))
    elif kind == STEP:
        for t in _spread(rng, start_ms, duration_ms, 2, 60 * MINUTE_MS):
            size = rng.uniform(6, 12) * profile.noise * rng.choice((-1, 1))
            plan.steps.append((t, size))
            out.episodes.append(Episode(STEP, t, t))
    elif kind == DROPOUT:
        for t in _spread(rng, start_ms, duration_ms, 4, 40 * MINUTE_MS):
            length = rng.randrange(2, 31) * MINUTE_MS
            plan.gaps.append((t, t + length))
            out.episodes.append(Episode(DROPOUT, t, t + length))
    elif kind == DEGRADATION:
        begin = start_ms + rng.randrange(3 * 60, 5 * 60) * MINUTE_MS
        failure = begin + rng.randrange(60, 241) * MINUTE_MS
        plan.degradation = (begin, failure, rng.uniform(1.0, 2.5))
        out.episodes.append(Episode(DEGRADATION, begin, failure, failure))
        end_ms = failure
    elif kind != NORMAL:
        raise ValueError(f"unknown scenario kind {kind!r}")
    step_ms = max(1, round(1000 / rate_hz))
    t = start_ms + rng.randrange(step_ms)
    while t < end_ms:
        if not any(a <= t < b for a, b in plan.gaps):
            out.readings.append((t, round(_value(t, rng, profile, base, phase, limit, plan), 4)))
        t += step_ms
    return out


def _value(
    t: int, rng: random.Random, profile: Profile, base: float, phase: float, limit: float, plan: _Plan
) -> float:
    level = base + profile.swing * math.sin(2 * math.pi * t / profile.swing_period_ms + phase)
    level += sum(size for at, size in plan.steps if t >= at)
    noise = profile.noise
    for a, b, factor in plan.bursts:
        if a <= t < b:
            noise *= factor
    if plan.degradation is not None:
        begin, failure, exponent = plan.degradation
        if t >= begin:
            progress = (t - begin) / (failure - begin)
            level += (limit - base) * progress**exponent
            noise *= 1 + progress
    value = rng.gauss(level, noise)
    if rng.random() < 1 / 3600:  # a lone glitch about once an hour: never an alert on its own
        value += rng.choice((-1, 1)) * rng.uniform(6, 15) * profile.noise
    return abs(value) if profile.magnitude else value


# Whole machines: a status timeline (shifts, breaks, changeovers, restarts), load, ambient, and
# every sensor driven by them. Healthy families must raise no alarm; fault families say exactly
# what went wrong where and when.

MULTI_SHIFT = "multi_shift"
NOISY = "noisy"
LOAD_STEPS = "load_steps"
AMBIENT = "ambient"
STUCK = "stuck"
SILENT = "silent"
INTERMITTENT = "intermittent"
WEAR = "wear"
HEALTHY_FAMILIES = (MULTI_SHIFT, NOISY, LOAD_STEPS, AMBIENT)
SENSOR_FAULT_FAMILIES = (STUCK, SILENT)
FAILURE_FAMILIES = (DEGRADATION, INTERMITTENT, WEAR)
MACHINE_SENSORS = ("vibration", "temperature")
HOUR_MS = 3_600_000
RUNNING, IDLE = "RUNNING", "IDLE"


@dataclass(frozen=True, slots=True)
class SensorFault:
    sensor: str
    kind: str  # "stuck" or "silent"
    start_ms: int
    end_ms: int


@dataclass
class Machine:
    family: str
    statuses: list[tuple[int, str]] = field(default_factory=list)
    readings: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    faults: list[SensorFault] = field(default_factory=list)
    failure_ms: int | None = None
    failing_sensor: str | None = None
    degradation_start_ms: int | None = None
    end_ms: int = 0


def _timeline(rng: random.Random, start_ms: int, end_ms: int, shifts: bool) -> list[tuple[int, str, float]]:
    """(at ms, status, load) changes: per 8-hour shift a restart at a new load, a break, a changeover
    and a load step while running; without shifts, load steps every 1-3 hours."""
    changes: list[tuple[int, str, float]] = []
    if not shifts:
        t, load = start_ms, 1.0
        changes.append((t, RUNNING, load))
        while True:
            t += rng.randrange(60, 181) * MINUTE_MS
            if t >= end_ms:
                return changes
            load = rng.uniform(0.6, 1.15)
            changes.append((t, RUNNING, load))
    shift_ms = 8 * HOUR_MS
    t = start_ms
    while t < end_ms:
        load = rng.uniform(0.7, 1.15)
        stop = rng.randrange(5, 21) * MINUTE_MS
        changes.append((t, IDLE, 0.0))
        changes.append((t + stop, RUNNING, load))
        brk = t + rng.randrange(210, 270) * MINUTE_MS
        changes.append((brk, IDLE, 0.0))
        changes.append((brk + rng.randrange(20, 31) * MINUTE_MS, RUNNING, load))
        over = t + rng.choice((rng.randrange(60, 180), rng.randrange(320, 420))) * MINUTE_MS
        changes.append((over, IDLE, 0.0))
        load = rng.uniform(0.7, 1.15)
        changes.append((over + rng.randrange(15, 41) * MINUTE_MS, RUNNING, load))
        step = t + rng.randrange(60, 440) * MINUTE_MS
        changes.append((step, "STEP", rng.uniform(0.85, 1.2)))
        t += shift_ms
    ordered = sorted(c for c in changes if c[0] < end_ms)
    out: list[tuple[int, str, float]] = []
    status, load = IDLE, 0.0
    for at, what, value in ordered:  # replay so overlapping episodes resolve to one consistent timeline
        if what == "STEP":
            if status == RUNNING:
                load = max(0.6, min(1.15, load * value))
                out.append((at, RUNNING, load))
            continue
        if what == RUNNING:
            status, load = RUNNING, value
        else:
            status = IDLE
        out.append((at, status, load))
    return out


def machine(family: str, *, seed: int, start_ms: int, days: float = 1.0, rate_hz: float = 1.0) -> Machine:
    """One machine with a vibration and a temperature sensor, of a healthy or a fault family."""
    rng = random.Random(seed)
    end_ms = start_ms + int(days * DAY_MS)
    shifts = family not in (LOAD_STEPS, AMBIENT, DEGRADATION)
    # a wearing machine runs on until its level crosses the limit (at most a day past the plan)
    run_to = end_ms + DAY_MS if family == WEAR else end_ms
    timeline = _timeline(rng, start_ms, run_to, shifts)
    if family == DEGRADATION:
        timeline = [(start_ms, RUNNING, 1.0)]
    out = Machine(family, end_ms=end_ms)
    noise_factor = rng.uniform(2.5, 4.0) if family == NOISY else 1.0
    ambient_amp = rng.uniform(5.0, 8.0) if family == AMBIENT else rng.uniform(1.0, 3.0)
    bursts: list[tuple[int, int, float]] = []
    if family == NOISY:
        for t in _spread(rng, start_ms, end_ms - start_ms, int(3 * days), 20 * MINUTE_MS):
            bursts.append((t, t + rng.randrange(2, 11) * MINUTE_MS, rng.uniform(3, 8)))
    degradation: tuple[int, int, float] | None = None
    failing = rng.choice(MACHINE_SENSORS)
    if family == INTERMITTENT:
        failing = "vibration"
    if family == DEGRADATION:
        begin = start_ms + rng.randrange(3 * 60, 5 * 60) * MINUTE_MS
        degradation = (begin, begin + rng.randrange(60, 241) * MINUTE_MS, rng.uniform(1.0, 2.5))
    elif family == WEAR:
        degradation = (start_ms, end_ms, rng.uniform(1.0, 2.5))
    elif family == INTERMITTENT:
        lead = rng.randrange(3 * 60, 6 * 60) * MINUTE_MS
        begin = end_ms - lead
        t, gap, strength = begin, rng.uniform(40, 60) * MINUTE_MS, rng.uniform(2.5, 3.5)
        while t < end_ms:
            progress = (t - begin) / lead
            length = int(rng.uniform(1, 3) * MINUTE_MS)
            bursts.append((t, t + length, strength * (1 + 3 * progress)))
            t += int(max(3 * MINUTE_MS, gap * (1 - progress) ** 1.5))
        degradation = None
        out.failure_ms, out.failing_sensor, out.degradation_start_ms = end_ms, failing, begin
    statuses = [(at, status) for at, status, _ in timeline]
    out.statuses = [s for i, s in enumerate(statuses) if i == 0 or s[1] != statuses[i - 1][1]]
    faults: list[SensorFault] = []
    if family in SENSOR_FAULT_FAMILIES:
        sensor = rng.choice(MACHINE_SENSORS)
        runs = _running_spans(timeline, end_ms, min_ms=40 * MINUTE_MS)
        a, _ = runs[rng.randrange(len(runs))]
        begin = a + rng.randrange(15, 21) * MINUTE_MS
        length = rng.randrange(20, 181 if family == STUCK else 61) * MINUTE_MS
        faults.append(SensorFault(sensor, family, begin, min(begin + length, end_ms - MINUTE_MS)))
    out.faults = faults
    for sensor in MACHINE_SENSORS:
        sensor_rng = random.Random(rng.random())
        drift = degradation if sensor == failing else None
        sensor_bursts = bursts if family == NOISY or sensor == failing else []
        readings, failure = _machine_sensor(
            sensor_rng,
            sensor,
            timeline,
            start_ms,
            run_to,
            rate_hz,
            noise_factor,
            ambient_amp,
            drift,
            sensor_bursts,
        )
        for fault in faults:
            if fault.sensor == sensor:
                readings = _inject(readings, fault)
        out.readings[sensor] = readings
        if drift is not None:
            out.failure_ms, out.failing_sensor, out.degradation_start_ms = failure, sensor, drift[0]
    if family == WEAR and out.failure_ms is None:
        out.failure_ms = run_to  # ran a day past plan without crossing: counted, and surely missed
    if out.failure_ms is not None or run_to > end_ms:
        cut = out.failure_ms or end_ms
        out.readings = {s: [r for r in rs if r[0] < cut] for s, rs in out.readings.items()}
        out.statuses = [s for s in out.statuses if s[0] < cut]
        out.end_ms = cut
    return out


def _running_spans(timeline: list[tuple[int, str, float]], end_ms: int, min_ms: int) -> list[tuple[int, int]]:
    spans = []
    for i, (at, status, _) in enumerate(timeline):
        nxt = timeline[i + 1][0] if i + 1 < len(timeline) else end_ms
        if status == RUNNING and nxt - at >= min_ms:
            if spans and spans[-1][1] == at:
                spans[-1] = (spans[-1][0], nxt)
            else:
                spans.append((at, nxt))
    return spans or [(timeline[0][0], end_ms)]


def _inject(readings: list[tuple[int, float]], fault: SensorFault) -> list[tuple[int, float]]:
    if fault.kind == SILENT:
        return [r for r in readings if not fault.start_ms <= r[0] < fault.end_ms]
    frozen = next((v for t, v in readings if t >= fault.start_ms), 0.0)
    return [(t, frozen) if fault.start_ms <= t < fault.end_ms else (t, v) for t, v in readings]


def _machine_sensor(
    rng: random.Random,
    sensor: str,
    timeline: list[tuple[int, str, float]],
    start_ms: int,
    end_ms: int,
    rate_hz: float,
    noise_factor: float,
    ambient_amp: float,
    degradation: tuple[int, int, float] | None,
    bursts: list[tuple[int, int, float]],
) -> tuple[list[tuple[int, float]], int | None]:
    """Readings of one sensor driven by status and load; returns them and when the level crossed the limit."""
    profile = PROFILES[sensor]
    limit = spec_for(sensor).limit or profile.base_high * 3
    noise = profile.noise * noise_factor
    phase = rng.uniform(0, 2 * math.pi)
    base = rng.uniform(profile.base_low, profile.base_high)
    step_ms = max(1, round(1000 / rate_hz))
    t = start_ms + rng.randrange(step_ms)
    idx, status, load = 0, IDLE, 0.0
    temp = 22.0 + 8.0
    readings: list[tuple[int, float]] = []
    failure: int | None = None
    burst_idx = 0
    while t < end_ms:
        while idx < len(timeline) and timeline[idx][0] <= t:
            _, status, load = timeline[idx]
            idx += 1
        running = status == RUNNING
        extra = 0.0
        if degradation is not None and t >= degradation[0]:
            begin, fail, exponent = degradation
            progress = (t - begin) / max(1, fail - begin)
            extra = (1.05 * limit - base) * progress**exponent
        if sensor == "temperature":
            ambient = 22.0 + ambient_amp * math.sin(2 * math.pi * t / DAY_MS + phase)
            target = ambient + ((base - 22.0) * load + extra if running else 6.0)
            tau = 15 * MINUTE_MS if running else 25 * MINUTE_MS
            temp += (target - temp) * (1 - math.exp(-step_ms / tau))
            level, sigma = temp, noise
        else:
            level = (base * load + extra) if running else 0.1 * base
            sigma = noise if running else noise * 0.3
        if running and failure is None and degradation is not None and level >= limit:
            failure = t
            break
        while burst_idx < len(bursts) and bursts[burst_idx][1] <= t:
            burst_idx += 1
        if running and burst_idx < len(bursts) and bursts[burst_idx][0] <= t:
            sigma *= bursts[burst_idx][2]
        value = rng.gauss(level, sigma)
        if sensor == "vibration":
            value = abs(value)
        readings.append((t, round(value, 4)))
        t += step_ms
    return readings, failure
