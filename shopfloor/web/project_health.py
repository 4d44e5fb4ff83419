"""A projector worker's own /healthz, /readyz and /metrics: in a scaled setup its consumer lag,
batch times and dead letters live in its process, not in any web replica's."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

from shopfloor.auth.metrics_token import MetricsToken
from shopfloor.runtime import Runtime
from shopfloor.web import health
from shopfloor.web.server import guarded_config

MAX_CONNECTIONS = 64  # scrapers and health checks, not screens


class _QuietServer(uvicorn.Server):
    """The worker owns SIGTERM and SIGINT (they end its consumer too): the server is told to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve_health(runtime: Runtime, port: int, stop: asyncio.Event) -> None:
    """Serves the worker's health and metrics until `stop` is set: a small app of its own, started
    inside the worker's running lifespan, with the web side's guards on request heads."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(health.router(runtime.engine, runtime.projector, None, runtime.consumer_behind))
    settings = runtime.settings
    config = guarded_config(
        MetricsToken(app, settings.metrics_token),
        settings,
        port,
        limit_concurrency=MAX_CONNECTIONS,
        lifespan="off",  # the worker's runtime is already running
    )
    server = _QuietServer(config)
    serving = asyncio.create_task(server.serve())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    stopping.cancel()
    await serving  # a port it could not take ends the worker here (uvicorn exits)
