"""`/metrics` asks for a bearer token when SHOPFLOOR_METRICS_TOKEN is set, on every process that serves
it (the web side and a projector worker's own port): one wrapper, the same rule and refusal."""

from __future__ import annotations

import hmac

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send


class MetricsToken:
    """Wraps an app that serves /metrics; every other path passes through untouched."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app, self.token = app, token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/metrics" and not self._may_read(scope):
            headers = {"www-authenticate": "Bearer", "cache-control": "no-store"}
            refusal = JSONResponse({"error": "metrics need the bearer token"}, 401, headers)
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _may_read(self, scope: Scope) -> bool:
        """Without a configured token /metrics is open; with one, only `Bearer <token>` reads it."""
        if not self.token:
            return True
        given = Headers(scope=scope).get("authorization", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(self.token.encode(), given.encode())
