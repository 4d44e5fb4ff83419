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

    @property
    def dedup_key(self) -> str:
        """(source, id) identifies an event; duplicates of it change nothing."""
        return f"{self.source}\x1f{self.id}"

    @property
    def entity(self) -> tuple[str, str]:
        return self.data.stream, self.data.entity_id()
