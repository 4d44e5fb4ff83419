"""What a committed batch changed: per view, the keys to re-render and the oldest event time."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import Connection, Table

from shopfloor.events.envelope import Envelope

EVERYTHING = "*"


@dataclass
class Changes:
    keys: dict[str, set[str]] = field(default_factory=dict)
    oldest_event_ms: dict[str, int] = field(default_factory=dict)

    def mark(self, view: str, key: str, event_ms: int) -> None:
        self.keys.setdefault(view, set()).add(key)
        oldest = self.oldest_event_ms.get(view)
        if oldest is None or event_ms < oldest:
            self.oldest_event_ms[view] = event_ms

    def mark_many(self, view: str, keys: Iterable[str], oldest_ms: int) -> None:
        """`mark` for many keys at once, `oldest_ms` the oldest of their events' times."""
        self.keys.setdefault(view, set()).update(keys)
        oldest = self.oldest_event_ms.get(view)
        if oldest is None or oldest_ms < oldest:
            self.oldest_event_ms[view] = oldest_ms

    def __bool__(self) -> bool:
        return bool(self.keys)


@dataclass(frozen=True)
class ChangeNotice:
    """Sent after commit to whoever renders pages (in process, or over PostgreSQL NOTIFY)."""

    version: int
    keys: dict[str, frozenset[str]]
    oldest_event_ms: dict[str, int]
    # W3C traceparent of the `apply batch` span that committed it (None when tracing is off): lets
    # the SSE push link back to the batch, also across processes (NOTIFY key "p", omitted when None).
    trace: str | None = field(default=None, compare=False)


class Handler(Protocol):
    """Applies a projection's events inside the batch transaction (load, pure fold, save); names the
    tables it writes and the views it marks (the registry groups and rebuilds by them)."""

    event_types: frozenset[str]
    tables: tuple[Table, ...]
    views: tuple[str, ...]

    def apply(self, conn: Connection, events: Sequence[Envelope], changes: Changes) -> None: ...
