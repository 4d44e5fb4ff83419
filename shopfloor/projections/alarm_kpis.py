"""Alarm-system performance per ISA-18.2 / EEMUA 191, from the alarms raised in a time range.

Pure: alarm rows in, figures out. An area is a production line (one operator's span of control).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

TEN_MIN_MS = 10 * 60_000
FLOOD_OVER = 10  # more than 10 alarms in 10 minutes: a flood
ACCEPTABLE_PER_10_MIN = 1.0  # about one alarm per operator per 10 minutes
CHATTER_COUNT, CHATTER_WINDOW_MS = 3, 60_000  # the same alarm raised 3 times within a minute
STANDING_MS = 24 * 3600_000  # active for more than a day: a standing (stale) alarm

Source = tuple[str, str, str]  # equipment, sensor, kind


@dataclass(frozen=True, slots=True)
class AreaRate:
    area: str
    alarms: int
    per_10_min: float  # average over the range
    peak_10_min: int  # the busiest aligned 10-minute interval
    acceptable: bool


@dataclass
class Kpis:
    from_ms: int
    to_ms: int
    total: int = 0
    areas: list[AreaRate] = field(default_factory=list)
    floods: list[tuple[int, int]] = field(default_factory=list)  # (10-minute interval start, alarms)
    flood_share: float = 0.0  # share of 10-minute intervals in flood
    top: list[tuple[Source, int]] = field(default_factory=list)
    chattering: list[tuple[Source, int]] = field(default_factory=list)  # worst burst within a minute
    standing: list[dict[str, Any]] = field(default_factory=list)


def compute(
    alarms: Iterable[Mapping[str, Any]], areas: Mapping[str, str], from_ms: int, to_ms: int, now_ms: int
) -> Kpis:
    """`alarms`: rows with equipment_id, sensor, kind, opened_ms, active; `areas`: equipment -> line."""
    rows = [a for a in alarms if from_ms <= a["opened_ms"] < to_ms]
    kpis = Kpis(from_ms, to_ms, total=len(rows))
    span_10 = max(1.0, (to_ms - from_ms) / TEN_MIN_MS)
    by_area: dict[str, Counter[int]] = {}
    plant: Counter[int] = Counter()
    sources: Counter[Source] = Counter()
    times: dict[Source, list[int]] = {}
    for a in rows:
        bucket = a["opened_ms"] - (a["opened_ms"] - from_ms) % TEN_MIN_MS
        area = areas.get(a["equipment_id"], "unassigned")
        by_area.setdefault(area, Counter())[bucket] += 1
        plant[bucket] += 1
        source = (a["equipment_id"], a["sensor"], a["kind"])
        sources[source] += 1
        times.setdefault(source, []).append(a["opened_ms"])
    for area in sorted(by_area):
        counts = by_area[area]
        total = sum(counts.values())
        rate = total / span_10
        kpis.areas.append(
            AreaRate(area, total, round(rate, 3), max(counts.values()), rate <= ACCEPTABLE_PER_10_MIN)
        )
    kpis.floods = sorted((start, n) for start, n in plant.items() if n > FLOOD_OVER)
    kpis.flood_share = round(len(kpis.floods) / span_10, 4)
    kpis.top = sorted(sources.items(), key=lambda item: (-item[1], item[0]))[:10]
    for source, stamps in times.items():
        worst = _densest(sorted(stamps), CHATTER_WINDOW_MS)
        if worst >= CHATTER_COUNT:
            kpis.chattering.append((source, worst))
    kpis.chattering.sort(key=lambda item: (-item[1], item[0]))
    kpis.standing = sorted(
        (dict(a) for a in alarms if a["active"] and now_ms - a["opened_ms"] > STANDING_MS),
        key=lambda a: a["opened_ms"],
    )
    return kpis


def _densest(stamps: list[int], window_ms: int) -> int:
    """Most stamps within any window of `window_ms` (two pointers over sorted stamps)."""
    best, left = 0, 0
    for right, stamp in enumerate(stamps):
        while stamp - stamps[left] > window_ms:
            left += 1
        best = max(best, right - left + 1)
    return best
