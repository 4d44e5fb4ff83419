"""Outbound order tables, the batch handler around the pure fold, and the queries pages use.

Late and stuck are judged when reading, with the clock passed in by the caller; the indexes on
`(stage, due_ms)` and `(stage, stage_since_ms)` keep those questions cheap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from sqlalchemy import BigInteger, Connection, Float, Index, and_, func, or_, select
from sqlmodel import Field, SQLModel

from shopfloor.events.envelope import Envelope
from shopfloor.projections.outbound import OPEN_STAGES, Order, fold
from shopfloor.store.changes import Changes
from shopfloor.store.db import insert_ignore, upsert

VIEW = "outbound"
CHUNK = 400


class OrderRow(SQLModel, table=True):
    __tablename__ = "outbound_orders"
    order_id: str = Field(primary_key=True)
    stage: str
    stage_since_ms: int = Field(sa_type=BigInteger)
    customer: str | None = None
    priority: str | None = None
    lines_json: str = "[]"
    line_count: int = 0
    units: int = 0
    amount: float | None = Field(default=None, sa_type=Float)
    carrier: str | None = None
    tracking_id: str | None = None
    due_ms: int | None = Field(default=None, sa_type=BigInteger)
    correlationid: str | None = None
    failure_reason: str | None = None
    cancel_reason: str | None = None
    created_ms: int | None = Field(default=None, sa_type=BigInteger)
    paid_ms: int | None = Field(default=None, sa_type=BigInteger)
    picked_ms: int | None = Field(default=None, sa_type=BigInteger)
    dispatched_ms: int | None = Field(default=None, sa_type=BigInteger)
    delivered_ms: int | None = Field(default=None, sa_type=BigInteger)
    failed_ms: int | None = Field(default=None, sa_type=BigInteger)
    cancelled_ms: int | None = Field(default=None, sa_type=BigInteger)
    inferred: str = ""
    out_of_order: str = ""
    first_ms: int = Field(sa_type=BigInteger)
    updated_ms: int = Field(sa_type=BigInteger)
    event_count: int = 0


class OrderStepRow(SQLModel, table=True):
    __tablename__ = "outbound_order_steps"
    order_id: str = Field(primary_key=True)
    position: int = Field(primary_key=True)
    event_type: str
    stage: str
    at_ms: int = Field(sa_type=BigInteger)
    event_id: str
    correlationid: str | None = None
    note: str = ""


ORDERS = OrderRow.__table__  # type: ignore[attr-defined]
STEPS = OrderStepRow.__table__  # type: ignore[attr-defined]
Index("ix_outbound_stage_since", ORDERS.c.stage, ORDERS.c.stage_since_ms)
Index("ix_outbound_stage_due", ORDERS.c.stage, ORDERS.c.due_ms)


class OutboundHandler:
    event_types = frozenset(
        {
            "OrderCreated",
            "PaymentProcessed",
            "PaymentFailed",
            "PickCompleted",
            "ShipmentDispatched",
            "DeliveryCompleted",
            "OrderCancelled",
        }
    )

    def apply(self, conn: Connection, events: Sequence[Envelope], changes: Changes) -> None:
        ids = sorted({e.data.entity_id() for e in events})
        states: dict[str, Order] = {}
        for start in range(0, len(ids), CHUNK):
            query = select(ORDERS).where(ORDERS.c.order_id.in_(ids[start : start + CHUNK]))
            states.update({r.order_id: Order(**r._mapping) for r in conn.execute(query)})
        steps: list[dict[str, Any]] = []
        for event in events:
            folded = fold(states.get(event.data.entity_id()), event)
            states[folded.order.order_id] = folded.order
            steps.append(asdict(folded.step))
            changes.mark(VIEW, folded.order.order_id, int(event.time.timestamp() * 1000))
        upsert(conn, ORDERS, [asdict(states[i]) for i in ids], ["order_id"])
        insert_ignore(conn, STEPS, steps)


# --- reads -----------------------------------------------------------------------------------


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _attention(now_ms: int, limits_ms: Mapping[str, int], late: bool, stuck: bool) -> Any:
    conditions = []
    if late:
        conditions.append(and_(ORDERS.c.stage.in_(OPEN_STAGES), ORDERS.c.due_ms < now_ms))
    if stuck:
        conditions.extend(
            and_(ORDERS.c.stage == stage, ORDERS.c.stage_since_ms < now_ms - limit)
            for stage, limit in limits_ms.items()
            if stage in OPEN_STAGES
        )
    return or_(*conditions) if conditions else None


def list_orders(
    conn: Connection,
    *,
    q: str | None = None,
    stage: str | None = None,
    ids: Sequence[str] | None = None,
    late: bool = False,
    stuck: bool = False,
    now_ms: int = 0,
    limits_ms: Mapping[str, int] | None = None,
    newest_first: bool = False,
    limit: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Orders by filter; in a stage they come oldest-in-stage first (longest waiting on top)."""
    query = select(ORDERS)
    if q:
        query = query.where(ORDERS.c.order_id.ilike(_like(q), escape="\\"))
    if stage:
        query = query.where(ORDERS.c.stage == stage)
    if ids is not None:
        query = query.where(ORDERS.c.order_id.in_(list(ids)))
    if late or stuck:
        condition = _attention(now_ms, limits_ms or {}, late, stuck)
        if condition is None:
            return []
        query = query.where(condition)
    since = ORDERS.c.stage_since_ms.desc() if newest_first else ORDERS.c.stage_since_ms
    query = query.order_by(since, ORDERS.c.order_id)
    if limit is not None:
        query = query.limit(limit).offset(offset)
    return [dict(r._mapping) for r in conn.execute(query)]


