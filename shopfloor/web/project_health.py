"""A projector worker's own /healthz, /readyz and /metrics: in a scaled setup its consumer lag,
batch times and dead letters live in its process, not in any web replica's."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from shopfloor.auth.middleware import metrics_allowed
from shopfloor.runtime import Runtime
from shopfloor.web import health


class MetricsToken:
    """/metrics asks for the bearer token when SHOPFLOOR_METRICS_TOKEN is set, as on the web side."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app, self.token = app, token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/metrics" and not self._allowed(scope):
            refusal = PlainTextResponse("metrics need the bearer token", 401, {"www-authenticate": "Bearer"})
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _allowed(self, scope: Scope) -> bool:
        return metrics_allowed(self.token, Headers(scope=scope).get("authorization", ""))


def health_server(runtime: Runtime, port: int) -> uvicorn.Server:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(health.router(runtime.engine, runtime.projector, None, runtime.consumer_behind))
    config = uvicorn.Config(
        MetricsToken(app, runtime.settings.metrics_token),
        host=runtime.settings.host,
        port=port,
        lifespan="off",  # the worker's runtime is already running
        log_level="warning",
        access_log=False,
    )
    return uvicorn.Server(config)
