"""Past views (`?at=`) as a reader: the boards and their APIs read through `past_reader`, which
answers a request carrying `at` from the as-of store of that moment, with the moment as "now", and
every other request (and every live frame) from the reader it wraps. Plus the history routes
(timeline, diff, handover) and the answers for a moment that cannot be shown.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any
from urllib.parse import urlencode

import anyio.from_thread
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import Engine

from shopfloor.history.diff import attach_events, diff
from shopfloor.history.moment import BadMoment
from shopfloor.history.replay import ReplayStalled
from shopfloor.history.service import History, PastUnavailable
from shopfloor.history.timeline import markers
from shopfloor.history.views import parts_for
from shopfloor.store.batch import current_version, newest_event_ms
from shopfloor.store.db import iso
from shopfloor.web.board import Read, Reader
from shopfloor.web.cutoffs import RiskJudge
from shopfloor.web.errors import wants_html

NO_LOG = "past views need the event log, which this process does not read"


def past_reader(live: Reader, history: History | None) -> Reader:
    """`live`, unless the request asks for `?at=`: then the store as it stood at that moment (replayed
    from the log, cached), "now" stopped there, and the past view's shell (banner, no stream, no
    actions). Raises BadMoment / PastUnavailable, which `install` turns into 400 / 410."""

    @contextmanager
    def read(request: Request | None = None) -> Iterator[Read]:
        at = None if request is None else request.query_params.get("at")
        if request is None or at is None or not at.strip():
            with live(request) as found:
                yield found
            return
        if history is None:
            raise BadMoment(NO_LOG)
        at_ms = history.moment(at, int(time.time() * 1000))
        parts = parts_for(request.url.path, history.parts)
        past = anyio.from_thread.run(history.as_of, at_ms, parts)  # routes run in worker threads
        shell = {
            "past": {
                "at_ms": at_ms,
                "label": history.label(at_ms),
                "at": at.strip(),
                "zone": history.zone.key,  # the timeline's labels are in it too
            },
            "outbound_at_risk": RiskJudge(past.engine, history.settings, clock=lambda: at_ms),
        }
        with past.engine.connect() as conn:
            yield Read(conn, at_ms, shell)

    return read


def live_only(live: Reader, what: str) -> Reader:
    """`live`, for a page or API that is not a fold of the event log and so has no past: `?at=`
    there is a 400 that says so, rather than the live page passed off as a past one."""

    @contextmanager
    def read(request: Request | None = None) -> Iterator[Read]:
        if request is not None and (request.query_params.get("at") or "").strip():
            raise BadMoment(
                f"{what} has no past view: it is kept as it happens, not folded from the event log"
            )
        with live(request) as found:
            yield found

    return read


def router() -> APIRouter:
    api = APIRouter()

    @api.get("/api/history/timeline")
    async def timeline(
        request: Request, board: Annotated[str, Query(max_length=200, pattern="^/[a-z/-]*$")] = "/"
    ) -> dict[str, Any]:
        """The range a past view of `board` can show, and its markers (alerts, stoppages, late orders)."""
        history = _history(request)
        earliest = await history.earliest(parts_for(board, history.parts))
        live = request.app.state.runtime.engine

        def read() -> tuple[int | None, list[dict[str, Any]]]:
            with live.connect() as conn:
                newest = current_version(conn)[1]
                if earliest is None or newest is None:
                    return newest, []
                return newest, markers(conn, earliest, newest)

        newest, found = await asyncio.to_thread(read)
        return {"from_ms": earliest, "to_ms": newest, "markers": found}

    @api.get("/api/history/diff")
    async def work_order_diff(
        request: Request,
        since: Annotated[str, Query(max_length=64)],
        at: Annotated[str, Query(max_length=64)],
        line: Annotated[str | None, Query(max_length=200)] = None,
    ) -> dict[str, Any]:
        """Work orders added, removed and changed between two moments, with the events that did it."""
        history = _history(request)
        now = int(time.time() * 1000)
        since_ms, at_ms = history.moment(since, now), history.moment(at, now)
        return await handover_data(history, since_ms, at_ms, line)

    @api.get("/handover", response_class=HTMLResponse)
    async def handover(
        request: Request,
        line: Annotated[str | None, Query(max_length=200, description="the line handed over")] = None,
        since: Annotated[str | None, Query(max_length=64)] = None,
        at: Annotated[str | None, Query(max_length=64)] = None,
    ) -> Any:
        """A printable shift handover for one line: by default the last shift that has ended (or,
        when the event log begins after it, the current shift so far). Without a line: the lines
        to choose from."""
        from shopfloor.pages import templates

        engine = request.app.state.runtime.engine
        lines = await asyncio.to_thread(_known_lines, engine)
        if not line:
            context = {"view": "handover", "lines": lines, "past": {"label": ""}}
            return templates.TemplateResponse(request, "history/handover_lines.html", context)
        history = _history(request)
        now = int(time.time() * 1000)
        base = {"line": line, "unseen": line not in lines, "view": "handover", "past": {"label": ""}}
        if since is None or at is None:
            window = await _default_window(history, engine, now)
            if window is None:
                context = {
                    **base,
                    "empty": "The event log holds no work-order events yet: nothing to hand over.",
                }
                return templates.TemplateResponse(request, "history/handover.html", context)
            since_ms, at_ms, label = window
        else:
            since_ms, at_ms = history.moment(since, now), history.moment(at, now)
            label = f"{history.label(since_ms)} to {history.label(at_ms)}"
        data = await handover_data(history, since_ms, at_ms, line)
        context = {**base, **data, "shift": label, "since_label": history.label(since_ms)}
        context |= {"at_label": history.label(at_ms)}
        return templates.TemplateResponse(request, "history/handover.html", context)

    return api


WORK_ORDER_FIELDS = ("status", "line_id", "product", "quantity_done", "quantity_scrap", "operator")


def _known_lines(engine: Engine) -> list[str]:
    """Every line a work-order or machine event has named."""
    from shopfloor.store import lines as line_store
    from shopfloor.store import work_orders as order_store

    with engine.connect() as conn:
        return sorted(set(order_store.lines(conn)) | set(line_store.line_ids(conn)))


def _order_parts(history: History) -> list[Any]:
    from shopfloor.store import work_orders as store

    return [p for p in history.parts if any(isinstance(h, store.WorkOrderHandler) for h in p.handlers)]


async def _default_window(history: History, engine: Engine, now: int) -> tuple[int, int, str] | None:
    """The last shift that has ended by the newest event; when the log begins after its start
    (nothing to replay it from), the current shift from the log's first moment to the newest event.
    None: the log holds no work-order events."""
    from shopfloor.projections.calendar import shift_at

    earliest = await history.earliest(_order_parts(history))
    if earliest is None:
        return None
    newest = await asyncio.to_thread(newest_event_ms, engine) or now
    calendar = history.settings.calendar()
    current = shift_at(calendar, newest)
    last = shift_at(calendar, current.start_ms - 1)
    if last.label == "off shift":  # a gap between shifts (no night shift): the shift before it
        last = shift_at(calendar, last.start_ms - 1)
    if last.start_ms >= earliest:
        return last.start_ms, last.end_ms, last.label
    since_ms = max(current.start_ms, earliest)
    return since_ms, max(newest, since_ms + 1), f"{current.label} so far (the event log begins in it)"


def _history(request: Request) -> History:
    history = getattr(request.app.state.runtime, "history", None)
    if history is None:
        raise BadMoment(NO_LOG)
    return history


async def handover_data(history: History, since_ms: int, at_ms: int, line: str | None) -> dict[str, Any]:
    from shopfloor.store import work_orders as store

    if since_ms >= at_ms:
        raise BadMoment("'since' must be before 'at'")
    orders = _order_parts(history)

    def rows(engine: Engine) -> dict[str, dict[str, Any]]:
        with engine.connect() as conn:
            return {r["work_order_id"]: r for r in store.list_work_orders(conn, line=line)}

    before = await asyncio.to_thread(rows, (await history.as_of(since_ms, orders)).engine)
    after = await asyncio.to_thread(rows, (await history.as_of(at_ms, orders)).engine)
    changes = diff(before, after, WORK_ORDER_FIELDS)
    attach_events(changes, await history.events(since_ms, at_ms, orders[0]))
    open_at_end = sorted(
        (r for r in after.values() if r["status"] not in ("COMPLETED", "CANCELLED")),
        key=lambda r: r["work_order_id"],
    )
    return {
        "since": iso(since_ms),
        "at": iso(at_ms),
        "line": line,
        "changes": [
            {
                "work_order_id": c.key,
                "kind": c.kind,
                "fields": {k: list(v) for k, v in c.fields.items()},
                "events": c.events,
            }
            for c in changes
        ],
        "open": [{k: r[k] for k in ("work_order_id", *WORK_ORDER_FIELDS)} for r in open_at_end],
    }


def _live_url(request: Request) -> str:
    """Where "Back to live" leads: the same page without `at`; for a handover, that line's default
    handover when a chosen window failed, else the list of lines (neither needs a past moment
    given by hand)."""
    query = request.query_params
    if request.url.path == "/handover":
        line = query.get("line")
        if line and (query.get("since") is not None or query.get("at") is not None):
            return "/handover?" + urlencode({"line": line})
        return "/handover"
    rest = [(k, v) for k, v in query.multi_items() if k != "at"]
    return request.url.path + (f"?{urlencode(rest)}" if rest else "")


def install(app: FastAPI) -> None:
    """Bad moments are the caller's mistake (400); a past the log no longer holds is gone (410)."""
    from shopfloor.pages import templates

    def answer(request: Request, status: int, title: str, message: str) -> Any:
        if not wants_html(request):  # as every refusal: a page for browsers, JSON for the rest
            return JSONResponse({"error": title, "detail": message}, status_code=status)
        context = {"title": title, "message": message, "live_url": _live_url(request), "past": {"label": ""}}
        return templates.TemplateResponse(request, "history/unavailable.html", context, status_code=status)

    async def bad(request: Request, exc: Exception) -> Any:
        return answer(request, 400, "invalid time", str(exc))

    async def gone(request: Request, exc: Exception) -> Any:
        return answer(request, 410, "the past is not available", str(exc))

    async def stalled(request: Request, exc: Exception) -> Any:
        return answer(request, 503, "the event log did not answer", str(exc))

    app.add_exception_handler(BadMoment, bad)
    app.add_exception_handler(PastUnavailable, gone)
    app.add_exception_handler(ReplayStalled, stalled)
