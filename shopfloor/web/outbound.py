"""The outbound pipeline: orders by saga stage, late and stuck called out, timelines, JSON API.

"Now" comes from an injected clock (wall time by default) and is applied only when reading; rows
carry their due and stuck deadlines so the browser can flip the flags when a deadline passes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Engine

from shopfloor.config import Settings
from shopfloor.history.web import AsOfMoment
from shopfloor.projections.calendar import Calendar, shift_at
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
from shopfloor.web.templating import templates

VIEW = store.VIEW
OPEN_LANE_ROWS = 100
DONE_LANE_ROWS = 20
ATTENTION_ROWS = 30
Clock = Callable[[], int]
Search = Annotated[str | None, Query(max_length=100, description="part of an order id")]
StageFilter = Annotated[str | None, Query(pattern="^(" + "|".join(ALL_STAGES) + ")$")]


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


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


def judge(rows: list[dict[str, Any]], now_ms: int, limits_ms: Mapping[str, int]) -> list[dict[str, Any]]:
    """Adds late / stuck flags and deadlines, computed with the injected clock."""
    for row in rows:
        order = Order(**{name: row[name] for name in Order.__slots__})
        row["late"] = is_late(order, now_ms)
        row["stuck"] = is_stuck(order, now_ms, limits_ms)
        row["stuck_at_ms"] = stuck_deadline(order, limits_ms)
        row["open"] = order.stage in OPEN_STAGES
        row["delivered_late"] = delivered_late(order)
        row["countdown"] = countdown(order.due_ms - now_ms) if row["open"] and order.due_ms else ""
    return rows


def pick_rates(conn: Any, calendar: Calendar, now_ms: int) -> dict[str, dict[str, Any]]:
    """Orders and units picked per hour in the last 15 minutes and since the shift started."""
    shift = shift_at(calendar, now_ms)
    windows = {"last_15_min": now_ms - 15 * 60_000, "shift": shift.start_ms}
    picks = store.picks_between(conn, min(windows.values()), now_ms)
    rates = {}
    for name, start in windows.items():
        rate = pick_rate(picks, start, now_ms)
        rates[name] = {
            "orders": rate.orders,
            "units": rate.units,
            "orders_per_hour": None if rate.orders_per_hour is None else round(rate.orders_per_hour, 1),
            "units_per_hour": None if rate.units_per_hour is None else round(rate.units_per_hour, 1),
        }
    rates["shift"]["label"] = shift.label
    return rates


def overview(engine: Engine, limits_ms: Mapping[str, int], now_ms: int) -> dict[str, Any]:
    """What every subscriber shares: counts per stage, and the late and stuck orders."""
    with engine.connect() as conn:
        counts = store.stage_counts(conn)
        attention_counts = store.attention_counts(conn, now_ms, limits_ms)
        attention = store.list_orders(
            conn, late=True, stuck=True, now_ms=now_ms, limits_ms=limits_ms, limit=ATTENTION_ROWS
        )
        flips = store.upcoming_flips(conn, now_ms, limits_ms)
    return {
        "counts": counts,
        "flips": flips,
        "attention_counts": attention_counts,
        "attention": judge(attention, now_ms, limits_ms),
        "stages": ALL_STAGES,
    }


def board(
    engine: Engine, limits_ms: Mapping[str, int], now_ms: int, q: str | None, calendar: Calendar
) -> dict[str, Any]:
    with engine.connect() as conn:
        version, last_event_ms, _ = current_version(conn)
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
        lane_counts = store.stage_counts(conn, q) if q else None
    shared = overview(engine, limits_ms, now_ms)
    return {
        "version": version,
        "last_event_ms": last_event_ms,
        "lanes": lanes,
        "lane_counts": lane_counts or shared["counts"],
        "rates": rates,
        "q": q,
        "sort_key": sort_key,
        "final_stages": FINAL_STAGES,
        "lane_rows": {stage: DONE_LANE_ROWS if stage in FINAL_STAGES else OPEN_LANE_ROWS for stage in lanes},
        **shared,
    }


def patch_renderer(engine: Engine, limits_ms: Mapping[str, int], clock: Clock):  # type: ignore[no-untyped-def]
    def render(keys: frozenset[str]) -> str:
        now_ms = clock()
        with engine.connect() as conn:
            orders = judge(store.list_orders(conn, ids=sorted(keys)), now_ms, limits_ms)
        shared = overview(engine, limits_ms, now_ms)
        template = templates.get_template("outbound/patch.html")
        return template.render(orders=orders, sort_key=sort_key, lane_counts=shared["counts"], **shared)

    async def render_async(keys: frozenset[str]) -> str:
        return await asyncio.to_thread(render, keys)

    return render_async


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


def _details(engine: Engine, order_id: str, now_ms: int, limits_ms: Mapping[str, int]) -> dict[str, Any]:
    with engine.connect() as conn:
        row = store.get_order(conn, order_id)
        steps = store.get_steps(conn, order_id)
    if row is None:
        raise HTTPException(404, f"no outbound order {order_id[:200]!r}")
    judge([row], now_ms, limits_ms)
    order = Order(**{name: row[name] for name in Order.__slots__})
    return {"order": row, "spans": timeline(order, now_ms), "steps": steps, "lines": order_lines(order)}


def router(engine: Engine, settings: Settings, clock: Clock = wall_clock_ms) -> APIRouter:
    api = APIRouter()
    limits_ms = settings.stuck_limits_ms()
    calendar = settings.calendar()

    @api.get("/outbound", response_class=HTMLResponse)
    def outbound_page(request: Request, moment: AsOfMoment, q: Search = None) -> HTMLResponse:
        context = board(moment.engine, limits_ms, moment.now_ms(clock), (q or "").strip() or None, calendar)
        return templates.TemplateResponse(
            request, "outbound/page.html", {"view": VIEW, **context, **moment.context()}
        )

    @api.get("/outbound/board", response_class=HTMLResponse, include_in_schema=False)
    def outbound_board(request: Request, moment: AsOfMoment, q: Search = None) -> HTMLResponse:
        context = board(moment.engine, limits_ms, moment.now_ms(clock), (q or "").strip() or None, calendar)
        return templates.TemplateResponse(
            request, "outbound/board.html", {"view": VIEW, **context, **moment.context()}
        )

    @api.get("/outbound/rates", response_class=HTMLResponse, include_in_schema=False)
    def outbound_rates(request: Request, moment: AsOfMoment) -> HTMLResponse:
        with moment.engine.connect() as conn:
            rates = pick_rates(conn, calendar, moment.now_ms(clock))
        return templates.TemplateResponse(request, "outbound/rates.html", {"rates": rates})

    @api.get("/outbound/timeline", response_class=HTMLResponse, include_in_schema=False)
    def outbound_timeline(
        request: Request, moment: AsOfMoment, order: Annotated[str, Query(min_length=1, max_length=200)]
    ) -> HTMLResponse:
        context = _details(moment.engine, order, moment.now_ms(clock), limits_ms)
        return templates.TemplateResponse(request, "outbound/timeline.html", context)

    @api.get("/api/outbound")
    def outbound_api(
        moment: AsOfMoment,
        q: Search = None,
        stage: StageFilter = None,
        late: bool = False,
        stuck: bool = False,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    ) -> dict[str, Any]:
        now_ms = moment.now_ms(clock)
        with moment.engine.connect() as conn:
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
    def outbound_order(id: Annotated[str, Query(min_length=1, max_length=200)]) -> dict[str, Any]:
        details = _details(engine, id, clock(), limits_ms)
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


def tile(engine: Engine, settings: Settings, now_ms: int) -> dict[str, Any]:
    """Figures for the overview page's outbound tile."""
    limits_ms = settings.stuck_limits_ms()
    with engine.connect() as conn:
        counts = store.stage_counts(conn)
        attention = store.attention_counts(conn, now_ms, limits_ms)
    return {"open": sum(counts.get(s, 0) for s in OPEN_STAGES), **attention}
