"""Carrier cutoffs: will an open outbound order reach DISPATCHED before its carrier's next truck?

Pure: "now" and the recent stage durations are passed in. The estimate is the current pace: for the
stage the order is in, the median time orders recently took to leave it, less the time this order has
already spent there; then the median of each later stage up to DISPATCHED. A stage without recent
history counts as instant (no flag without evidence).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from statistics import median
from zoneinfo import ZoneInfo

PATH = ("CREATED", "PAID", "PICKED")  # the stages an order leaves on its way to DISPATCHED


def parse_cutoffs(text: str) -> dict[str, tuple[time, ...]]:
    """ "DHL=15:00;17:30,UPS=16:00" -> {"DHL": (15:00, 17:30), "UPS": (16:00,)}; ValueError otherwise."""
    result: dict[str, tuple[time, ...]] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        carrier, sep, times = part.partition("=")
        if not sep or not carrier.strip() or not times.strip():
            raise ValueError(f"expected CARRIER=HH:MM;HH:MM, got {part[:60]!r}")
        try:
            result[carrier.strip()] = tuple(sorted(time.fromisoformat(t.strip()) for t in times.split(";")))
        except ValueError as exc:
            raise ValueError(f"expected CARRIER=HH:MM;HH:MM, got {part[:60]!r}") from exc
    return result


def next_cutoff(zone: ZoneInfo, times: tuple[time, ...], now_ms: int) -> int | None:
    """The first cutoff (local wall-clock times, daily) after `now_ms`."""
    local = datetime.fromtimestamp(now_ms / 1000, zone)
    for offset in range(2):
        day = local.date() + timedelta(days=offset)
        for at in times:
            ms = int(datetime.combine(day, at, tzinfo=zone).timestamp() * 1000)
            if ms > now_ms:
                return ms
    return None


def stage_medians(durations: dict[str, list[int]]) -> dict[str, float]:
    """Median ms orders took to leave each stage (from the transitions seen recently)."""
    return {stage: median(values) for stage, values in durations.items() if values}


def expected_dispatch_ms(stage: str, stage_since_ms: int, now_ms: int, medians: dict[str, float]) -> float:
    if stage not in PATH:
        return now_ms
    at = stage_since_ms + medians.get(stage, 0.0)
    at = max(at, now_ms)
    for later in PATH[PATH.index(stage) + 1 :]:
        at += medians.get(later, 0.0)
    return at


def at_risk(
    stage: str,
    stage_since_ms: int,
    carrier: str | None,
    now_ms: int,
    medians: dict[str, float],
    cutoffs: dict[str, tuple[time, ...]],
    zone: ZoneInfo,
) -> bool:
    """True when, at the current pace, the order would be dispatched after its carrier's next cutoff."""
    if stage not in PATH or carrier not in cutoffs:
        return False
    cutoff = next_cutoff(zone, cutoffs[carrier], now_ms)  # type: ignore[index]
    return cutoff is not None and expected_dispatch_ms(stage, stage_since_ms, now_ms, medians) > cutoff
