"""The decoded CloudEvents envelope, with where it came from in the log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shopfloor.events.models import EventData


@dataclass(frozen=True, slots=True)
class Envelope:
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

    @property
    def clock_ms(self) -> int:
        """Time for windows and retention: the event's `time`, but never later than the log's own
        timestamp, so one producer's clock cannot move a cut-off further than the log has come."""
        event_ms = int(self.time.timestamp() * 1000)
        return event_ms if self.log_ms is None else min(event_ms, self.log_ms)

    @property
    def dedup_key(self) -> str:
        """(source, id) identifies an event; duplicates of it change nothing."""
        return f"{self.source}\x1f{self.id}"

    @property
    def entity(self) -> tuple[str, str]:
        return self.data.stream, self.data.entity_id()
