"""Work-order tables, the batch handler around the pure fold, and the queries pages use."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select

from shopfloor.projections.frozen import frozen
from shopfloor.projections.work_orders import OPEN_STATUSES, StatusEntry, WorkOrder, fold
from shopfloor.store.entity import EntityHandler
from shopfloor.store.schema import table_of

VIEW = "work-orders"


@frozen
class LineStatusCount:
    line_id: str
    status: str
    count: int


ORDERS = table_of(WorkOrder, "work_orders", key=("work_order_id",), index=("status", "line_id"))
HISTORY = table_of(StatusEntry, "work_order_history", key=("work_order_id", "position"))
COUNTS = table_of(LineStatusCount, "work_order_counts", key=("line_id", "status"))


class WorkOrderHandler(EntityHandler):
    event_types = frozenset({"WorkOrderStatusChanged"})
    table, fold, view = ORDERS, staticmethod(fold), VIEW
    appends = {StatusEntry: HISTORY}
    counts = COUNTS


def list_work_orders(
    conn: Connection,
    line: str | None = None,
    ids: Sequence[str] | None = None,
    status: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    query = select(ORDERS).order_by(ORDERS.c.line_id, ORDERS.c.work_order_id)
    if line:
        query = query.where(ORDERS.c.line_id == line)
    if status:
        query = query.where(ORDERS.c.status == status)
    if ids is not None:
        query = query.where(ORDERS.c.work_order_id.in_(list(ids)))
    if limit is not None:
        query = query.limit(limit).offset(offset)
    return [dict(row._mapping) for row in conn.execute(query)]


def board_orders(
    conn: Connection, counts: dict[str, dict[str, int]], line: str | None, finished: int
) -> list[dict[str, Any]]:
    """Every open order, and each line's `finished` newest other ones: what the board shows, read
    without the rest of the finished orders, which pile up (every order is kept). `counts` is
    `line_counts`: which statuses each line holds."""
    query = select(ORDERS).where(ORDERS.c.status.in_(OPEN_STATUSES))
    rows = [
        dict(row._mapping) for row in conn.execute(query.where(ORDERS.c.line_id == line) if line else query)
    ]
    for lane, statuses in sorted(counts.items()):
        done = [status for status in statuses if status not in OPEN_STATUSES]
        if (line and lane != line) or not done:
            continue
        newest = (
            select(ORDERS)
            .where(ORDERS.c.status.in_(done), ORDERS.c.line_id == lane)
            .order_by(ORDERS.c.status_since_ms.desc(), ORDERS.c.work_order_id)
            .limit(finished)
        )
        rows += [dict(row._mapping) for row in conn.execute(newest)]
    return rows


def get_history(conn: Connection, work_order_id: str) -> list[dict[str, Any]]:
    query = select(HISTORY).where(HISTORY.c.work_order_id == work_order_id).order_by(HISTORY.c.position)
    return [dict(row._mapping) for row in conn.execute(query)]


def line_counts(conn: Connection) -> dict[str, dict[str, int]]:
    result: dict[str, dict[str, int]] = {}
    for row in conn.execute(select(COUNTS).where(COUNTS.c.count != 0)):
        result.setdefault(row.line_id, {})[row.status] = row.count
    return result


def lines(conn: Connection) -> list[str]:
    return sorted(line for (line,) in conn.execute(select(COUNTS.c.line_id).distinct()))
