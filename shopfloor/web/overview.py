"""The plant overview: one tile per board with its headline figures, kept live."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Engine, func, select

from shopfloor.config import Settings
from shopfloor.pages import templates
from shopfloor.projections.work_orders import OPEN_STATUSES
from shopfloor.store import alerts as alert_store
from shopfloor.store import equipment as equipment_store
from shopfloor.store import work_orders as wo_store
from shopfloor.store.batch import current_version
from shopfloor.web import inventory as inventory_web
from shopfloor.web import lines as lines_web
from shopfloor.web import outbound as outbound_web

VIEW = "overview"
FOLLOWS = frozenset(
    {wo_store.VIEW, inventory_web.VIEW, outbound_web.VIEW, equipment_store.VIEW, lines_web.VIEW}
)


def _equipment(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        by_status = dict(
            conn.execute(
                select(equipment_store.EQUIPMENT.c.status, func.count()).group_by(
                    equipment_store.EQUIPMENT.c.status
                )
            ).all()
        )
        standing = conn.execute(
            select(func.count())
            .select_from(alert_store.ALERTS)
            .where(alert_store.ALERTS.c.state != "CLEARED")
        ).scalar_one()
    return {"machines": sum(by_status.values()), "down": by_status.get("DOWN", 0), "alerts": standing}


def tiles(engine: Engine, settings: Settings, plan: lines_web.Plan) -> dict[str, Any]:
    with engine.connect() as conn:
        version, last_event_ms, _ = current_version(conn)
        counts = wo_store.line_counts(conn)
        open_orders = sum(
            n for per_line in counts.values() for s, n in per_line.items() if s in OPEN_STATUSES
        )
    return {
        "version": version,
        "last_event_ms": last_event_ms,
        "wo_open": open_orders,
        "wo_lines": len(counts),
        "lines": sorted(counts),
        "inventory": inventory_web.tile(engine, settings),
        "outbound": outbound_web.tile(engine, settings, outbound_web.wall_clock_ms()),
        "equipment": _equipment(engine),
        "line_bands": lines_web.summaries(engine, plan)["lines"],  # the strip: the same bands as /lines
    }


def patch_renderer(engine: Engine, settings: Settings, plan: lines_web.Plan):  # type: ignore[no-untyped-def]
    def render(_keys: frozenset[str]) -> str:
        template = templates.get_template("overview/tiles.html")
        return f"<template>{template.render(**tiles(engine, settings, plan))}</template>"

    async def render_async(keys: frozenset[str]) -> str:
        return await asyncio.to_thread(render, keys)

    return render_async


def router(engine: Engine, settings: Settings, plan: lines_web.Plan) -> APIRouter:
    api = APIRouter()

    @api.get("/", response_class=HTMLResponse)
    def overview(request: Request) -> HTMLResponse:
        context = {"view": VIEW, **tiles(engine, settings, plan)}
        return templates.TemplateResponse(request, "index.html", context)

    return api
