"""Plan vs actual per line: the /lines bands, the line-board header, /downtime, and their JSON API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from jinja2 import pass_context
from jinja2.runtime import Context
from sqlalchemy import Connection, Engine

from shopfloor.config import Settings
from shopfloor.pages import templates
from shopfloor.projections.calendar import Calendar, Shift, breaks_in, shift_at, shifts_between
from shopfloor.projections.lines import LineFigures, Rules, downtime_by_reason, figures
from shopfloor.projections.work_orders import OPEN_STATUSES
from shopfloor.store import lines as store
from shopfloor.store.batch import current_version
from shopfloor.web.board import Clock, LiveBoard, Read, Reader, live_reader, wall_clock_ms
from shopfloor.web.plant_range import DAY_MS, check_range, plant_instant

VIEW = store.VIEW
DOWNTIME_VIEW = "downtime"
DOWNTIME_FOLLOWS = frozenset({VIEW})
LineId = Annotated[str, Query(max_length=200)]


class Plan:
    """The calendar and rules from settings, and the clock pages read "now" from."""

    def __init__(self, settings: Settings, clock: Clock = wall_clock_ms) -> None:
        self.calendar: Calendar = settings.calendar()
        self.rules = Rules(settings.line_behind_margin, settings.line_target_share, settings.line_down_rule)
        self.clock = clock

    def local(self, ms: int | None, fmt: str = "%H:%M") -> str:
        if ms is None:
            return ""
        return datetime.fromtimestamp(ms / 1000, self.calendar.zone).strftime(fmt)

    def when(self, ms: int | None, now_ms: int | None = None) -> str:
        """A plant-local time of day, with its day unless it is today's (`now_ms`, by default the
        clock's): "due 15:30" for tomorrow's 15:30 read as long past. The day's words are joined by
        no-break spaces: a narrow cell wraps the line between the day and the time, never inside the day."""
        if ms is None:
            return ""
        zone = self.calendar.zone
        moment = datetime.fromtimestamp(ms / 1000, zone)
        today = datetime.fromtimestamp((self.clock() if now_ms is None else now_ms) / 1000, zone).date()
        if moment.date() == today:
            return moment.strftime("%H:%M")
        return f"{moment:%a}\u00a0{moment.day}\u00a0{moment:%b} {moment:%H:%M}"


def use_plant_time(plan: Plan) -> None:
    """Every page's clock times in the plant's time zone (the `clock` filter; UTC by default)."""
    templates.env.filters["clock"] = lambda ms: "–" if ms is None else plan.local(ms, "%H:%M:%S")
    templates.env.filters["local"] = plan.local

    @pass_context
    def when(context: Context, ms: int | None) -> str:
        return plan.when(ms, context.get("now_ms"))

    templates.env.filters["when"] = when


def due_flag(order: dict[str, Any], now_ms: int) -> str | None:
    """`late` past its due time; `at-risk` when the units left at the ideal rate end after it."""
    due = order.get("due_ms")
    if due is None or order.get("status") not in OPEN_STATUSES:
        return None
    if now_ms > due:
        return "late"
    left = max(0, (order.get("quantity_planned") or 0) - (order.get("quantity_done") or 0))
    cycle = order.get("ideal_cycle_s")
    if cycle and now_ms + left * cycle * 1000 > due:
        return "at-risk"
    return None


def with_plans(conn: Connection, orders: list[dict[str, Any]], now_ms: int) -> list[dict[str, Any]]:
    """Work-order rows with their due time and late/at-risk flag (from this read model)."""
    plans = store.order_plans(conn, [o["work_order_id"] for o in orders])
    out = []
    for order in orders:
        plan = plans.get(order["work_order_id"], {})
        merged = {**order, "due_ms": plan.get("due_ms"), "ideal_cycle_s": plan.get("ideal_cycle_s")}
        flag = due_flag(merged, now_ms)
        # the moment an open order turns late with no event to say so: the page flips its flag then
        turns_late = merged["due_ms"] if merged.get("status") in OPEN_STATUSES and flag != "late" else None
        out.append({**merged, "due_flag": flag, "late_at_ms": turns_late})
    return out


def _decimal(value: float | None) -> str | None:
    return None if value is None else f"{value:.3f}"


def _rfc3339(ms: int, plan: Plan) -> str:
    """Plant local time with its offset as RFC 3339 writes it (seconds, "+01:00"; `%z` gives "+0100")."""
    return datetime.fromtimestamp(ms / 1000, plan.calendar.zone).isoformat(timespec="seconds")


def as_dict(f: LineFigures, plan: Plan) -> dict[str, Any]:
    """One line's figures as the API and the markup carry them (factors 0-1, 3 places)."""
    return {
        "line_id": f.line_id,
        "shift": f.shift.label,
        "shift_start": _rfc3339(f.shift.start_ms, plan),
        "shift_end": _rfc3339(f.shift.end_ms, plan),
        "state": f.state,
        "oee": _decimal(f.oee),
        "availability": _decimal(f.availability),
        "performance": _decimal(f.performance),
        "quality": _decimal(f.quality),
        "target": f.target,
        "actual": f.actual,
        "gap": f.gap,
        "good": f.good,
        "scrap": f.scrap,
        "planned_minutes": round(f.planned_s / 60, 1),
        "run_minutes": round(f.run_s / 60, 1),
    }


def line_figures(conn: Connection, plan: Plan, line_id: str, shift: Shift, now_ms: int) -> dict[str, Any]:
    changes, progress = store.facts(conn, line_id, shift.start_ms, min(now_ms, shift.end_ms) + 1)
    return as_dict(figures(line_id, plan.calendar, shift, now_ms, changes, progress, plan.rules), plan)


