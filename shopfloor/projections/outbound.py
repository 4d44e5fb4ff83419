"""Outbound orders: the saga stage of each order, when it entered each stage, and what arrived oddly.

Pure: the fold reads time only from events. Lateness and stuckness depend on "now", so they are
separate functions that take the clock as an argument and are evaluated at read time.

Out-of-order handling: a later stage arriving first moves the order forward and marks the stages
it skipped as inferred; when a skipped stage's event arrives later it fills in that stage's time
and is marked out of order, but never moves the stage backwards. Events after the saga ended are
kept in the timeline as "after end". Nothing is dropped silently.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from shopfloor.events.envelope import Envelope
from shopfloor.events.models import (
    OrderCancelled,
    OrderCreated,
    PaymentFailed,
    PaymentProcessed,
    ShipmentDispatched,
)
from shopfloor.projections.frozen import as_dict, frozen

STAGES = ("CREATED", "PAID", "PICKED", "DISPATCHED", "DELIVERED")
OPEN_STAGES = ("CREATED", "PAID", "PICKED", "DISPATCHED")
ENDINGS = ("PAYMENT_FAILED", "CANCELLED")
FINAL_STAGES = ("DELIVERED", *ENDINGS)
ALL_STAGES = (*STAGES, *ENDINGS)
EVENT_STAGE = {
    "OrderCreated": "CREATED",
    "PaymentProcessed": "PAID",
    "PickCompleted": "PICKED",
    "ShipmentDispatched": "DISPATCHED",
    "DeliveryCompleted": "DELIVERED",
    "PaymentFailed": "PAYMENT_FAILED",
    "OrderCancelled": "CANCELLED",
}
TIME_FIELD = {
    "CREATED": "created_ms",
    "PAID": "paid_ms",
    "PICKED": "picked_ms",
    "DISPATCHED": "dispatched_ms",
    "DELIVERED": "delivered_ms",
    "PAYMENT_FAILED": "failed_ms",
    "CANCELLED": "cancelled_ms",
}
NOTE_JUMPED = "skipped ahead"
NOTE_OUT_OF_ORDER = "out of order"
NOTE_REPEAT = "repeat"
NOTE_AFTER_END = "after end"


@frozen
class Order:
    order_id: str
    stage: str
    stage_since_ms: int
    customer: str | None
    priority: str | None
    lines_json: str
    line_count: int
    units: int
    amount: float | None
    carrier: str | None
    tracking_id: str | None
    due_ms: int | None
    correlationid: str | None
    failure_reason: str | None
    cancel_reason: str | None
    created_ms: int | None
    paid_ms: int | None
    picked_ms: int | None
    dispatched_ms: int | None
    delivered_ms: int | None
    failed_ms: int | None
    cancelled_ms: int | None
    inferred: str
    out_of_order: str
    first_ms: int
    updated_ms: int
    event_count: int


@frozen
class Step:
    """One applied event in an order's timeline, with how it was interpreted."""

    order_id: str
    position: int
    event_type: str
    stage: str
    at_ms: int
    event_id: str
    correlationid: str | None
    note: str


@frozen
class Folded:
    order: Order
    step: Step


def _names(text: str) -> list[str]:
    return [n for n in text.split(",") if n]


def _join(names: list[str]) -> str:
    return ",".join(s for s in ALL_STAGES if s in names)


def _blank(order_id: str, at_ms: int) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "stage": "",
        "stage_since_ms": at_ms,
        "customer": None,
        "priority": None,
        "lines_json": "[]",
        "line_count": 0,
        "units": 0,
        "amount": None,
        "carrier": None,
        "tracking_id": None,
        "due_ms": None,
        "correlationid": None,
        "failure_reason": None,
        "cancel_reason": None,
        **{name: None for name in TIME_FIELD.values()},
        "inferred": "",
        "out_of_order": "",
        "first_ms": at_ms,
        "updated_ms": at_ms,
        "event_count": 0,
    }


def _details(fields: dict[str, Any], event: Envelope) -> None:
    """Copy what the payload says; a field it leaves out keeps its value."""
    data = event.data
    if isinstance(data, OrderCreated):
        if data.customer is not None:
            fields["customer"] = data.customer
        if data.priority is not None:
            fields["priority"] = str(data.priority)
        if data.carrier is not None:
            fields["carrier"] = data.carrier
        if data.due_at is not None:
            fields["due_ms"] = int(data.due_at.timestamp() * 1000)
        if data.lines:
            lines = [{"sku": line.sku, "qty": line.qty} for line in data.lines]
            fields["lines_json"] = json.dumps(lines, separators=(",", ":"))
            fields["line_count"] = len(lines)
            fields["units"] = sum(line["qty"] for line in lines)
    elif isinstance(data, PaymentProcessed) and data.amount is not None:
        fields["amount"] = data.amount
    elif isinstance(data, PaymentFailed) and data.reason is not None:
        fields["failure_reason"] = data.reason
    elif isinstance(data, ShipmentDispatched):
        fields["carrier"] = data.carrier or fields["carrier"]
        fields["tracking_id"] = data.tracking_id or fields["tracking_id"]
    elif isinstance(data, OrderCancelled) and data.reason is not None:
        fields["cancel_reason"] = data.reason
    if event.correlationid is not None and fields["correlationid"] is None:
        fields["correlationid"] = event.correlationid


