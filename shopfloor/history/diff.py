"""What changed on a board between two moments: rows added, removed and changed, with the events
that did it. Pure: rows and events in, the difference out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shopfloor.events.envelope import Envelope

Rows = Mapping[str, Mapping[str, Any]]


@dataclass
class Change:
    key: str
    kind: str  # added | removed | changed
    fields: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # name -> (before, after)
    events: list[dict[str, Any]] = field(default_factory=list)


def diff(before: Rows, after: Rows, compared: Iterable[str]) -> list[Change]:
    """Rows by key; `compared` are the fields a reader cares about (the board's columns)."""
    names = list(compared)
    changes: list[Change] = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old is None:
            changes.append(Change(key, "added", {n: (None, new[n]) for n in names if new.get(n) is not None}))  # type: ignore[union-attr]
        elif new is None:
            changes.append(
                Change(key, "removed", {n: (old[n], None) for n in names if old.get(n) is not None})
            )
        else:
            moved = {n: (old.get(n), new.get(n)) for n in names if old.get(n) != new.get(n)}
            if moved:
                changes.append(Change(key, "changed", moved))
    return changes


def attach_events(changes: list[Change], events: Iterable[Envelope]) -> None:
    """Each change gets the events on its entity (by entity id), oldest first."""
    by_key = {c.key: c for c in changes}
    for event in sorted(events, key=lambda e: (e.time, e.offset)):
        change = by_key.get(event.data.entity_id())
        if change is not None:
            change.events.append(
                {
                    "type": event.type,
                    "time": event.time.isoformat(),
                    "at_ms": event.event_ms,  # shown in plant time
                    "source": event.source,
                    "id": event.id,
                    "summary": summary(event),
                }
            )


def summary(event: Envelope) -> str:
    data = event.data
    parts = [
        str(getattr(data, name))
        for name in ("status", "stage", "reason", "operator")
        if getattr(data, name, None)
    ]
    done = getattr(data, "quantity_done", None)
    if done is not None:
        parts.append(f"{done} done")
    return ", ".join(parts)
