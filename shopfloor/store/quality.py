"""Quality-inspection tables, the batch handler around the pure folds, and the queries pages use."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, case, func, select

from shopfloor.events.envelope import Envelope
from shopfloor.projections.quality import (
    DefectCount,
    Inspection,
    OrderQuality,
    ResultCount,
    fold_order,
    record,
)
from shopfloor.store.changes import Changes
from shopfloor.store.db import lock_keys, upsert_tuples
from shopfloor.store.entity import bump, columns_of, load
from shopfloor.store.schema import row_values, table_of

VIEW = "quality"
WORK_ORDERS_VIEW = "work-orders"  # the work-order board shows each order's latest result

INSPECTIONS = table_of(
    Inspection, "quality_inspections", key=("inspection_id",), index=("work_order_id", "line_id", "at_ms")
)
ORDERS = table_of(
    OrderQuality, "quality_work_orders", key=("work_order_id",), index=("line_id", "first_at_ms")
)
RESULTS = table_of(ResultCount, "quality_line_results", key=("line_id", "result"))
DEFECTS = table_of(DefectCount, "quality_defects", key=("line_id", "code"))
INSPECTION_COLUMNS, ORDER_COLUMNS = columns_of(INSPECTIONS), columns_of(ORDERS)
_inspection_row, _order_row = row_values(INSPECTIONS), row_values(ORDERS)


def inspection_key(inspection_id: str) -> str:
    return f"i:{inspection_id}"


def line_key(line_id: str) -> str:
    return f"l:{line_id}"


class QualityHandler:
    """InspectionRecorded -> the inspection, its order's first/latest result, the line's counts.

    Not an `EntityHandler`: one event folds two entities (the inspection, then its order) and bumps
    two counters, and it marks the work-order board's view too; it reuses that handler's pieces."""

    event_types = frozenset({"InspectionRecorded"})
    tables = (INSPECTIONS, ORDERS, RESULTS, DEFECTS)
    views = (VIEW, WORK_ORDERS_VIEW)

    def apply(self, conn: Connection, events: Sequence[Envelope], changes: Changes) -> None:
        ids = sorted({e.data.entity_id() for e in events})
        known = {
            row[0]: Inspection(*row)
            for row in load(conn, INSPECTIONS, INSPECTION_COLUMNS, "inspection_id", ids)
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
        lock_keys(conn, ORDERS, order_ids)  # inspections of one order arrive on any partition
        orders = {
            row[0]: OrderQuality(*row)
            for row in load(conn, ORDERS, ORDER_COLUMNS, "work_order_id", order_ids)
        }
        for inspection in new:
            if inspection.work_order_id is not None:
                orders[inspection.work_order_id] = fold_order(
                    orders.get(inspection.work_order_id), inspection
                )
                changes.mark(WORK_ORDERS_VIEW, inspection.work_order_id, inspection.at_ms)
            changes.mark(VIEW, inspection_key(inspection.inspection_id), inspection.at_ms)
            changes.mark(VIEW, line_key(inspection.line_id), inspection.at_ms)
        upsert_tuples(
            conn, INSPECTIONS, INSPECTION_COLUMNS, [_inspection_row(i) for i in new], ["inspection_id"]
        )
        upsert_tuples(
            conn, ORDERS, ORDER_COLUMNS, [_order_row(orders[i]) for i in order_ids], ["work_order_id"]
        )
        bump(conn, RESULTS, results)
        bump(conn, DEFECTS, defects)


# --- reads -----------------------------------------------------------------------------------


def recent_inspections(
    conn: Connection, limit: int, line: str | None = None, ids: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """Newest first, ties by id: the order of the live list's `data-sort` (`web/quality.py:sort_key`),
    so a page left open keeps the same rows a fresh load shows."""
    query = select(INSPECTIONS).order_by(INSPECTIONS.c.at_ms.desc(), INSPECTIONS.c.inspection_id)
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
    rows = load(conn, ORDERS, columns, "work_order_id", sorted(set(work_order_ids)))
    return {row[0]: dict(zip(columns, row, strict=True)) for row in rows}


def with_latest_results(conn: Connection, orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Work-order rows, each with `inspection`: its latest inspection (or None), for the board's cell."""
    latest = latest_results(conn, [o["work_order_id"] for o in orders])
    for order in orders:
        order["inspection"] = latest.get(order["work_order_id"])
    return orders
