"""/dead-letters: what could not be applied, why, and the supervisor's reprocess / discard actions."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Engine

from shopfloor.auth import audit
from shopfloor.auth.roles import Principal, require_role
from shopfloor.live.hub import Frame, Hub
from shopfloor.store import dead_letters as store
from shopfloor.transport.base import EventSink
from shopfloor.web.board import LiveBoard, Read, Reader, live_reader

VIEW = "dead-letters"
WHAT = "the dead-letter queue"
Supervisor = Annotated[Principal, Depends(require_role("supervisor"))]
StatusFilter = Annotated[str, Query(pattern="^(NEW|REPROCESSED|DISCARDED|PARKED|ALL)$")]


def board(read: Read, status: str) -> dict[str, Any]:
    engine = read.conn.engine  # the letter queries open their own connections on it
    return {
        "letters": store.listing(engine, None if status == "ALL" else status),
        "counts": store.counts(engine),
        "status": status,
        "board_query": f"status={quote(status, safe='/')}",
        "statuses": (*store.STATUSES, "ALL"),
        "audit": audit.recent(read.conn, 30, "dead-letter."),
    }


def status_param(status: StatusFilter = "NEW") -> str:
    return status


# New dead letters arrive as `*` (a reload of the board), so frames never carry a patch.
BOARD = LiveBoard(
    view=VIEW,
    path="/dead-letters",
    page="dead_letters/page.html",
    board="dead_letters/board.html",
    context=board,
    params=status_param,
    dependencies=(Depends(require_role("supervisor")),),
    in_schema=False,
)


def router(
    engine: Engine, hub: Hub, sink: Callable[[], EventSink | None], reader: Reader | None = None
) -> APIRouter:
    """`sink()`: where reprocessed letters are produced (None: this process does not publish)."""
    reader = reader or live_reader(engine)
    api = BOARD.router(reader)

    def reload_viewers() -> None:
        """This process's viewers reload at once (other replicas on the next dead letter or reconnect)."""
        channel = hub.views.get(VIEW)
        for subscriber in list(channel.subscribers if channel else ()):
            subscriber.offer(Frame("reload", "", hub.version))

    @api.get("/api/dead-letters")
    def api_list(request: Request, _user: Supervisor, status: StatusFilter = "NEW") -> dict[str, Any]:
        with reader(request) as read:  # the page's reader: the same store, the same refusal of ?at=
            letters = store.listing(read.conn.engine, None if status == "ALL" else status)
            return {"counts": store.counts(read.conn.engine), "dead_letters": letters}

    def done(request: Request) -> Response:
        if request.headers.get("hx-request"):
            return Response(status_code=204)
        return RedirectResponse("/dead-letters", status_code=303)

    @api.post("/dead-letters/{letter_id}/reprocess", include_in_schema=False)
    async def reprocess(request: Request, user: Supervisor, letter_id: int) -> Response:
        """Produces the original bytes and headers to the original topic again; the consumer decides anew.
        The letter is claimed first, so of many parallel clicks exactly one re-produces it."""
        out = sink()
        if out is None:
            raise HTTPException(503, "this process does not publish events")
        letter = await asyncio.to_thread(store.get, engine, letter_id)
        if letter is None:
            raise HTTPException(404, f"no dead letter {letter_id}")
        if not await asyncio.to_thread(store.claim, engine, letter_id):
            raise HTTPException(409, f"dead letter {letter_id} is taken or resolved already")
        try:
            await out.send(letter["topic"], letter["value"], letter["key"], letter["header_list"])
            await out.flush()
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
