"""/dead-letters: what could not be applied, why, and the supervisor's reprocess / discard actions."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Engine

from shopfloor.auth import audit
from shopfloor.auth.roles import Principal, require_role
from shopfloor.live.hub import Frame
from shopfloor.pages import templates
from shopfloor.runtime import Runtime
from shopfloor.store import dead_letters as store
from shopfloor.store.batch import current_version

VIEW = "dead-letters"
Supervisor = Annotated[Principal, Depends(require_role("supervisor"))]
StatusFilter = Annotated[str, Query(pattern="^(NEW|REPROCESSED|DISCARDED|PARKED|ALL)$")]


def board(engine: Engine, status: str) -> dict[str, Any]:
    with engine.connect() as conn:
        version, last_event_ms, _ = current_version(conn)
        trail = audit.recent(conn, 30, "dead-letter.")
    return {
        "view": VIEW,
        "version": version,
        "last_event_ms": last_event_ms,
        "letters": store.listing(engine, None if status == "ALL" else status),
        "counts": store.counts(engine),
        "status": status,
        "statuses": (*store.STATUSES, "ALL"),
        "audit": trail,
    }


def patch_renderer(engine: Engine):  # type: ignore[no-untyped-def]
    """New dead letters arrive as `*` (a reload of the board), so a patch is never narrower."""

    async def render(_keys: frozenset[str]) -> str:
        return ""

    return render


def router(runtime: Runtime) -> APIRouter:
    api = APIRouter()
    engine = runtime.engine

    def reload_viewers() -> None:
        """This process's viewers reload at once (other replicas on the next dead letter or reconnect)."""
        channel = runtime.hub.views.get(VIEW)
        for subscriber in list(channel.subscribers if channel else ()):
            subscriber.offer(Frame("reload", "", runtime.hub.version))

    @api.get("/dead-letters", response_class=HTMLResponse, include_in_schema=False)
    def page(request: Request, _user: Supervisor, status: StatusFilter = "NEW") -> Response:
        return templates.TemplateResponse(request, "dead_letters/page.html", board(engine, status))

    @api.get("/dead-letters/board", response_class=HTMLResponse, include_in_schema=False)
    def board_fragment(request: Request, _user: Supervisor, status: StatusFilter = "NEW") -> Response:
        return templates.TemplateResponse(request, "dead_letters/board.html", board(engine, status))

    @api.get("/api/dead-letters")
    def api_list(_user: Supervisor, status: StatusFilter = "NEW") -> dict[str, Any]:
        letters = store.listing(engine, None if status == "ALL" else status)
        return {"counts": store.counts(engine), "dead_letters": letters}

    def done(request: Request) -> Response:
        if request.headers.get("hx-request"):
            return Response(status_code=204)
        return RedirectResponse("/dead-letters", status_code=303)

    @api.post("/dead-letters/{letter_id}/reprocess", include_in_schema=False)
    async def reprocess(request: Request, user: Supervisor, letter_id: int) -> Response:
        """Produces the original bytes and headers to the original topic again; the consumer decides anew.
        The letter is claimed first, so of many parallel clicks exactly one re-produces it."""
        if runtime.sink is None:
            raise HTTPException(503, "this process does not publish events")
        letter = await asyncio.to_thread(store.get, engine, letter_id)
        if letter is None:
            raise HTTPException(404, f"no dead letter {letter_id}")
        if not await asyncio.to_thread(store.claim, engine, letter_id):
            raise HTTPException(409, f"dead letter {letter_id} is taken or resolved already")
        try:
            await runtime.sink.send(letter["topic"], letter["value"], letter["key"], letter["header_list"])
            await runtime.sink.flush()
        except BaseException:
            await asyncio.to_thread(store.release, engine, letter_id)
            raise
        await asyncio.to_thread(
            store.resolve, engine, letter_id, "REPROCESSED", user.name, "re-produced", claimed=True
        )
        reload_viewers()
        return done(request)

    @api.post("/dead-letters/{letter_id}/discard", include_in_schema=False)
    async def discard(request: Request, user: Supervisor, letter_id: int) -> Response:
        if not await asyncio.to_thread(store.resolve, engine, letter_id, "DISCARDED", user.name):
            raise HTTPException(409, f"dead letter {letter_id} is missing or resolved already")
        reload_viewers()
        return done(request)

    return api