def stage_counts(conn: Connection, q: str | None = None) -> dict[str, int]:
    query = select(ORDERS.c.stage, func.count()).group_by(ORDERS.c.stage)
    if q:
        query = query.where(ORDERS.c.order_id.ilike(_like(q), escape="\\"))
    return {stage: count for stage, count in conn.execute(query)}


def attention_counts(conn: Connection, now_ms: int, limits_ms: Mapping[str, int]) -> dict[str, int]:
    counts = {}
    for name, late, stuck in (("late", True, False), ("stuck", False, True)):
        condition = _attention(now_ms, limits_ms, late, stuck)
        counts[name] = (
            0
            if condition is None
            else conn.execute(select(func.count()).select_from(ORDERS).where(condition)).scalar_one()
        )
    return counts


def get_order(conn: Connection, order_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(ORDERS).where(ORDERS.c.order_id == order_id)).first()
    return None if row is None else dict(row._mapping)


def get_steps(conn: Connection, order_id: str) -> list[dict[str, Any]]:
    query = select(STEPS).where(STEPS.c.order_id == order_id).order_by(STEPS.c.position)
    return [dict(r._mapping) for r in conn.execute(query)]


def picks_between(conn: Connection, start_ms: int, now_ms: int) -> list[tuple[int, int]]:
    """(picked_ms, units) of the orders picked in [start_ms, now_ms], for the pick rate."""
    query = select(ORDERS.c.picked_ms, ORDERS.c.units).where(
        ORDERS.c.picked_ms >= start_ms, ORDERS.c.picked_ms <= now_ms
    )
    return [(int(at), int(units)) for at, units in conn.execute(query)]


def upcoming_flips(
    conn: Connection, now_ms: int, limits_ms: Mapping[str, int], limit: int = 200
) -> dict[str, list[int]]:
    """The next `limit` instants at which an open order turns late, and turns stuck, if nothing
    happens: the page counts them up between events."""
    late_query = (
        select(ORDERS.c.due_ms)
        .where(ORDERS.c.stage.in_(OPEN_STAGES), ORDERS.c.due_ms >= now_ms)
        .order_by(ORDERS.c.due_ms)
        .limit(limit)
    )
    stuck: list[int] = []
    for stage, stage_limit in limits_ms.items():
        if stage not in OPEN_STAGES:
            continue
        query = (
            select(ORDERS.c.stage_since_ms)
            .where(ORDERS.c.stage == stage, ORDERS.c.stage_since_ms >= now_ms - stage_limit)
            .order_by(ORDERS.c.stage_since_ms)
            .limit(limit)
        )
        stuck.extend(int(since) + stage_limit for (since,) in conn.execute(query))
    return {
        "late": [int(due) for (due,) in conn.execute(late_query)],
        "stuck": sorted(stuck)[:limit],
    }
