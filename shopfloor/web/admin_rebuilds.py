"""/admin/rebuilds: progress of `shopfloor rebuild`, live; and on SQLite, telling pages of a swap.

Progress lives in the store (the rebuild runs in its own process), so every replica can show it: a
stream per admin tab re-reads it twice a second and sends rows that changed, as patch frames the
page glue already applies. PostgreSQL replicas hear of a swap by NOTIFY like any commit; SQLite has
no NOTIFY, so a watcher here sees the swap in the progress table and reloads the swapped views.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import Engine
from starlette.responses import Response

from shopfloor.auth.roles import Principal, require_role
from shopfloor.live.hub import Frame, Hub
from shopfloor.pages import templates
from shopfloor.rebuild import progress as progress_store
from shopfloor.web.sse import EventStream, Streams, encode_event

log = logging.getLogger(__name__)
POLL_SECONDS = 0.5
STATUS_SECONDS = 5.0
Admin = Annotated[Principal, Depends(require_role("admin"))]


def _row_html(progress: progress_store.Progress) -> str:
    row = templates.get_template("admin/rebuild_row.html").render(p=progress)
    return f'<template data-into="rebuild-rows">{row}</template>'


def router(engine: Engine, streams: Streams) -> APIRouter:
    """The progress table must exist (the composition root creates it)."""
    api = APIRouter()

    @api.get("/admin/rebuilds", response_class=HTMLResponse)
    def page(request: Request, _user: Admin) -> Response:
        context = {"view": "admin", "rebuilds": progress_store.load_all(engine)}
        return templates.TemplateResponse(request, "admin/rebuilds.html", context)

    @api.get("/api/rebuilds")
    def rebuilds(_user: Admin) -> JSONResponse:
        return JSONResponse([progress_store.as_dict(p) for p in progress_store.load_all(engine)])

    @api.get("/admin/rebuilds/stream", include_in_schema=False)
    async def stream(request: Request, _user: Admin) -> EventStream:
        return streams.response(request, _frames(engine, request))

    return api


async def _frames(engine: Engine, request: Request) -> AsyncIterator[bytes]:
    sent: dict[str, str] = {}
    since_status = STATUS_SECONDS
    while not await request.is_disconnected():
        rows = await asyncio.to_thread(progress_store.load_all, engine)
        changed = [html for p in rows if sent.get(p.model) != (html := _row_html(p))]
        for p in rows:
            sent[p.model] = _row_html(p)
        if changed:
            yield encode_event("".join(changed), "patch")
        since_status += POLL_SECONDS
        if since_status >= STATUS_SECONDS:
            since_status = 0.0
            yield encode_event(json.dumps({"healthy": True}), "status")
        await asyncio.sleep(POLL_SECONDS)


async def watch_swaps(engine: Engine, hub: Hub, period: float = 1.0) -> None:
    """SQLite only: a rebuild swapped tables under this process; every page of those views reloads."""
    seen: dict[str, int | None] | None = None
    while True:
        try:
            rows = await asyncio.to_thread(progress_store.load_all, engine)
            swaps = {p.model: p.swapped_version for p in rows if p.state == "SWAPPED"}
            if seen is not None:
                for p in rows:
                    if p.model in swaps and seen.get(p.model) != swaps[p.model]:
                        _reload(hub, json.loads(p.message or "{}").get("views", []))
            seen = swaps
        except Exception:
            log.exception("watching rebuild swaps failed")
        await asyncio.sleep(period)


def _reload(hub: Hub, views: list[str]) -> None:
    for view in views:
        channel = hub.views.get(view)
        if channel is None:
            continue
        log.info("read model behind %s was swapped by a rebuild; pages reload", view)
        for subscriber in list(channel.subscribers):
            subscriber.offer(Frame("reload", "", hub.version))
