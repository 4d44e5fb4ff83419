"""The uvicorn server as deployed: timeouts, a connection cap, the edge layer.

uvicorn closes idle keep-alive connections but never times out a request head that is still
arriving: a client dribbling header bytes holds its socket forever, and enough of them exhaust the
process's file descriptors. `GuardedHttp` gives every request head a deadline and a size cap.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from shopfloor.config import Settings
from shopfloor.web.edge import Edge, TrustedProxies, allowed_hosts


class GuardedHttp(HttpToolsProtocol):
    """httptools protocol whose request heads must arrive within a deadline and a size limit."""

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.head_timeout: float = getattr(config, "head_timeout", 10.0)
        self.head_limit: int = getattr(config, "head_limit", 65_536)
        self.head_bytes = 0
        self.head_timer: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        self.head_bytes = 0
        self.head_timer = self.loop.call_later(self.head_timeout, self._head_expired)

    def _disarm(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def _head_expired(self) -> None:
        self.head_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _count(self, size: int) -> None:
        self.head_bytes += size
        if self.head_bytes > self.head_limit:
            raise ValueError("request head too large")  # the parser answers 400 and closes

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()  # the next request head on this connection gets its own deadline


GRACEFUL_SHUTDOWN_SECONDS = 10  # then what still runs is cancelled (a client that stopped reading)


class StreamingServer(uvicorn.Server):
    """Ends the open event streams first when it stops: they never end by themselves, and uvicorn
    waits for every open response before it exits."""

    def __init__(self, config: uvicorn.Config, end_streams: Callable[[], None]) -> None:
        super().__init__(config)
        self.end_streams = end_streams

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.end_streams()
        await super().shutdown(sockets)


def _no_streams() -> None:
    return None


def deployed_app(app: ASGIApp, settings: Settings, auth: bool) -> Edge:
    """The app behind the edge layer, as every server process runs it."""
    return Edge(app, TrustedProxies(settings.trusted_proxies), allowed_hosts(settings, auth))


def guarded_config(app: ASGIApp, settings: Settings, port: int, **options: Any) -> uvicorn.Config:
    """uvicorn as every shopfloor server runs it: request heads under a deadline and a size cap,
    a bounded graceful stop, no access log; `options` add what one server needs beyond that."""
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=port,
        http=GuardedHttp,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        log_level="warning",
        access_log=False,
        **options,
    )
    config.head_timeout = settings.http_header_timeout_seconds  # type: ignore[attr-defined]
    config.head_limit = settings.http_max_header_bytes  # type: ignore[attr-defined]
    return config


def build_server(
    app: ASGIApp, settings: Settings, auth: bool, end_streams: Callable[[], None] = _no_streams
) -> uvicorn.Server:
    config = guarded_config(
        deployed_app(app, settings, auth),
        settings,
        settings.port,
        proxy_headers=False,  # the edge layer does it, only for SHOPFLOOR_TRUSTED_PROXIES
        timeout_keep_alive=settings.http_keep_alive_seconds,
        limit_concurrency=settings.http_max_connections,
        backlog=2048,
    )
    return StreamingServer(config, end_streams)


def serve(
    app: ASGIApp, settings: Settings, auth: bool, end_streams: Callable[[], None] = _no_streams
) -> None:
    build_server(app, settings, auth, end_streams).run()
