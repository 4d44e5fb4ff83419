"""Reading the moment a past view asks for: RFC 3339, or the plant's local wall-clock time."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from shopfloor.store.db import to_ms

MAX_TEXT = 64
AHEAD_MS = 60_000  # how far ahead of this server's clock a moment may be, unless the caller says


class BadMoment(ValueError):
    """The text is not a time this page can show; the message says what is accepted."""


ACCEPTED = (
    "use RFC 3339 (2026-11-27T14:02:00Z, 2026-11-27T14:02:00+01:00), "
    "plant local time (2026-11-27T14:02 or 2026-11-27 14:02:05) or a time of day (14:02)"
)


def parse_moment(text: str, zone: ZoneInfo, now_ms: int, ahead_ms: int = AHEAD_MS) -> int:
    """Epoch ms of `text`. Without an offset it is plant local time; a bare time of day is its latest
    occurrence at or before `now_ms` (the shift that just ended, not tomorrow's). A moment that has
    not come yet is refused: a past view shows what happened, and nothing has happened then."""
    text = text.strip()
    if not text or len(text) > MAX_TEXT:
        raise BadMoment(f"'at' is empty or too long; {ACCEPTED}")
    try:
        of_day = time.fromisoformat(text)
    except ValueError:
        of_day = None
    if of_day is not None and len(text) <= 8:
        if of_day.tzinfo is not None:
            raise BadMoment(f"a time of day takes the plant's time zone, no offset; {ACCEPTED}")
        today = datetime.fromtimestamp(now_ms / 1000, zone).date()
        moment = datetime.combine(today, of_day, zone)
        if to_ms(moment) > now_ms:
            moment = datetime.combine(today - timedelta(days=1), of_day, zone)
        return to_ms(moment)
    if "T" in text:
        text = text.replace(" ", "+")  # an unescaped "+01:00" in a query string arrives as " 01:00"
    try:
        moment = datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError:
        raise BadMoment(f"{text[:MAX_TEXT]!r} is not a time; {ACCEPTED}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    if not 1970 <= moment.year <= 9000:
        raise BadMoment(f"{text[:MAX_TEXT]!r} is out of range")
    at_ms = to_ms(moment)
    if at_ms > now_ms + ahead_ms:
        raise BadMoment(f"{text[:MAX_TEXT]!r} has not happened yet; a past view shows a moment up to now")
    return at_ms


def local_label(at_ms: int, zone: ZoneInfo) -> str:
    """How the banner shows the moment: plant local date and time, with its zone."""
    return datetime.fromtimestamp(at_ms / 1000, zone).strftime("%Y-%m-%d %H:%M:%S %Z")
