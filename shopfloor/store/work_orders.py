"""Work-order tables, the batch handler around the pure fold, and the queries pages use."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from operator import attrgetter
from typing import Any

from sqlalchemy import BigInteger, Connection, select, update
from sqlmodel import Field, SQLModel

from shopfloor.events.envelope import Envelope
from shopfloor.projections.work_orders import StatusEntry, WorkOrder, fold
from shopfloor.store.changes import Changes
from shopfloor.store.db import insert_ignore, insert_ignore_tuples, upsert_tuples

VIEW = "work-orders"


class WorkOrderRow(SQLModel, table=True):
    __tablename__ = "work_orders"
    work_order_id: str = Field(primary_key=True)
    status: str = Field(index=True)
    line_id: str = Field(index=True)
    product: str | None = None
    quantity_planned: int | None = None
    quantity_done: int | None = None
    quantity_scrap: int | None = None
    operator: str | None = None
    reason: str | None = None
    correlationid: str | None = None
    created_ms: int = Field(sa_type=BigInteger)
    updated_ms: int = Field(sa_type=BigInteger)
    status_since_ms: int = Field(sa_type=BigInteger)
    history_count: int = 0


class WorkOrderHistoryRow(SQLModel, table=True):
    __tablename__ = "work_order_history"
    work_order_id: str = Field(primary_key=True)
    position: int = Field(primary_key=True)
    status: str
    previous_status: str | None = None
    at_ms: int = Field(sa_type=BigInteger)
    operator: str | None = None
    reason: str | None = None
    event_id: str
    correlationid: str | None = None


class WorkOrderCountRow(SQLModel, table=True):
    __tablename__ = "work_order_counts"
    line_id: str = Field(primary_key=True)
    status: str = Field(primary_key=True)
    count: int = 0


ORDERS = WorkOrderRow.__table__  # type: ignore[attr-defined]
HISTORY = WorkOrderHistoryRow.__table__  # type: ignore[attr-defined]
COUNTS = WorkOrderCountRow.__table__  # type: ignore[attr-defined]
ORDER_COLUMNS = tuple(f.name for f in fields(WorkOrder))
ENTRY_COLUMNS = tuple(f.name for f in fields(StatusEntry))
_order_tuple = attrgetter(*ORDER_COLUMNS)  # a row's parameters straight from the folded state
_entry_tuple = attrgetter(*ENTRY_COLUMNS)


class WorkOrderHandler:
    event_types = frozenset({"WorkOrderStatusChanged"})

    def apply(self, conn: Connection, events: Sequence[Envelope], changes: Changes) -> None:
        ids = {e.data.work_order_id for e in events}  # type: ignore[attr-defined]
        query = select(*(ORDERS.c[name] for name in ORDER_COLUMNS)).where(ORDERS.c.work_order_id.in_(ids))
        states: dict[str, WorkOrder] = {row[0]: WorkOrder(*row) for row in conn.execute(query)}
        history: list[tuple[Any, ...]] = []
        deltas: dict[tuple[str, str], int] = {}
        oldest_ms: int | None = None
        for event in events:
            folded = fold(states.get(event.data.work_order_id), event)  # type: ignore[attr-defined]
            order = folded.order
            states[order.work_order_id] = order
            if folded.entry is not None:
                history.append(_entry_tuple(folded.entry))
            for cell, delta in folded.count_deltas.items():
                deltas[cell] = deltas.get(cell, 0) + delta
            at_ms = int(event.time.timestamp() * 1000)
            if oldest_ms is None or at_ms < oldest_ms:
                oldest_ms = at_ms
        if oldest_ms is not None:
            changes.mark_many(VIEW, ids, oldest_ms)
        upsert_tuples(conn, ORDERS, ORDER_COLUMNS, [_order_tuple(states[i]) for i in ids], ["work_order_id"])
        insert_ignore_tuples(conn, HISTORY, ENTRY_COLUMNS, history)
        nonzero = {cell: d for cell, d in deltas.items() if d}
        insert_ignore(conn, COUNTS, [{"line_id": ln, "status": st, "count": 0} for ln, st in nonzero])
        for (line_id, status), delta in sorted(nonzero.items()):
            conn.execute(
                update(COUNTS)
                .where(COUNTS.c.line_id == line_id, COUNTS.c.status == status)
                .values(count=COUNTS.c.count + delta)
            )


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
