"""The work-order board: page, live row patches, and the JSON API."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Engine

from shopfloor.history.web import AsOfMoment
from shopfloor.projections.work_orders import OPEN_STATUSES
from shopfloor.store import work_orders as store
from shopfloor.store.batch import current_version
from shopfloor.store.db import iso
from shopfloor.web import lines as lines_web
from shopfloor.web.templating import templates

VIEW = store.VIEW
STATUS_ORDER = ("IN_PROGRESS", "ON_HOLD", "RELEASED", "PLANNED", "COMPLETED", "CANCELLED")
FINISHED = ("COMPLETED", "CANCELLED")
FINISHED_ROWS = 5  # per lane, newest first; the page counts the rest ("+N more finished")
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


def board(engine: Engine, line: str | None, now_ms: int | None = None) -> dict[str, Any]:
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    with engine.connect() as conn:
        version, last_event_ms, _ = current_version(conn)
        orders = lines_web.with_plans(conn, store.list_work_orders(conn, line=line), now_ms)
        counts = store.line_counts(conn)
    lanes: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for order in sorted(orders, key=sort_key):
        lane = lanes.setdefault(order["line_id"], {"open": [], "done": []})
        if order["status"] in OPEN_STATUSES:
            lane["open"].append(order)
        elif len(lane["done"]) < FINISHED_ROWS:
            lane["done"].append(order)
    if line:
        lanes.setdefault(line, {"open": [], "done": []})
    return {
        "version": version,
        "last_event_ms": last_event_ms,
        "lanes": dict(sorted(lanes.items())),
        "counts": counts,
        "line": line,
        "all_lines": sorted(counts),
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


def patch_renderer(engine: Engine):  # type: ignore[no-untyped-def]
    def render(keys: frozenset[str]) -> str:
        with engine.connect() as conn:
            orders = store.list_work_orders(conn, ids=sorted(keys))
            orders = lines_web.with_plans(conn, orders, int(time.time() * 1000))
            counts = store.line_counts(conn)
        template = templates.get_template("work_orders/patch.html")
        return template.render(orders=orders, counts=counts, **helpers())

    async def render_async(keys: frozenset[str]) -> str:
        return await asyncio.to_thread(render, keys)

    return render_async


def router(engine: Engine) -> APIRouter:
    api = APIRouter()

    @api.get("/work-orders", response_class=HTMLResponse)
    def work_orders_page(request: Request, moment: AsOfMoment, line: LineId = None) -> HTMLResponse:
        context = board(moment.engine, line or None, moment.now_ms())
        return templates.TemplateResponse(
            request, "work_orders/page.html", {"view": VIEW, **context, **moment.context()}
        )

    @api.get("/work-orders/board", response_class=HTMLResponse, include_in_schema=False)
    def work_orders_board(request: Request, moment: AsOfMoment, line: LineId = None) -> HTMLResponse:
        context = board(moment.engine, line or None, moment.now_ms())
        return templates.TemplateResponse(
            request, "work_orders/board.html", {"view": VIEW, **context, **moment.context()}
        )

    @api.get("/api/work-orders")
    def work_orders_api(
        moment: AsOfMoment,
        line: LineId = None,
        status: Annotated[str | None, Query(pattern="^[A-Z_]{1,20}$")] = None,
        limit: Annotated[int, Query(ge=1, le=5000)] = 500,
        offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    ) -> dict[str, Any]:
        with moment.engine.connect() as conn:
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
    def work_order_history(work_order_id: str) -> dict[str, Any]:
        with engine.connect() as conn:
            entries = store.get_history(conn, work_order_id)
        return {
            "work_order_id": work_order_id,
            "history": [
                {**{k: v for k, v in e.items() if k != "at_ms"}, "at": iso(e["at_ms"])} for e in entries
            ],
        }

    return api
