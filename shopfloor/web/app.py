"""The FastAPI application: pages, API, SSE, operations endpoints, static and vendor assets."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shopfloor.auth import wiring as auth_wiring
from shopfloor.auth.metrics_token import MetricsToken
from shopfloor.history import web as history_web
from shopfloor.pages import templates
from shopfloor.rebuild import progress as progress_store
from shopfloor.runtime import Runtime
from shopfloor.transport.base import EventSink
from shopfloor.web import (
    admin_rebuilds,
    docs,
    equipment_actions,
    equipment_trend,
    errors,
    health,
    overview,
    sse,
    work_orders,
)
from shopfloor.web import alarms as alarms_web
from shopfloor.web import dead_letters as dead_letters_web
from shopfloor.web import equipment as equipment_web
from shopfloor.web import inventory as inventory_web
from shopfloor.web import lines as lines_web
from shopfloor.web import outbound as outbound_web
from shopfloor.web import quality as quality_web
from shopfloor.web.assets import vendor_files, vendor_route
from shopfloor.web.board import live_reader
from shopfloor.web.cutoffs import RiskJudge
from shopfloor.web.head import HeadAsGet
from shopfloor.web.query_rules import known_query_only, page_refusal
from shopfloor.web.sse import Streams
from shopfloor.web.stream_limits import StreamLimits

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)

PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), serial=(), display-capture=()"
)


SECURITY_HEADERS = (
    ("content-security-policy", CSP),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
    ("x-frame-options", "DENY"),
    ("permissions-policy", PERMISSIONS_POLICY),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
)
HSTS = ("strict-transport-security", "max-age=31536000; includeSubDomains")
NO_STORE = ("cache-control", "no-store")
CACHEABLE_PREFIXES = ("/static/", "/vendor/")


class SecurityHeaders:
    """Adds the security headers a response did not set itself. Plain ASGI, not BaseHTTPMiddleware:
    that would pass every chunk of every SSE stream through an extra task and memory stream."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = (*SECURITY_HEADERS, HSTS) if scope.get("scheme") == "https" else SECURITY_HEADERS
        if not scope["path"].startswith(CACHEABLE_PREFIXES):
            extra = (*extra, NO_STORE)  # pages and data are per user and current: never from a cache

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in extra:
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(
        title="shopfloor",
        version="0.1.0",
        lifespan=runtime.lifespan,
        docs_url=None,  # our own /docs: Swagger UI from local assets, under the CSP
        redoc_url=None,
        dependencies=[Depends(known_query_only)],  # a query parameter no route reads is a 400
    )
    app.state.runtime = runtime
    app.state.page_refusal = functools.partial(page_refusal, app)  # admin checks a screen's page
    app.add_middleware(StreamLimits, settings=runtime.settings)  # inside auth: it knows the session
    auth_wiring.install(app, runtime)  # inside SecurityHeaders, so refusals carry them
    app.add_middleware(MetricsToken, token=runtime.settings.metrics_token)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(HeadAsGet)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_api_route(
        "/vendor/{name}", vendor_route(vendor_files()), methods=["GET"], include_in_schema=False
    )

    errors.install(app)  # bad input is a 400 naming each problem; browsers get it as a page

    history_web.install(app)  # ?at=: 400 for a bad time, 410 for a past the log no longer holds
    templates.env.globals["store_epoch"] = runtime.hub.epoch
    include_routes(app, runtime)
    return app


def include_routes(app: FastAPI, runtime: Runtime) -> None:
    """Every router gets what it uses; the boards' views are registered with the hub here."""
    engine, hub, settings = runtime.engine, runtime.hub, runtime.settings
    plan = lines_web.Plan(settings)  # plan vs actual per line; its clock is "now" for the boards
    live_store = live_reader(engine, plan.clock)
    reader = history_web.past_reader(live_store, runtime.history)  # `?at=`: the board as of that moment
    points = inventory_web.ReorderPoints.from_settings(settings)
    streams = Streams(functools.partial(auth_wiring.session_watch, runtime), settings.session_check_seconds)
    app.state.streams = streams  # the server ends them when it stops

    def sink() -> EventSink | None:
        return runtime.sink

    work_orders.BOARD.register(hub, reader)
    app.include_router(work_orders.router(engine, reader))
    inventory_web.live_board(points).register(hub, reader)
    app.include_router(inventory_web.router(engine, settings, reader))
    outbound_web.live_board(settings).register(hub, reader)
    app.include_router(outbound_web.router(engine, settings, plan.clock, reader))
    templates.env.globals["outbound_at_risk"] = RiskJudge(engine, settings)
    equipment_web.BOARD.register(hub, reader)
    hub.register(equipment_trend.TREND_VIEW, equipment_web.trend_patch_renderer())
    app.include_router(equipment_web.router(engine, reader))
    app.include_router(equipment_trend.router(engine, hub, streams, plan.clock, reader))
    app.include_router(equipment_actions.router(engine, sink, settings.topic_alert_commands))
    app.include_router(
        alarms_web.router(engine, sink, settings.topic_alert_commands, reader, plan.calendar.zone)
    )
    app.include_router(health.router(engine, runtime.projector, runtime.listener, runtime.consumer_behind))
    app.include_router(docs.router(settings.event_topics()))
    progress_store.ensure_table(engine)
    if engine.dialect.name == "sqlite":  # no NOTIFY there: rebuild swaps are watched for
        runtime.tasks.append(lambda: admin_rebuilds.watch_swaps(engine, hub))
    app.include_router(admin_rebuilds.router(engine, streams))
    dead_letters_web.BOARD.register(hub, live_store)
    queue = history_web.live_only(live_store, dead_letters_web.WHAT)
    app.include_router(dead_letters_web.router(engine, hub, sink, queue))
    lines_board, downtime_board = lines_web.live_boards(plan)
    lines_board.register(hub, reader)
    downtime_board.register(hub, reader)
    app.include_router(lines_web.router(engine, plan, reader))
    quality_web.live_board(settings).register(hub, reader)
    app.include_router(quality_web.router(engine, settings, reader))
    overview.live_board(points, settings.stuck_limits_ms(), plan).install(app, hub, reader)
    app.include_router(history_web.router())

    @app.get("/sse/{view}", include_in_schema=False)
    async def live(
        view: str,
        request: Request,
        _since: Annotated[str | None, Query(alias="since", description=sse.SINCE_HELP)] = None,
    ) -> Response:
        if view not in hub.views:
            return JSONResponse({"error": f"no live view {view!r}"}, status_code=404)
        return sse.hub_stream(hub, view, request, streams)
