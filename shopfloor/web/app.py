"""The FastAPI application: pages, API, SSE, operations endpoints, static and vendor assets."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shopfloor.auth import wiring as auth_wiring
from shopfloor.history import web as history_web
from shopfloor.runtime import Runtime
from shopfloor.web import alarms as alarms_web
from shopfloor.web import dead_letters as dead_letters_web
from shopfloor.web import docs, equipment_actions, equipment_trend, health, overview, sse, work_orders
from shopfloor.web import equipment as equipment_web
from shopfloor.web import inventory as inventory_web
from shopfloor.web import lines as lines_web
from shopfloor.web import outbound as outbound_web
from shopfloor.web.admin_rebuilds import router as rebuilds_router
from shopfloor.web.assets import vendor_files, vendor_route
from shopfloor.web.cutoffs import RiskJudge
from shopfloor.web.head import HeadAsGet
from shopfloor.web.stream_limits import StreamLimits
from shopfloor.web.templating import templates

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
    )
    app.state.runtime = runtime
    engine = runtime.engine
    app.add_middleware(StreamLimits, settings=runtime.settings)  # inside auth: it knows the session
    auth_wiring.install(app, runtime)  # inside SecurityHeaders, so refusals carry them
    app.add_middleware(SecurityHeaders)
    app.add_middleware(HeadAsGet)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_api_route(
        "/vendor/{name}", vendor_route(vendor_files()), methods=["GET"], include_in_schema=False
    )

    @app.exception_handler(RequestValidationError)
    async def bad_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        return JSONResponse({"error": "invalid request", "problems": problems}, status_code=400)

    history_web.install(app)  # ?at= errors: 400 for a bad time, 410 for a past the log no longer holds
    app.include_router(history_web.router())
    templates.env.globals["store_epoch"] = runtime.hub.epoch
    runtime.hub.register(work_orders.VIEW, work_orders.patch_renderer(engine))
    app.include_router(work_orders.router(engine))
    runtime.hub.register(
        inventory_web.VIEW,
        inventory_web.patch_renderer(engine, inventory_web.ReorderPoints.from_settings(runtime.settings)),
    )
    app.include_router(inventory_web.router(engine, runtime.settings))
    runtime.hub.register(
        outbound_web.VIEW,
        outbound_web.patch_renderer(engine, runtime.settings.stuck_limits_ms(), outbound_web.wall_clock_ms),
    )
    app.include_router(outbound_web.router(engine, runtime.settings))
    runtime.hub.register(equipment_web.VIEW, equipment_web.patch_renderer(engine))
    runtime.hub.register(equipment_trend.TREND_VIEW, equipment_web.trend_patch_renderer())
    app.include_router(equipment_web.router(engine))
    app.include_router(equipment_trend.router(engine, runtime.hub))
    app.include_router(equipment_actions.router(runtime))
    app.include_router(alarms_web.router(runtime))
    app.include_router(health.router(runtime))
    app.include_router(docs.router(runtime))
    app.include_router(rebuilds_router(runtime))
    runtime.hub.register(dead_letters_web.VIEW, dead_letters_web.patch_renderer(engine))
    app.include_router(dead_letters_web.router(runtime))

    plan = lines_web.Plan(runtime.settings)  # plan vs actual per line
    templates.env.globals["outbound_at_risk"] = RiskJudge(engine, runtime.settings)
    runtime.hub.register(lines_web.VIEW, lines_web.patch_renderer(engine, plan))
    runtime.hub.register(
        lines_web.DOWNTIME_VIEW,
        lines_web.downtime_patch_renderer(engine, plan),
        follows=lines_web.DOWNTIME_FOLLOWS,
    )
    app.include_router(lines_web.router(engine, plan))

    runtime.hub.register(
        overview.VIEW, overview.patch_renderer(engine, runtime.settings, plan), follows=overview.FOLLOWS
    )
    app.include_router(overview.router(engine, runtime.settings, plan))

    @app.get("/sse/{view}", include_in_schema=False)
    async def live(view: str, request: Request) -> Response:
        if view not in runtime.hub.views:
            return JSONResponse({"error": f"no live view {view!r}"}, status_code=404)
        alive = auth_wiring.session_watch(runtime, request)
        return sse.stream(runtime.hub, view, request, alive, runtime.settings.session_check_seconds)

    return app
