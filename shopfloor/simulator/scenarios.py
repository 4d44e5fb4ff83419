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


PROFILES: dict[str, Profile] = {
    "vibration": Profile(1.5, 3.0, 0.15),
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
    return value
