"""The plant's shift calendar: which shift an instant falls in, and its planned production time.

Pure: every function takes instants (epoch ms) and a Calendar; nothing reads the clock. Shifts and
breaks are local wall-clock spans in the plant's time zone, so a shift over midnight (22:00-06:00)
and a change to or from daylight-saving time both come out right.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Span = tuple[time, time]
Interval = tuple[int, int]  # [start_ms, end_ms)


@dataclass(frozen=True, slots=True)
class Shift:
    start_ms: int
    end_ms: int
    label: str  # local start, e.g. "2026-12-01 06:00"


@dataclass(frozen=True, slots=True)
class Calendar:
    zone: ZoneInfo
    shifts: tuple[Span, ...]
    breaks: tuple[Span, ...] = ()

    @classmethod
    def parse(cls, zone: str, shifts: str, breaks: str = "") -> Calendar:
        """From setting strings; raises ValueError with a readable message on bad input."""
        try:
            tz = ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {zone!r}") from exc
        spans = parse_spans(shifts)
        if not spans:
            raise ValueError("at least one shift is needed")
        return cls(tz, spans, parse_spans(breaks))


def parse_spans(text: str) -> tuple[Span, ...]:
    """ "06:00-14:00,14:00-22:00" -> ((06:00, 14:00), (14:00, 22:00)); an end <= start runs past midnight."""
    spans = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        start, sep, end = part.partition("-")
        if not sep:
            raise ValueError(f"expected HH:MM-HH:MM, got {part[:40]!r}")
        try:
            spans.append((time.fromisoformat(start.strip()), time.fromisoformat(end.strip())))
        except ValueError as exc:
            raise ValueError(f"expected HH:MM-HH:MM, got {part[:40]!r}") from exc
        if spans[-1][0] == spans[-1][1]:
            raise ValueError(f"empty span {part[:40]!r}")
    return tuple(spans)


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def _local_day(calendar: Calendar, at_ms: int) -> date:
    return datetime.fromtimestamp(at_ms / 1000, calendar.zone).date()


def _spans_on(calendar: Calendar, spans: tuple[Span, ...], day: date) -> list[tuple[int, int, datetime]]:
    out = []
    for start, end in spans:
        begin = datetime.combine(day, start, tzinfo=calendar.zone)
        finish = datetime.combine(day + timedelta(days=1 if end <= start else 0), end, tzinfo=calendar.zone)
        out.append((_ms(begin), _ms(finish), begin))
    return out


def shift_at(calendar: Calendar, at_ms: int) -> Shift:
    """The shift that contains `at_ms`; a gap between configured shifts belongs to no shift, so the
    gap is reported as a shift of its own (nothing is planned in it)."""
    day = _local_day(calendar, at_ms)
    candidates = []
    for offset in (-1, 0, 1):
        candidates += _spans_on(calendar, calendar.shifts, day + timedelta(days=offset))
    for start, end, begin in candidates:
        if start <= at_ms < end:
            return Shift(start, end, begin.strftime("%Y-%m-%d %H:%M"))
    before = max((end for _, end, _ in candidates if end <= at_ms), default=at_ms)
    after = min((start for start, _, _ in candidates if start > at_ms), default=at_ms + 1)
    return Shift(before, after, "off shift")


def shifts_between(calendar: Calendar, from_ms: int, to_ms: int, limit: int = 500) -> list[Shift]:
    """Configured shifts overlapping [from_ms, to_ms), oldest first."""
    found: list[Shift] = []
    at = from_ms
    while at < to_ms and len(found) < limit:
        shift = shift_at(calendar, at)
        if shift.label != "off shift":
            found.append(shift)
        at = shift.end_ms
    return found


def breaks_in(calendar: Calendar, start_ms: int, end_ms: int) -> list[Interval]:
    """Planned breaks clipped to [start_ms, end_ms), merged and sorted."""
    first, last = _local_day(calendar, start_ms), _local_day(calendar, end_ms)
    found = []
    day = first - timedelta(days=1)
    while day <= last:
        for start, end, _ in _spans_on(calendar, calendar.breaks, day):
            if start < end_ms and end > start_ms:
                found.append((max(start, start_ms), min(end, end_ms)))
        day += timedelta(days=1)
    return merge(found)


def merge(intervals: list[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def overlap_ms(intervals: list[Interval], start_ms: int, end_ms: int) -> int:
    return sum(max(0, min(e, end_ms) - max(s, start_ms)) for s, e in intervals)


def planned_ms(calendar: Calendar, shift: Shift, upto_ms: int) -> int:
    """Planned production time of `shift` from its start up to `upto_ms`: elapsed minus breaks."""
    end = max(shift.start_ms, min(upto_ms, shift.end_ms))
    if shift.label == "off shift":
        return 0
    elapsed = end - shift.start_ms
    return elapsed - overlap_ms(breaks_in(calendar, shift.start_ms, end), shift.start_ms, end)
