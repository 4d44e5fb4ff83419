"""A live board, declared once: its page, its board fragment and the patch renderer the hub calls.

Every live page is the same shape: `GET /x` renders the page (a template extending `live.html`, the
shell whose `#live-root` holds the SSE connection), `GET /x/board` renders the board fragment alone
(what a page swaps in when told to reload), and after each commit the hub asks for a patch of the
changed keys. A `LiveBoard` holds what differs: the path, the view, three template names, a context
function and a patch function. Both functions get a `Read`: a connection and "now" chosen by the
board's reader, never a global, so a reader over another store or another moment serves the same
board unchanged.

Adding a board:
1. templates `x/page.html` (`{% extends "live.html" %}`; blocks `title`, `head`, `toolbar`, and
   `live_attrs` for extra `#live-root` attributes), `x/board.html` (root `id="board"`), `x/patch.html`;
2. `context(read, params) -> dict` for page and fragment, `patch(read, keys) -> dict` for frames, and
   optionally `params`, a FastAPI dependency parsing the query string (its result is `params`);
3. `BOARD = LiveBoard(view="x", path="/x", page="x/page.html", board="x/board.html",
   patch_template="x/patch.html", context=context, patch=patch, params=params)`;
4. in `web/app.py`: `BOARD.install(app, hub, live_reader(engine))`; or, when the module has more
   routes (a JSON API), its `router()` starts from `BOARD.router(reader)` and app.py calls
   `BOARD.register(hub, reader)`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.params import Depends as DependsParam
from fastapi.responses import HTMLResponse
from sqlalchemy import Connection, Engine

from shopfloor.live.hub import Hub, PatchRenderer
from shopfloor.pages import templates
from shopfloor.store.batch import current_version

Clock = Callable[[], int]


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class Read:
    """What a board reads from: one connection, and the moment it counts as now (epoch ms); `shell`:
    template variables the reader adds to every page it serves (a past view's banner)."""

    conn: Connection
    now_ms: int
    shell: Mapping[str, Any] = field(default_factory=dict)


class Reader(Protocol):
    """Opens a `Read` for a request (None: a live frame). The place to choose another store or time."""

    def __call__(self, request: Request | None = None) -> AbstractContextManager[Read]: ...


def live_reader(engine: Engine, clock: Clock = wall_clock_ms) -> Reader:
    """The current store at the current time."""

    @contextmanager
    def read(_request: Request | None = None) -> Iterator[Read]:
        with engine.connect() as conn:
            yield Read(conn, clock())

    return read


Context = Callable[[Read, Any], Mapping[str, Any]]
Patch = Callable[[Read, frozenset[str]], Mapping[str, Any]]


def no_params() -> None:
    return None


@dataclass(frozen=True)
class LiveBoard:
    """`board`: the template inside `#live-root`, also served alone at `<path>/board` unless
    `board_route` is off (then the page reloads whole). `patch=None`: frames carry nothing but their
    version (changes arrive as reloads). `dependencies` guard both routes."""

    view: str
    path: str
    page: str
    board: str
    context: Context
    patch_template: str | None = None
    patch: Patch | None = None
    params: Callable[..., Any] = no_params
    follows: frozenset[str] = frozenset()
    dependencies: Sequence[DependsParam] = field(default_factory=tuple)
    board_route: bool = True
    in_schema: bool = True
    page_name: str = ""

    @property
    def board_path(self) -> str:
        return f"{self.path.rstrip('/')}/board"

    def render_context(self, read: Read, params: Any) -> dict[str, Any]:
        """Everything the page and fragment templates see: the context and the shell's variables."""
        version, last_event_ms, _ = current_version(read.conn)
        shell: dict[str, Any] = {
            "view": self.view,
            "version": version,
            "last_event_ms": last_event_ms,
            "now_ms": read.now_ms,  # the page's "now" (the moment, in a past view)
        }
        shell |= read.shell
        context = {**shell, **self.context(read, params), "board_template": self.board}
        if self.board_route:
            query = context.get("board_query")
            context["board_url"] = self.board_path + (f"?{query}" if query else "")
        return context

    def router(self, reader: Reader) -> APIRouter:
        """The page and board-fragment routes."""
        api = APIRouter(dependencies=list(self.dependencies))
        parsed = Depends(self.params)  # a default, not an annotation: those are strings here

        def respond(request: Request, template: str, params: Any) -> HTMLResponse:
            with reader(request) as read:
                context = self.render_context(read, params)
            return templates.TemplateResponse(request, template, context)

        def page(request: Request, params: Any = parsed) -> HTMLResponse:
            return respond(request, self.page, params)

        api.add_api_route(
            self.path,
            page,
            methods=["GET"],
            response_class=HTMLResponse,
            name=self.page_name or f"{self.view.replace('-', '_')}_page",
            include_in_schema=self.in_schema,
        )
        if self.board_route:

            def fragment(request: Request, params: Any = parsed) -> HTMLResponse:
                return respond(request, self.board, params)

            api.add_api_route(
                self.board_path,
                fragment,
                methods=["GET"],
                response_class=HTMLResponse,
                name=f"{self.view.replace('-', '_')}_board",
                include_in_schema=False,
            )
        return api

    def patch_renderer(self, reader: Reader) -> PatchRenderer:
        """The hub's renderer: changed keys to patch markup, off the event loop."""
        patch, name = self.patch, self.patch_template
        if patch is None or name is None:

            async def nothing(_keys: frozenset[str]) -> str:
                return ""

            return nothing

        def render(keys: frozenset[str]) -> str:
            with reader() as read:
                context = {"now_ms": read.now_ms, **patch(read, keys)}
                _, last_event_ms = current_version(read.conn)[:2]
            # The newest event time as of these rows: a page's "data from" stays true even when the
            # server stops before its next heartbeat.
            stamp = "" if last_event_ms is None else f'<template data-event-ms="{last_event_ms}"></template>'
            return templates.get_template(name).render(**context) + stamp

        async def render_async(keys: frozenset[str]) -> str:
            return await asyncio.to_thread(render, keys)

        return render_async

    def register(self, hub: Hub, reader: Reader) -> None:
        """Makes the view live: the hub renders its frames with this board's patch."""
        hub.register(self.view, self.patch_renderer(reader), follows=self.follows)

    def install(self, app: FastAPI, hub: Hub, reader: Reader) -> None:
        """`register`, and the page and fragment routes."""
        self.register(hub, reader)
        app.include_router(self.router(reader))
