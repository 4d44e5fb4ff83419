"""The outbound pipeline: orders by saga stage, late and stuck called out, timelines, JSON API.

"Now" comes from an injected clock (wall time by default) and is applied only when reading; rows
carry their due and stuck deadlines so the browser can flip the flags when a deadline passes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Connection, Engine

from shopfloor.config import Settings
from shopfloor.pages import templates
from shopfloor.projections.calendar import Calendar, shift_at
from shopfloor.projections.frozen import field_names
from shopfloor.projections.outbound import (
    ALL_STAGES,
    FINAL_STAGES,
    OPEN_STAGES,
    TIME_FIELD,
    Order,
    delivered_late,
    is_late,
    is_stuck,
    order_lines,
    stuck_deadline,
    timeline,
)
from shopfloor.projections.pick_rate import pick_rate
from shopfloor.store import outbound as store
from shopfloor.store.batch import current_version
from shopfloor.store.db import iso
from shopfloor.web.board import Clock, LiveBoard, Read, Reader, live_reader, wall_clock_ms

VIEW = store.VIEW
OPEN_LANE_ROWS = 100
DONE_LANE_ROWS = 20
ATTENTION_ROWS = 30
Search = Annotated[str | None, Query(max_length=100, description="part of an order id")]
StageFilter = Annotated[str | None, Query(pattern="^(" + "|".join(ALL_STAGES) + ")$")]


def sort_key(order: dict[str, Any]) -> str:
    """Open lanes: longest waiting first. Finished lanes: most recent first."""
    since = order["stage_since_ms"]
    rank = 10**15 - since if order["stage"] in FINAL_STAGES else since
    return f"{rank:015d}|{order['order_id']}"


def countdown(ms: int) -> str:
    """ "in 12 min" / "12 min late" (the page's script keeps the same words current)."""
    minutes = round(abs(ms) / 60_000)
    text = f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"
    return f"in {text}" if ms >= 0 else f"{text} late"


def _order(row: Mapping[str, Any]) -> Order:
    """The fold's row from a page row (which carries the order's columns and more)."""
    return Order(**{name: row[name] for name in field_names(Order)})


def judge(rows: list[dict[str, Any]], now_ms: int, limits_ms: Mapping[str, int]) -> list[dict[str, Any]]:
    """Adds late / stuck flags and deadlines, computed with the injected clock."""
    for row in rows:
        order = _order(row)
        row["late"] = is_late(order, now_ms)
        row["stuck"] = is_stuck(order, now_ms, limits_ms)
        row["stuck_at_ms"] = stuck_deadline(order, limits_ms)
        row["open"] = order.stage in OPEN_STAGES
        row["delivered_late"] = delivered_late(order)
        row["countdown"] = countdown(order.due_ms - now_ms) if row["open"] and order.due_ms else ""
    return rows


def pick_rates(conn: Any, calendar: Calendar, now_ms: int) -> dict[str, dict[str, Any]]:
    """Orders and units picked per hour in the last 15 minutes and since the shift started (a rate
    once the shift is 15 minutes old; before that, its counts)."""
    shift = shift_at(calendar, now_ms)
    quarter = 15 * 60_000
    windows = {"last_15_min": now_ms - quarter, "shift": shift.start_ms}
    picks = store.picks_between(conn, min(windows.values()), now_ms)
    rates = {}
    for name, start in windows.items():
        rate = pick_rate(picks, start, now_ms, min_window_ms=quarter)
        rates[name] = {
            "orders": rate.orders,
            "units": rate.units,
            "orders_per_hour": None if rate.orders_per_hour is None else round(rate.orders_per_hour, 1),
            "units_per_hour": None if rate.units_per_hour is None else round(rate.units_per_hour, 1),
        }
    rates["shift"]["label"] = shift.label
    return rates


def overview(conn: Connection, limits_ms: Mapping[str, int], now_ms: int) -> dict[str, Any]:
    """What every subscriber shares: counts per stage, and the late and stuck orders."""
    attention = store.list_orders(
        conn, late=True, stuck=True, now_ms=now_ms, limits_ms=limits_ms, limit=ATTENTION_ROWS
    )
    return {
        "counts": store.stage_counts(conn),
        "flips": store.upcoming_flips(conn, now_ms, limits_ms),
        "attention_counts": store.attention_counts(conn, now_ms, limits_ms),
        "attention": judge(attention, now_ms, limits_ms),
        "attention_beyond": store.count_attention(conn, now_ms, limits_ms, late=True, stuck=True)
        - len(attention),
        "stages": ALL_STAGES,
    }


def board(read: Read, limits_ms: Mapping[str, int], calendar: Calendar, q: str | None) -> dict[str, Any]:
    conn, now_ms = read.conn, read.now_ms
    rates = pick_rates(conn, calendar, now_ms)
    lanes: dict[str, list[dict[str, Any]]] = {}
    for stage in ALL_STAGES:
        final = stage in FINAL_STAGES
        rows = store.list_orders(
            conn,
            q=q,
            stage=stage,
            newest_first=final,
            limit=DONE_LANE_ROWS if final else OPEN_LANE_ROWS,
        )
        lanes[stage] = judge(rows, now_ms, limits_ms)
    shared = overview(conn, limits_ms, now_ms)
    return {
        "lanes": lanes,
        "lane_counts": store.stage_counts(conn, q) if q else shared["counts"],  # {}: none match
        "rates": rates,
        "q": q,
        "board_query": f"q={quote(q, safe='/')}" if q else None,
        "sort_key": sort_key,
        "final_stages": FINAL_STAGES,
        "lane_rows": {stage: DONE_LANE_ROWS if stage in FINAL_STAGES else OPEN_LANE_ROWS for stage in lanes},
        **shared,
    }


def patch(read: Read, limits_ms: Mapping[str, int], keys: frozenset[str]) -> dict[str, Any]:
    orders = judge(store.list_orders(read.conn, ids=sorted(keys)), read.now_ms, limits_ms)
    shared = overview(read.conn, limits_ms, read.now_ms)
    return {"orders": orders, "sort_key": sort_key, "lane_counts": shared["counts"], **shared}


def search(q: Search = None) -> str | None:
    return (q or "").strip() or None


def live_board(settings: Settings) -> LiveBoard:
    limits_ms, calendar = settings.stuck_limits_ms(), settings.calendar()
    return LiveBoard(
        view=VIEW,
        path="/outbound",
        page="outbound/page.html",
        board="outbound/board.html",
        patch_template="outbound/patch.html",
        context=lambda read, q: board(read, limits_ms, calendar, q),
        patch=lambda read, keys: patch(read, limits_ms, keys),
        params=search,
    )


def _api_order(row: dict[str, Any]) -> dict[str, Any]:
    hidden = {
        "lines_json",
        "stage_since_ms",
        "due_ms",
        "first_ms",
        "updated_ms",
        "countdown",
        *TIME_FIELD.values(),
    }
    item = {k: v for k, v in row.items() if k not in hidden and k != "stuck_at_ms"}
    item.update(
        stage_since=iso(row["stage_since_ms"]),
        due_at=iso(row["due_ms"]),
        stuck_at=iso(row["stuck_at_ms"]),
        updated_at=iso(row["updated_ms"]),
        inferred=[s for s in row["inferred"].split(",") if s],
        out_of_order=[s for s in row["out_of_order"].split(",") if s],
        entered={stage: iso(row[field]) for stage, field in TIME_FIELD.items() if row[field] is not None},
    )
    return item


def _details(conn: Connection, order_id: str, now_ms: int, limits_ms: Mapping[str, int]) -> dict[str, Any]:
    row = store.get_order(conn, order_id)
    steps = store.get_steps(conn, order_id)
    if row is None:
        raise HTTPException(404, f"no outbound order {order_id[:200]!r}")
    judge([row], now_ms, limits_ms)
    order = _order(row)
    return {"order": row, "spans": timeline(order, now_ms), "steps": steps, "lines": order_lines(order)}


def router(
    engine: Engine, settings: Settings, clock: Clock = wall_clock_ms, reader: Reader | None = None
) -> APIRouter:
    """The board's page and fragment (through `reader`; the live store by `clock` by default), the
    timeline and rates fragments, and the API. `clock`: epoch ms, "now" for late and stuck."""
    reader = reader or live_reader(engine, clock)
    api = live_board(settings).router(reader)
    limits_ms = settings.stuck_limits_ms()
    calendar = settings.calendar()

    @api.get("/outbound/rates", response_class=HTMLResponse, include_in_schema=False)
    def outbound_rates(request: Request) -> HTMLResponse:
        with reader(request) as read:
            rates = pick_rates(read.conn, calendar, read.now_ms)
        return templates.TemplateResponse(request, "outbound/rates.html", {"rates": rates})

    @api.get("/outbound/timeline", response_class=HTMLResponse, include_in_schema=False)
    def outbound_timeline(
        request: Request, order: Annotated[str, Query(min_length=1, max_length=200)]
    ) -> HTMLResponse:
        with reader(request) as read:
            context = _details(read.conn, order, read.now_ms, limits_ms)
        return templates.TemplateResponse(request, "outbound/timeline.html", context)

    @api.get("/api/outbound")
    def outbound_api(
        request: Request,
        q: Search = None,
        stage: StageFilter = None,
        late: bool = False,
        stuck: bool = False,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    ) -> dict[str, Any]:
        with reader(request) as read:
            conn, now_ms = read.conn, read.now_ms
            version, _, _ = current_version(conn)
            rows = store.list_orders(
                conn,
                q=(q or "").strip() or None,
                stage=stage,
                late=late,
                stuck=stuck,
                now_ms=now_ms,
                limits_ms=limits_ms,
                limit=limit,
                offset=offset,
            )
            counts = store.stage_counts(conn)
            attention = store.attention_counts(conn, now_ms, limits_ms)
            rates = pick_rates(conn, calendar, now_ms)
        return {
            "version": version,
            "now": iso(now_ms),
            "items": [_api_order(r) for r in judge(rows, now_ms, limits_ms)],
            "counts": counts,
            **attention,
            "pick_rate": rates,
            "limit": limit,
            "offset": offset,
        }

    @api.get("/api/outbound/orders")
    def outbound_order(
        request: Request, id: Annotated[str, Query(min_length=1, max_length=200)]
    ) -> dict[str, Any]:
        with reader(request) as read:
            details = _details(read.conn, id, read.now_ms, limits_ms)
        return {
            **_api_order(details["order"]),
            "lines": details["lines"],
            "timeline": [
                {
                    "stage": s.stage,
                    "entered": iso(s.entered_ms),
                    "seconds": None if s.duration_ms is None else s.duration_ms / 1000,
                    "current": s.current,
                    "inferred": s.inferred,
                    "out_of_order": s.out_of_order,
                }
                for s in details["spans"]
            ],
            "events": [
                {**{k: v for k, v in s.items() if k != "at_ms"}, "at": iso(s["at_ms"])}
                for s in details["steps"]
            ],
        }

    return api


def tile(conn: Connection, limits_ms: Mapping[str, int], now_ms: int) -> dict[str, Any]:
    """Figures for the overview page's outbound tile."""
    counts = store.stage_counts(conn)
    attention = store.attention_counts(conn, now_ms, limits_ms)
    return {"open": sum(counts.get(s, 0) for s in OPEN_STAGES), **attention}
