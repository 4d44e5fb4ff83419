"""Quality-inspection tables, the batch handler around the pure folds, and the queries pages use."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple, fields
from typing import Any

from sqlalchemy import BigInteger, Connection, Table, case, func, select
from sqlmodel import Field, SQLModel

from shopfloor.events.envelope import Envelope
from shopfloor.projections.quality import Inspection, OrderQuality, fold_order, record
from shopfloor.store.changes import Changes
from shopfloor.store.db import select_in, upsert_tuples

VIEW = "quality"
WORK_ORDERS_VIEW = "work-orders"  # the work-order board shows each order's latest result


class InspectionRow(SQLModel, table=True):
    __tablename__ = "quality_inspections"
    inspection_id: str = Field(primary_key=True)
    work_order_id: str | None = Field(default=None, index=True)
    line_id: str = Field(index=True)
    result: str
    defects: str
    defect_units: int = 0
    inspector: str | None = None
    at_ms: int = Field(sa_type=BigInteger, index=True)
    event_id: str
    correlationid: str | None = None


class OrderQualityRow(SQLModel, table=True):
    __tablename__ = "quality_work_orders"
    work_order_id: str = Field(primary_key=True)
    line_id: str = Field(index=True)
    first_inspection_id: str
    first_at_ms: int = Field(sa_type=BigInteger, index=True)
    first_result: str
    latest_inspection_id: str
    latest_at_ms: int = Field(sa_type=BigInteger)
    latest_result: str
    inspections: int = 0
    passed: int = 0
    failed: int = 0
    reworked: int = 0


class ResultCountRow(SQLModel, table=True):
    __tablename__ = "quality_line_results"
    line_id: str = Field(primary_key=True)
    result: str = Field(primary_key=True)
    count: int = 0


class DefectCountRow(SQLModel, table=True):
    __tablename__ = "quality_defects"
    line_id: str = Field(primary_key=True)
    code: str = Field(primary_key=True)
    count: int = 0


INSPECTIONS: Table = InspectionRow.__table__  # type: ignore[attr-defined]
ORDERS: Table = OrderQualityRow.__table__  # type: ignore[attr-defined]
RESULTS: Table = ResultCountRow.__table__  # type: ignore[attr-defined]
DEFECTS: Table = DefectCountRow.__table__  # type: ignore[attr-defined]
INSPECTION_COLUMNS = tuple(f.name for f in fields(Inspection))
ORDER_COLUMNS = tuple(f.name for f in fields(OrderQuality))


def inspection_key(inspection_id: str) -> str:
    return f"i:{inspection_id}"


def line_key(line_id: str) -> str:
    return f"l:{line_id}"


def _add_counts(stmt: Any, _dialect: str) -> dict[str, Any]:
    return {"count": stmt.table.c.count + stmt.excluded.count}


class QualityHandler:
    """InspectionRecorded -> the inspection, its order's first/latest result, the line's counts."""

    event_types = frozenset({"InspectionRecorded"})
    views = (VIEW, WORK_ORDERS_VIEW)

    def apply(self, conn: Connection, events: Sequence[Envelope], changes: Changes) -> None:
        ids = sorted({e.data.entity_id() for e in events})
        known = {
            row[0]: Inspection(*row)
            for row in select_in(conn, INSPECTIONS, INSPECTION_COLUMNS, {}, "inspection_id", ids)
        }
        new: list[Inspection] = []
        results: dict[tuple[str, str], int] = {}
        defects: dict[tuple[str, str], int] = {}
        for event in events:
            recorded = record(known.get(event.data.entity_id()), event)
            if recorded.inspection is None:
                continue
            inspection = recorded.inspection
            known[inspection.inspection_id] = inspection
            new.append(inspection)
            for cell, delta in recorded.result_deltas.items():
                results[cell] = results.get(cell, 0) + delta
            for cell, delta in recorded.defect_deltas.items():
                defects[cell] = defects.get(cell, 0) + delta
        if not new:
            return
        order_ids = sorted({i.work_order_id for i in new if i.work_order_id is not None})
        orders = {
            row[0]: OrderQuality(*row)
            for row in select_in(conn, ORDERS, ORDER_COLUMNS, {}, "work_order_id", order_ids)
        }
        for inspection in new:
            if inspection.work_order_id is not None:
                orders[inspection.work_order_id] = fold_order(
                    orders.get(inspection.work_order_id), inspection
                )
            changes.mark(VIEW, inspection_key(inspection.inspection_id), inspection.at_ms)
            changes.mark(VIEW, line_key(inspection.line_id), inspection.at_ms)
            if inspection.work_order_id is not None:
                changes.mark(WORK_ORDERS_VIEW, inspection.work_order_id, inspection.at_ms)
        upsert_tuples(conn, INSPECTIONS, INSPECTION_COLUMNS, [astuple(i) for i in new], ["inspection_id"])
        upsert_tuples(conn, ORDERS, ORDER_COLUMNS, [astuple(orders[i]) for i in order_ids], ["work_order_id"])
        upsert_tuples(
            conn, RESULTS, ("line_id", "result", "count"), _rows(results), ["line_id", "result"], _add_counts
        )
        upsert_tuples(
            conn, DEFECTS, ("line_id", "code", "count"), _rows(defects), ["line_id", "code"], _add_counts
        )


def _rows(deltas: dict[tuple[str, str], int]) -> list[tuple[str, str, int]]:
    return [(a, b, n) for (a, b), n in sorted(deltas.items()) if n]


# --- reads -----------------------------------------------------------------------------------


def recent_inspections(
    conn: Connection, limit: int, line: str | None = None, ids: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """Newest first (by event time, then id)."""
    query = select(INSPECTIONS).order_by(INSPECTIONS.c.at_ms.desc(), INSPECTIONS.c.inspection_id.desc())
    if line:
        query = query.where(INSPECTIONS.c.line_id == line)
    if ids is not None:
        query = query.where(INSPECTIONS.c.inspection_id.in_(list(ids)))
    return [dict(row._mapping) for row in conn.execute(query.limit(limit))]


def line_results(conn: Connection) -> dict[str, dict[str, int]]:
    """Inspections per line and result."""
    out: dict[str, dict[str, int]] = {}
    for row in conn.execute(select(RESULTS).order_by(RESULTS.c.line_id, RESULTS.c.result)):
        out.setdefault(row.line_id, {})[row.result] = row.count
    return out


def defect_counts(conn: Connection, line: str | None = None) -> list[tuple[str, int]]:
    """(code, count) summed over lines (or of one line)."""
    query = select(DEFECTS.c.code, func.sum(DEFECTS.c.count)).group_by(DEFECTS.c.code)
    if line:
        query = query.where(DEFECTS.c.line_id == line)
    return [(code, int(n)) for code, n in conn.execute(query)]


def first_pass_counts(conn: Connection, start_ms: int, end_ms: int) -> dict[str, tuple[int, int]]:
    """Per line: orders first inspected in [start_ms, end_ms), and how many of those first
    inspections passed (the two terms of first-pass yield, docs/quality.md)."""
    passed = func.sum(case((ORDERS.c.first_result == "PASS", 1), else_=0))
    query = (
        select(ORDERS.c.line_id, func.count(), passed)
        .where(ORDERS.c.first_at_ms >= start_ms, ORDERS.c.first_at_ms < end_ms)
        .group_by(ORDERS.c.line_id)
    )
    return {line: (int(n), int(ok)) for line, n, ok in conn.execute(query)}


def newest_first_inspection_ms(conn: Connection) -> int | None:
    return conn.execute(select(func.max(ORDERS.c.first_at_ms))).scalar_one()


def work_order_results(
    conn: Connection, line: str | None = None, limit: int = 500, offset: int = 0
) -> list[dict[str, Any]]:
    query = select(ORDERS).order_by(ORDERS.c.latest_at_ms.desc(), ORDERS.c.work_order_id)
    if line:
        query = query.where(ORDERS.c.line_id == line)
    return [dict(row._mapping) for row in conn.execute(query.limit(limit).offset(offset))]


def latest_results(conn: Connection, work_order_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Each given order's latest inspection (id, result, time), for the work-order board."""
    columns = ("work_order_id", "latest_inspection_id", "latest_result", "latest_at_ms", "inspections")
    rows = select_in(conn, ORDERS, columns, {}, "work_order_id", sorted(set(work_order_ids)))
    return {row[0]: dict(zip(columns, row, strict=True)) for row in rows}


def with_latest_results(conn: Connection, orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Work-order rows, each with `inspection`: its latest inspection (or None), for the board's cell."""
    latest = latest_results(conn, [o["work_order_id"] for o in orders])
    for order in orders:
        order["inspection"] = latest.get(order["work_order_id"])
    return orders
