"""Supervisor actions on alerts: acknowledge and shelve, each produced as a command event.

The POST handlers do not touch the read model: they publish `AlertAcknowledged` / `AlertShelved`
to the alert-command topic through the process's sink, and the projector folds them like any other
event, so every screen and every replica learns of them the same way. `require_role` is the one
place the sign-in check plugs in (shopfloor.auth.roles); `same_origin` refuses cross-site form posts (CSRF).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Engine

from shopfloor.auth.roles import Principal, require_role
from shopfloor.events.codec import cloud_event, encode_structured
from shopfloor.store import alerts as alert_store
from shopfloor.transport.base import EventSink

SOURCE = "shopfloor/web"
MAX_SHELVE_MINUTES = 7 * 24 * 60


def same_origin(request: Request) -> None:
    """Refuse requests another site's page made the browser send (CSRF), by Fetch metadata or Origin."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise HTTPException(403, "cross-site request refused")
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
        raise HTTPException(403, "cross-origin request refused")


Supervisor = Annotated[Principal, Depends(require_role("supervisor"))]
AlertId = Annotated[str, Form(min_length=1, max_length=500)]
Note = Annotated[str | None, Form(max_length=2000)]


def router(engine: Engine, sink: Callable[[], EventSink | None], topic: str) -> APIRouter:
    """`sink()`: where commands go (None: this process does not publish); `topic`: the command topic."""
    api = APIRouter(dependencies=[Depends(same_origin)])

    def _get_alert(alert_id: str) -> dict[str, Any] | None:
        with engine.connect() as conn:
            return alert_store.get_alert(conn, alert_id)

    async def publish(event_type: str, alert_id: str, user: Principal, note: str | None, **extra: str) -> str:
        alert = await asyncio.to_thread(_get_alert, alert_id)
        if alert is None:
            raise HTTPException(404, f"no alert {alert_id!r}")
        out = sink()
        if out is None:
            raise HTTPException(503, "this process does not publish events")
        data = {"alert_id": alert_id, "equipment_id": alert["equipment_id"], "user": user.name, **extra}
        if note:
            data["note"] = note
        event = cloud_event(event_type, data, source=SOURCE, subject=alert_id)
        value, headers = encode_structured(event)
        await out.send(topic, value, alert["equipment_id"].encode(), headers)
        await out.flush()
        return event["id"]

    def done(request: Request, event_id: str) -> Response:
        if request.headers.get("hx-request"):
            return Response(status_code=202, headers={"X-Command-Id": event_id})
        return RedirectResponse("/equipment", status_code=303)

    @api.post("/equipment/alerts/acknowledge")
    async def acknowledge(
        request: Request, user: Supervisor, alert_id: AlertId, note: Note = None
    ) -> Response:
        return done(request, await publish("AlertAcknowledged", alert_id, user, note))

    @api.post("/equipment/alerts/shelve")
    async def shelve(
        request: Request,
        user: Supervisor,
        alert_id: AlertId,
        minutes: Annotated[int, Form(ge=0, le=MAX_SHELVE_MINUTES)] = 60,
        note: Note = None,
    ) -> Response:
        """Suppress until now + minutes; 0 minutes unshelves."""
        until = datetime.now(UTC) + timedelta(minutes=minutes)
        stamp = until.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return done(request, await publish("AlertShelved", alert_id, user, note, until=stamp))

    return api
