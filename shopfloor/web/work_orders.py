"""The work-order board: page, live row patches, and the JSON API."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request
from sqlalchemy import Engine

from shopfloor.events.models import WorkOrderStatus
from shopfloor.projections.work_orders import OPEN_STATUSES
from shopfloor.store import quality as quality_store
from shopfloor.store import work_orders as store
from shopfloor.store.batch import current_version
from shopfloor.store.db import iso
from shopfloor.web import lines as lines_web
from shopfloor.web.board import LiveBoard, Read, Reader, live_reader

VIEW = store.VIEW
STATUS_ORDER = ("IN_PROGRESS", "ON_HOLD", "RELEASED", "PLANNED", "COMPLETED", "CANCELLED")
FINISHED = ("COMPLETED", "CANCELLED")
FINISHED_ROWS = 5  # per lane, newest first; the page counts the rest ("+N more finished")
STATUS_PATTERN = "^(" + "|".join(WorkOrderStatus) + ")$"
STATUS_HELP = "one of " + ", ".join(WorkOrderStatus)
LineId = Annotated[str | None, Query(max_length=200, description="show only this line")]


def sort_key(order: dict[str, Any]) -> str:
    """Stable: open orders by status then id (they move only when their status changes); finished
    ones newest first, so the capped list keeps the latest."""
    if order["status"] in FINISHED:
        return f"{10**15 - order['status_since_ms']:015d}:{order['work_order_id']}"
    rank = STATUS_ORDER.index(order["status"]) if order["status"] in STATUS_ORDER else 9
    return f"{rank}:{order['work_order_id']}"


def finished_total(counts: dict[str, dict[str, int]], lane: str) -> int:
    return sum(counts.get(lane, {}).get(status, 0) for status in FINISHED)


def line_state(counts: dict[str, int]) -> str:
    """One word for the line's band: what a glance from across the hall needs."""
    if counts.get("IN_PROGRESS"):
        return "running"
    if counts.get("ON_HOLD"):
        return "held"
    return "idle"


def board(read: Read, line: str | None) -> dict[str, Any]:
    counts = store.line_counts(read.conn)
    shown = store.board_orders(read.conn, counts, line, FINISHED_ROWS)
    orders = lines_web.with_plans(read.conn, shown, read.now_ms)
    orders = quality_store.with_latest_results(read.conn, orders)
    lanes: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for order in sorted(orders, key=sort_key):
        lane = lanes.setdefault(order["line_id"], {"open": [], "done": []})
        lane["open" if order["status"] in OPEN_STATUSES else "done"].append(order)
    if line:
        lanes.setdefault(line, {"open": [], "done": []})
    return {
        # a wall screen set up before its line's first order: said so, not shown as an idle line
        "unseen_line": line if line and line not in counts else None,
        "lanes": dict(sorted(lanes.items())),
        "counts": counts,
        "line": line,
        "all_lines": sorted(counts),
        "board_query": f"line={quote(line, safe='/')}" if line else None,
        **helpers(),
    }


def helpers() -> dict[str, Any]:
    return {
        "sort_key": sort_key,
        "finished_total": finished_total,
        "line_state": line_state,
        "finished_rows": FINISHED_ROWS,
        "open_statuses": OPEN_STATUSES,
    }


def patch(read: Read, keys: frozenset[str]) -> dict[str, Any]:
    orders = store.list_work_orders(read.conn, ids=sorted(keys))
    orders = lines_web.with_plans(read.conn, orders, read.now_ms)
    orders = quality_store.with_latest_results(read.conn, orders)
    return {"orders": orders, "counts": store.line_counts(read.conn), **helpers()}


def line_param(line: LineId = None) -> str | None:
    return line or None


BOARD = LiveBoard(
    view=VIEW,
    path="/work-orders",
    page="work_orders/page.html",
    board="work_orders/board.html",
    patch_template="work_orders/patch.html",
    context=board,
    patch=patch,
    params=line_param,
)


def router(engine: Engine, reader: Reader | None = None) -> APIRouter:
    """The board's page and fragment (read through `reader`, the live store by default) and the API."""
    reader = reader or live_reader(engine)
    api = BOARD.router(reader)

    @api.get("/api/work-orders")
    def work_orders_api(
        request: Request,
        line: LineId = None,
        status: Annotated[str | None, Query(pattern=STATUS_PATTERN, description=STATUS_HELP)] = None,
        limit: Annotated[int, Query(ge=1, le=5000)] = 500,
        offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    ) -> dict[str, Any]:
        with reader(request) as read:
            conn = read.conn
            version, _, _ = current_version(conn)
            rows = store.list_work_orders(conn, line=line, status=status, limit=limit, offset=offset)
            counts = store.line_counts(conn)
        items = [
            {
                **{k: v for k, v in row.items() if not k.endswith("_ms")},
                "created_at": iso(row["created_ms"]),
                "updated_at": iso(row["updated_ms"]),
                "status_since": iso(row["status_since_ms"]),
            }
            for row in rows
        ]
        return {
            "version": version,
            "items": items,
            "counts": counts,
            "limit": limit,
            "offset": offset,
        }

    @api.get("/api/work-orders/{work_order_id}/history")
    def work_order_history(request: Request, work_order_id: str) -> dict[str, Any]:
        with reader(request) as read:
            entries = store.get_history(read.conn, work_order_id)
            known = entries or store.list_work_orders(read.conn, ids=[work_order_id])
        if not known:
            raise HTTPException(404, f"no work order {work_order_id[:200]!r}")
        return {
            "work_order_id": work_order_id,
            "history": [
                {**{k: v for k, v in e.items() if k != "at_ms"}, "at": iso(e["at_ms"])} for e in entries
            ],
        }

    return api