def summaries(conn: Connection, plan: Plan, now_ms: int, only: list[str] | None = None) -> dict[str, Any]:
    shift = shift_at(plan.calendar, now_ms)
    version, last_event_ms, _ = current_version(conn)
    ids = store.line_ids(conn) if only is None else only
    return {
        "version": version,
        "last_event_ms": last_event_ms,
        "lines": [line_figures(conn, plan, line, shift, now_ms) for line in ids],
        "shift": shift.label,
        "shift_window": f"{plan.local(shift.start_ms)}–{plan.local(shift.end_ms)}",
        "shift_end_ms": shift.end_ms,
    }


def downtime(conn: Connection, plan: Plan, now_ms: int) -> dict[str, Any]:
    """Per line and window (current shift, 24 h, 7 days): minutes down by reason, largest first."""
    shift = shift_at(plan.calendar, now_ms)
    windows = {"shift": shift.start_ms, "24h": now_ms - DAY_MS, "7d": now_ms - 7 * DAY_MS}
    result: dict[str, dict[str, list[tuple[str, float]]]] = {}
    version, last_event_ms, _ = current_version(conn)
    for line in store.line_ids(conn):
        changes = store.machine_facts(conn, line, windows["7d"], now_ms + 1)
        per_window = {}
        for name, start in windows.items():
            totals: dict[str, float] = {}
            breaks = breaks_in(plan.calendar, start, now_ms)
            for (_machine, reason), ms in downtime_by_reason(changes, start, now_ms, breaks).items():
                totals[reason] = totals.get(reason, 0.0) + ms / 60_000
            per_window[name] = sorted(
                ((r, round(m, 1)) for r, m in totals.items()), key=lambda x: (-x[1], x[0])
            )
        result[line] = per_window
    return {"version": version, "last_event_ms": last_event_ms, "downtime": result, "shift": shift.label}


def live_boards(plan: Plan) -> tuple[LiveBoard, LiveBoard]:
    """/lines (a patch re-reads the changed lines' figures) and /downtime (a patch is the whole board)."""
    lines = LiveBoard(
        view=VIEW,
        path="/lines",
        page="lines/page.html",
        board="lines/board.html",
        patch_template="lines/patch.html",
        context=lambda read, _: summaries(read.conn, plan, read.now_ms),
        patch=lambda read, keys: summaries(
            read.conn, plan, read.now_ms, sorted(k for k in keys if k != store.UNASSIGNED)
        ),
    )
    down = LiveBoard(
        view=DOWNTIME_VIEW,
        path="/downtime",
        page="lines/downtime.html",
        board="lines/downtime_board.html",
        patch_template="lines/downtime_patch.html",
        context=lambda read, _: downtime(read.conn, plan, read.now_ms),
        patch=lambda read, _keys: downtime(read.conn, plan, read.now_ms),
        follows=DOWNTIME_FOLLOWS,
    )
    return lines, down


def router(engine: Engine, plan: Plan, reader: Reader | None = None) -> APIRouter:
    """Both boards' pages and fragments (through `reader`; the live store by the plan's clock by
    default), the line-board header, and the API."""
    use_plant_time(plan)
    reader = reader or live_reader(engine, plan.clock)
    lines_board, downtime_board = live_boards(plan)
    api = APIRouter()
    api.include_router(lines_board.router(reader))
    api.include_router(downtime_board.router(reader))

    def now_summaries(request: Request, only: list[str] | None = None) -> dict[str, Any]:
        with reader(request) as read:
            return {**read.shell, **summaries(read.conn, plan, read.now_ms, only)}

    @api.get("/lines/header", response_class=HTMLResponse, include_in_schema=False)
    def line_header(request: Request, line: LineId, bands: bool = False) -> HTMLResponse:
        """The line board's header: this line's band, live (`bands` = the band alone, for polling)."""
        with reader(request) as read:
            seen = line in store.line_ids(read.conn)
            context = {**read.shell, **summaries(read.conn, plan, read.now_ms, [line] if seen else [])}
        context |= {"view": VIEW, "line": line, "unseen_line": None if seen else line}
        name = "lines/header_bands.html" if bands else "lines/header.html"
        return templates.TemplateResponse(request, name, context)

    @api.get("/api/lines")
    def lines_api(request: Request) -> dict[str, Any]:
        context = now_summaries(request)
        return {"version": context["version"], "shift": context["shift"], "lines": context["lines"]}

    @api.get("/api/lines/{line_id}/shifts", response_model=None)
    def line_shifts(
        request: Request,
        line_id: Annotated[str, Path(max_length=200)],
        from_: Annotated[str | None, Query(alias="from", max_length=40)] = None,
        to: Annotated[str | None, Query(max_length=40)] = None,
    ) -> dict[str, Any] | JSONResponse:
        with reader(request) as read:
            return _line_shifts(read, line_id, from_, to)

    def _line_shifts(
        read: Read, line_id: str, from_: str | None, to: str | None
    ) -> dict[str, Any] | JSONResponse:
        now = read.now_ms
        zone = plan.calendar.zone
        try:
            end = plant_instant(to, "to", zone) if to else now
            start = plant_instant(from_, "from", zone) if from_ else end - DAY_MS
            check_range(start, end)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        if line_id not in store.line_ids(read.conn):
            return JSONResponse({"error": f"no line {line_id!r}"}, status_code=404)
        shifts = [
            line_figures(read.conn, plan, line_id, shift, min(now, shift.end_ms))
            for shift in shifts_between(plan.calendar, start, min(end, now + 1))
        ]
        return {"line_id": line_id, "shifts": shifts}

    @api.get("/api/downtime")
    def downtime_api(request: Request) -> dict[str, Any]:
        with reader(request) as read:
            return downtime(read.conn, plan, read.now_ms)

    return api
