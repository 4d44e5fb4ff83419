"""Equipment: current status per machine, its line, and since when (from EquipmentStatusChanged)."""

from __future__ import annotations

from shopfloor.events.envelope import Envelope
from shopfloor.events.models import EquipmentStatusChanged
from shopfloor.projections.frozen import frozen, replace

UNASSIGNED_LINE = "unassigned"
UNKNOWN = "UNKNOWN"  # a machine known only from its sensor readings so far


@frozen
class Equipment:
    equipment_id: str
    line_id: str
    status: str
    reason: str | None
    status_since_ms: int
    updated_ms: int


def first_seen(equipment_id: str, at_ms: int) -> Equipment:
    """A machine that reports readings before any status event still belongs on the grid."""
    return Equipment(equipment_id, UNASSIGNED_LINE, UNKNOWN, None, at_ms, at_ms)


def fold(current: Equipment | None, event: Envelope) -> Equipment:
    """Apply one EquipmentStatusChanged; a missing line keeps the machine where it was."""
    data = event.data
    assert isinstance(data, EquipmentStatusChanged)
    at_ms = event.event_ms
    status = str(data.status)
    if current is None:
        return Equipment(
            data.equipment_id, data.line_id or UNASSIGNED_LINE, status, data.reason, at_ms, at_ms
        )
    changed = status != current.status
    return replace(
        current,
        line_id=data.line_id or current.line_id,
        status=status,
        reason=data.reason if changed or data.reason is not None else current.reason,
        status_since_ms=at_ms if changed else current.status_since_ms,
        updated_ms=max(current.updated_ms, at_ms),
    )
