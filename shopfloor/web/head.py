"""HEAD wherever GET: the GET handler answers, and only its status and headers are sent."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    """Plain ASGI. The route sees GET; the server (which still knows the request was HEAD) sends no
    body. The response ends after its headers, so a stream (SSE) stops there too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        finished = False

        async def headers_only(message: Message) -> None:
            nonlocal finished
            if finished:
                return
            if message["type"] == "http.response.start":
                await send(message)
            elif message["type"] == "http.response.body":
                finished = True
                await send({"type": "http.response.body", "body": b"", "more_body": False})

        async def ended() -> Message:
            return {"type": "http.disconnect"} if finished else await receive()

        await self.app({**scope, "method": "GET"}, ended, headers_only)
