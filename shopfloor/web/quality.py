"""The quality board: first-pass yield per line and shift, top defect codes, the latest inspections;
its live patches and the JSON API."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlalchemy import Connection, Engine

from shopfloor.config import Settings
from shopfloor.projections.calendar import Calendar
from shopfloor.projections.quality import RESULTS, ShiftYield, recent_shifts, top_defects
from shopfloor.store import quality as store
from shopfloor.store.batch import current_version
from shopfloor.store.db import iso
from shopfloor.web.board import LiveBoard, Read, Reader, live_reader

VIEW = store.VIEW
RECENT_ROWS = 30  # inspections listed, newest first; the page counts the rest
TOP_DEFECTS = 8
SHIFTS_SHOWN = 3  # the plant's last shifts with first-pass yield, newest first
ICONS = {"PASS": "✓", "FAIL": "✗", "REWORK": "↻"}
LineId = Annotated[str | None, Query(max_length=200, description="show only this line")]


def sort_key(inspection: dict[str, Any]) -> str:
    """Newest first: the capped list drops the oldest."""
    return f"{10**15 - inspection['at_ms']:015d}:{inspection['inspection_id']}"


def yields(conn: Connection, calendar: Calendar) -> dict[str, list[ShiftYield]]:
    """Per line, first-pass yield in each of the plant's last shifts (up to the newest first
    inspection) in which it had first inspections, newest first."""
    newest = store.newest_first_inspection_ms(conn)
    out: dict[str, list[ShiftYield]] = {}
    for shift in recent_shifts(calendar, newest, SHIFTS_SHOWN) if newest is not None else []:
        for line, (inspected, passed) in sorted(
            store.first_pass_counts(conn, shift.start_ms, shift.end_ms).items()
        ):
            out.setdefault(line, []).append(
                ShiftYield(line, shift.label, shift.start_ms, shift.end_ms, inspected, passed)
            )
    return out


def summary(conn: Connection, calendar: Calendar) -> dict[str, Any]:
    """Everything but the inspection rows: per-line results and yields, top defects, the total."""
    results = store.line_results(conn)
    return {
        "results": results,
        "yields": yields(conn, calendar),
        "defects": top_defects(store.defect_counts(conn), TOP_DEFECTS),
        "total": sum(sum(r.values()) for r in results.values()),
    }


def helpers() -> dict[str, Any]:
    return {
        "sort_key": sort_key,
        "icons": ICONS,
        "result_names": RESULTS,
        "pct": _pct,
        "defect_list": json.loads,
    }


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f} %"


def board(read: Read, calendar: Calendar) -> dict[str, Any]:
    recent = store.recent_inspections(read.conn, RECENT_ROWS)
    return {"inspections": recent, "recent_rows": RECENT_ROWS, **summary(read.conn, calendar), **helpers()}


def patch(read: Read, calendar: Calendar, keys: frozenset[str]) -> dict[str, Any]:
    """Changed inspections and lines; the defect list and the total ride along (they are small)."""
    ids = sorted(k[2:] for k in keys if k.startswith("i:"))
    rows = store.recent_inspections(read.conn, len(ids), ids=ids) if ids else []
    lines = sorted(k[2:] for k in keys if k.startswith("l:"))
    return {"inspections": rows, "lines": lines, **summary(read.conn, calendar), **helpers()}


def live_board(settings: Settings) -> LiveBoard:
    calendar = settings.calendar()
    return LiveBoard(
        view=VIEW,
        path="/quality",
        page="quality/page.html",
        board="quality/board.html",
        patch_template="quality/patch.html",
        context=lambda read, _params: board(read, calendar),
        patch=lambda read, keys: patch(read, calendar, keys),
    )


def _api_yield(cell: ShiftYield) -> dict[str, Any]:
    return {
        "shift": cell.shift,
        "start": iso(cell.start_ms),
        "end": iso(cell.end_ms),
        "inspected": cell.inspected,
        "passed_first_time": cell.passed,
        "first_pass_yield": None if cell.fpy is None else round(cell.fpy, 4),
    }


def router(engine: Engine, settings: Settings, reader: Reader | None = None) -> APIRouter:
    """The board's page and fragment (read through `reader`, the live store by default) and the API."""
    reader = reader or live_reader(engine)
    api = live_board(settings).router(reader)
    calendar = settings.calendar()

    @api.get("/api/quality")
    def quality_api(
        request: Request,
        line: LineId = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        """Inspections newest first, results and first-pass yield per line and shift, top defect codes,
        and each work order's first and latest inspection."""
        with reader(request) as read:
            conn = read.conn
            version, _, _ = current_version(conn)
            recent = store.recent_inspections(conn, limit, line=line)
            results = store.line_results(conn)
            by_line = yields(conn, calendar)
            defects = top_defects(store.defect_counts(conn, line), TOP_DEFECTS)
            orders = store.work_order_results(conn, line=line, limit=limit)
        if line:
            results = {line: results.get(line, {})}
            by_line = {line: by_line.get(line, [])}
        return {
            "version": version,
            "inspections": [
                {
                    **{k: v for k, v in row.items() if k not in ("at_ms", "defects")},
                    "defects": json.loads(row["defects"]),
                    "at": iso(row["at_ms"]),
                }
                for row in recent
            ],
            "lines": {
                name: {
                    "results": {r: counts.get(r, 0) for r in RESULTS},
                    "first_pass_yield": [_api_yield(c) for c in by_line.get(name, [])],
                }
                for name, counts in sorted(results.items())
            },
            "top_defects": [{"code": code, "count": n} for code, n in defects],
            "work_orders": [
                {
                    **{k: v for k, v in row.items() if not k.endswith("_ms")},
                    "first_at": iso(row["first_at_ms"]),
                    "latest_at": iso(row["latest_at_ms"]),
                }
                for row in orders
            ],
        }

    return api
