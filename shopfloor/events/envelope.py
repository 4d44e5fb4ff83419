"""The decoded CloudEvents envelope, with where it came from in the log."""

from __future__ import annotations

from datetime import datetime

import msgspec

from shopfloor.events.models import EventData


class Envelope(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """Immutable; a struct rather than a frozen dataclass because one is built per event and a frozen
    dataclass sets each of its fields through `object.__setattr__`."""

    id: str
    type: str
    source: str
    time: datetime
    data: EventData
    subject: str | None = None
    correlationid: str | None = None
    sequence: int | None = None
    traceparent: str | None = None  # CloudEvents distributed-tracing extension (W3C)
    topic: str = ""
    partition: int = 0
    offset: int = -1
    log_ms: int | None = None  # the record's log timestamp, when known
    time_ms: int | None = None  # `time` in epoch milliseconds, when the codec has computed it

    @property
    def event_ms(self) -> int:
        """`time` in epoch milliseconds (computed once by the codec)."""
        return int(self.time.timestamp() * 1000) if self.time_ms is None else self.time_ms

    @property
    def clock_ms(self) -> int:
        """Time for windows and retention: the event's `time`, but never later than the log's own
        timestamp, so one producer's clock cannot move a cut-off further than the log has come."""
        event_ms = self.event_ms
        return event_ms if self.log_ms is None else min(event_ms, self.log_ms)

    @property
    def dedup_key(self) -> str:
        """(source, id) identifies an event; duplicates of it change nothing."""
        return f"{self.source}\x1f{self.id}"

    @property
    def entity(self) -> tuple[str, str]:
        return self.data.stream, self.data.entity_id()
