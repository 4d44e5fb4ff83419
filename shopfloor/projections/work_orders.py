"""Work orders: current state per order, its status history, and counts per line and status."""

from __future__ import annotations

from typing import TypeVar

from shopfloor.events.envelope import Envelope
from shopfloor.events.models import WorkOrderStatusChanged
from shopfloor.projections.frozen import frozen

T = TypeVar("T")
UNASSIGNED_LINE = "unassigned"
OPEN_STATUSES = ("PLANNED", "RELEASED", "IN_PROGRESS", "ON_HOLD")


@frozen
class WorkOrder:
    work_order_id: str
    status: str
    line_id: str
    product: str | None
    quantity_planned: int | None
    quantity_done: int | None
    quantity_scrap: int | None
    operator: str | None
    reason: str | None
    correlationid: str | None
    created_ms: int
    updated_ms: int
    status_since_ms: int
    history_count: int


@frozen
class StatusEntry:
    work_order_id: str
    position: int
    status: str
    previous_status: str | None
    at_ms: int
    operator: str | None
    reason: str | None
    event_id: str
    correlationid: str | None


@frozen
class Folded:
    order: WorkOrder
    entry: StatusEntry | None
    count_deltas: dict[tuple[str, str], int]


def _pick(new: T | None, old: T | None) -> T | None:
    return old if new is None else new


def fold(current: WorkOrder | None, event: Envelope) -> Folded:
    """Apply one WorkOrderStatusChanged; fields an event leaves out keep their previous value."""
    data = event.data
    assert isinstance(data, WorkOrderStatusChanged)
    at_ms = event.event_ms
    status = str(data.status)
    changed = current is None or status != current.status
    count = 0 if current is None else current.history_count
    if current is None:
        order = WorkOrder(
            work_order_id=data.work_order_id,
            status=status,
            line_id=data.line_id or UNASSIGNED_LINE,
            product=data.product,
            quantity_planned=data.quantity_planned,
            quantity_done=data.quantity_done,
            quantity_scrap=data.quantity_scrap,
            operator=data.operator,
            reason=data.reason,
            correlationid=event.correlationid,
            created_ms=at_ms,
            updated_ms=at_ms,
            status_since_ms=at_ms,
            history_count=1,
        )
        previous = data.previous_status
    else:
        moved = status != current.status
        order = WorkOrder(  # positional, in field order: a keyword `replace` costs as much as the fold
            current.work_order_id,
            status,
            data.line_id or current.line_id,
            _pick(data.product, current.product),
            _pick(data.quantity_planned, current.quantity_planned),
            _pick(data.quantity_done, current.quantity_done),
            _pick(data.quantity_scrap, current.quantity_scrap),
            _pick(data.operator, current.operator),
            data.reason if moved else _pick(data.reason, current.reason),
            _pick(event.correlationid, current.correlationid),
            current.created_ms,
            max(current.updated_ms, at_ms),
            at_ms if moved else current.status_since_ms,
            count + 1 if changed else count,
        )
        previous = current.status
    entry = None
    if changed:
        entry = StatusEntry(
            work_order_id=order.work_order_id,
            position=count,
            status=status,
            previous_status=previous,
            at_ms=at_ms,
            operator=data.operator,
            reason=data.reason,
            event_id=event.id,
            correlationid=event.correlationid,
        )
    deltas: dict[tuple[str, str], int] = {}
    if current is None or (current.line_id, current.status) != (order.line_id, order.status):
        deltas[(order.line_id, order.status)] = 1
        if current is not None:
            deltas[(current.line_id, current.status)] = -1
    return Folded(order, entry, deltas)
