"""`/metrics` asks for a bearer token when SHOPFLOOR_METRICS_TOKEN is set, on every process that serves
it (the web side and a projector worker's own port) and by the same rule."""

from __future__ import annotations

import hmac

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

REFUSAL = "metrics need the bearer token"


def metrics_allowed(token: str | None, authorization: str) -> bool:
    """Without a configured token /metrics is open; with one, only `Bearer <token>` reads it."""
    if not token:
        return True
    given = authorization.removeprefix("Bearer ").strip()
    return hmac.compare_digest(token.encode(), given.encode())


class MetricsToken:
    """The rule as a wrapper, for an app with no sign-in layer to hold it (a projector worker's)."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app, self.token = app, token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/metrics" and not self._allowed(scope):
            refusal = JSONResponse(
                {"error": REFUSAL}, 401, {"www-authenticate": "Bearer", "cache-control": "no-store"}
            )
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _allowed(self, scope: Scope) -> bool:
        return metrics_allowed(self.token, Headers(scope=scope).get("authorization", ""))
