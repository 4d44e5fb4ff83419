"""Caps on live streams held open at once, per session and per client address.

A stream costs a socket, a task and a queue for as long as it stays open, so one viewer opening
thousands of them would starve everybody else. Excess streams get 429 with a message; a page that
is closed frees its stream, so the count is always what is open now.
"""

from __future__ import annotations

import json
from collections import Counter

from starlette.types import ASGIApp, Receive, Scope, Send

from shopfloor.auth.middleware import principal_of
from shopfloor.config import Settings

STREAM_PREFIXES = ("/sse/", "/admin/rebuilds/stream")


class StreamLimits:
    """Inside the auth middleware (it knows the session), outside the routes."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.per_session = settings.streams_per_session
        self.per_client = settings.streams_per_client
        self.open: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(STREAM_PREFIXES):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        user = principal_of(scope)
        keys = [f"client:{client[0] if client else 'unknown'}"]
        if user is not None and user.session_id:
            keys.append(f"session:{user.session_id}")
        refusal = self._refusal(keys)
        if refusal:
            await _too_many(send, refusal)
            return
        self.open.update(keys)
        try:
            await self.app(scope, receive, send)
        finally:
            self.open.subtract(keys)
            for key in keys:
                if self.open[key] <= 0:
                    del self.open[key]

    def _refusal(self, keys: list[str]) -> str | None:
        for key in keys:
            limit = self.per_session if key.startswith("session:") else self.per_client
            if self.open[key] >= limit:
                who = "this session" if key.startswith("session:") else "this address"
                return f"too many live streams open for {who} (limit {limit}); close other tabs or screens"
        return None


async def _too_many(send: Send, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"cache-control", b"no-store"),
        (b"retry-after", b"10"),
    ]
    await send({"type": "http.response.start", "status": 429, "headers": headers})
    await send({"type": "http.response.body", "body": body})