def _enter(fields: dict[str, Any], stage: str, at_ms: int) -> list[str]:
    """Move to `stage`; returns the earlier progress stages it skipped (now inferred)."""
    current = fields["stage"]
    upto = STAGES.index(stage) if stage in STAGES else 1
    start = STAGES.index(current) + 1 if current in STAGES else 0
    skipped = [s for s in STAGES[start:upto] if fields[TIME_FIELD[s]] is None]
    fields["stage"] = stage
    fields["stage_since_ms"] = at_ms
    fields["inferred"] = _join(_names(fields["inferred"]) + skipped)
    return skipped


def _transition(fields: dict[str, Any], stage: str, at_ms: int, is_new: bool) -> str:
    """Decide the stage move for one event; returns the note shown in the timeline."""
    current = fields["stage"]
    if is_new:
        skipped = _enter(fields, stage, at_ms)
        return f"{NOTE_JUMPED}: {', '.join(skipped)} inferred" if skipped else ""
    if current in FINAL_STAGES:
        if stage in STAGES and stage != current and at_ms <= fields["stage_since_ms"]:
            return NOTE_OUT_OF_ORDER
        return NOTE_REPEAT if stage == current else NOTE_AFTER_END
    if stage == "CANCELLED":
        _enter(fields, stage, at_ms)
        return ""
    if stage == "PAYMENT_FAILED":
        if current == "CREATED" or fields["paid_ms"] is None or at_ms > fields["paid_ms"]:
            _enter(fields, stage, at_ms)
            return ""
        return f"{NOTE_OUT_OF_ORDER}: an earlier failed attempt"
    rank, current_rank = STAGES.index(stage), STAGES.index(current)
    if rank > current_rank:
        skipped = _enter(fields, stage, at_ms)
        return f"{NOTE_JUMPED}: {', '.join(skipped)} inferred" if skipped else ""
    return NOTE_REPEAT if rank == current_rank else NOTE_OUT_OF_ORDER


def fold(current: Order | None, event: Envelope) -> Folded:
    """Apply one order event: stage move, stage entry time, details, and a timeline step."""
    stage = EVENT_STAGE[event.type]
    at_ms = event.event_ms
    order_id = event.data.entity_id()
    fields = _blank(order_id, at_ms) if current is None else as_dict(current)
    note = _transition(fields, stage, at_ms, current is None)
    time_field = TIME_FIELD[stage]
    previous = fields[time_field]
    if previous is not None and note == NOTE_OUT_OF_ORDER:
        note = NOTE_REPEAT
    fields[time_field] = at_ms if previous is None else min(previous, at_ms)
    if note.startswith(NOTE_OUT_OF_ORDER) or (note == NOTE_AFTER_END and stage in _names(fields["inferred"])):
        fields["out_of_order"] = _join([*_names(fields["out_of_order"]), stage])
        fields["inferred"] = _join([s for s in _names(fields["inferred"]) if s != stage])
    _details(fields, event)
    fields["first_ms"] = min(fields["first_ms"], at_ms)
    fields["updated_ms"] = max(fields["updated_ms"], at_ms)
    step = Step(
        order_id=order_id,
        position=fields["event_count"],
        event_type=event.type,
        stage=stage,
        at_ms=at_ms,
        event_id=event.id,
        correlationid=event.correlationid,
        note=note,
    )
    fields["event_count"] += 1
    return Folded(Order(**fields), step)


# --- read-time judgements: pure functions of (order, now) -------------------------------------


def is_open(order: Order) -> bool:
    return order.stage in OPEN_STAGES


def is_late(order: Order, now_ms: int) -> bool:
    """Late: still open (not delivered or ended) after its due time."""
    return is_open(order) and order.due_ms is not None and now_ms > order.due_ms


def delivered_late(order: Order) -> bool:
    return order.delivered_ms is not None and order.due_ms is not None and order.delivered_ms > order.due_ms


def stuck_deadline(order: Order, limits_ms: Mapping[str, int]) -> int | None:
    """When the order counts as stuck if it has not moved on; None when it cannot get stuck."""
    limit = limits_ms.get(order.stage)
    if not is_open(order) or limit is None:
        return None
    return order.stage_since_ms + limit


def is_stuck(order: Order, now_ms: int, limits_ms: Mapping[str, int]) -> bool:
    deadline = stuck_deadline(order, limits_ms)
    return deadline is not None and now_ms > deadline


@frozen
class StageSpan:
    stage: str
    entered_ms: int | None
    duration_ms: int | None
    current: bool
    inferred: bool
    out_of_order: bool


def timeline(order: Order, now_ms: int) -> list[StageSpan]:
    """Each stage the order passed (or is in), when it entered and how long it stayed."""
    path = [s for s in STAGES if getattr(order, TIME_FIELD[s]) is not None or s in _names(order.inferred)]
    if order.stage in ENDINGS:
        ended = order.stage_since_ms
        before_end = [s for s in path if (getattr(order, TIME_FIELD[s]) or ended + 1) <= ended]
        path = [*before_end, order.stage]
    inferred, late = set(_names(order.inferred)), set(_names(order.out_of_order))
    spans: list[StageSpan] = []
    for i, stage in enumerate(path):
        entered = getattr(order, TIME_FIELD[stage])
        current = stage == order.stage
        later = (getattr(order, TIME_FIELD[s]) for s in path[i + 1 :])
        following = next((t for t in later if t is not None), None)
        if entered is None:
            duration = None
        elif current:
            duration = None if order.stage in FINAL_STAGES else max(0, now_ms - entered)
        else:
            duration = None if following is None else max(0, following - entered)
        spans.append(StageSpan(stage, entered, duration, current, stage in inferred, stage in late))
    return spans


def order_lines(order: Order) -> list[dict[str, Any]]:
    try:
        lines = json.loads(order.lines_json)
    except ValueError:
        return []
    return lines if isinstance(lines, list) else []
