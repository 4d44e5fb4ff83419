"""Dates and times typed into pages and APIs: read in plant time unless they carry an offset, kept
within what the pages can show, and a range of them bounded, alike on every route that takes one."""

from __future__ import annotations

from datetime import datetime, tzinfo

from shopfloor.events.models import plausible_instant

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
MAX_RANGE_MS = 31 * DAY_MS + HOUR_MS  # 31 of the plant's days, one an hour longer when clocks go back


def plant_instant(text: str, name: str, zone: tzinfo) -> int:
    """`YYYY-MM-DD` or `YYYY-MM-DDTHH:MM[:SS]` as epoch ms; ValueError with the reason (a 400) for
    anything else or a moment outside 1970-2100, which plant time could not show (year 1 or 9999)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{name}: expected a date like 2026-12-01 or 2026-12-01T08:00, got {text[:40]!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    try:
        plausible_instant(moment)
    except ValueError as exc:
        raise ValueError(f"{name} {exc}") from None
    return int(moment.timestamp() * 1000)


def check_range(from_ms: int, to_ms: int) -> None:
    """ValueError with the reason unless `from_ms` comes before `to_ms`, at most 31 days after."""
    if from_ms >= to_ms:
        raise ValueError("from must be before to")
    if to_ms - from_ms > MAX_RANGE_MS:
        raise ValueError("the range may span at most 31 days")
