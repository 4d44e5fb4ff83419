"""Outbound order tables, the batch handler around the pure fold, and the queries pages use.

Late and stuck are judged when reading, with the clock passed in by the caller; the indexes on
`(stage, due_ms)` and `(stage, stage_since_ms)` keep those questions cheap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from shopfloor.projections.outbound import EVENT_STAGE, OPEN_STAGES, Order, Step, fold
from shopfloor.store.entity import EntityHandler, like
from shopfloor.store.schema import table_of

VIEW = "outbound"


ORDERS = table_of(
    Order,
    "outbound_orders",
    key=("order_id",),
    indexes={
        "ix_outbound_stage_since": ("stage", "stage_since_ms"),
        "ix_outbound_stage_due": ("stage", "due_ms"),
    },
)
STEPS = table_of(Step, "outbound_order_steps", key=("order_id", "position"))


class OutboundHandler(EntityHandler):
    event_types = frozenset(EVENT_STAGE)
    table, fold, view = ORDERS, staticmethod(fold), VIEW
    appends = {Step: STEPS}


# --- reads -----------------------------------------------------------------------------------


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
        query = query.where(ORDERS.c.order_id.ilike(like(q), escape="\\"))
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
        query = query.where(ORDERS.c.order_id.ilike(like(q), escape="\\"))
    return {stage: count for stage, count in conn.execute(query)}


def count_attention(
    conn: Connection, now_ms: int, limits_ms: Mapping[str, int], *, late: bool, stuck: bool
) -> int:
    condition = _attention(now_ms, limits_ms, late, stuck)
    if condition is None:
        return 0
    return conn.execute(select(func.count()).select_from(ORDERS).where(condition)).scalar_one()


def attention_counts(conn: Connection, now_ms: int, limits_ms: Mapping[str, int]) -> dict[str, int]:
    return {
        "late": count_attention(conn, now_ms, limits_ms, late=True, stuck=False),
        "stuck": count_attention(conn, now_ms, limits_ms, late=False, stuck=True),
    }


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
