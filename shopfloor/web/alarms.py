"""/alarms: the alarm journal (date range and filters, acknowledge with a note, shelve with a reason)
and /alarms/kpis (ISA-18.2 figures). Actions publish commands like the equipment board does; a failed
action comes back as the page with the reason shown, never a bare error. Both pages read through the
boards' reader, so `?at=` shows them as they stood then (read-only)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Connection, Engine

from shopfloor.auth.roles import Principal, current_user, require_role
from shopfloor.events.codec import cloud_event, encode_structured
from shopfloor.pages import templates
from shopfloor.projections import alarm_kpis
from shopfloor.projections.anomaly import ALARM_KINDS, PRIORITIES
from shopfloor.store import alerts as alert_store
from shopfloor.store import equipment as equipment_store
from shopfloor.store.batch import current_version
from shopfloor.transport.base import EventSink
from shopfloor.web.board import Read, Reader
from shopfloor.web.equipment_actions import MAX_SHELVE_MINUTES, same_origin
from shopfloor.web.plant_range import DAY_MS, check_range, plant_instant

SOURCE = "shopfloor/web/alarms"
STATES = ("OPEN", "ACKED", "CLEARED")
Viewer = Annotated[Principal, Depends(require_role("viewer"))]
Text = Annotated[str | None, Query(max_length=200)]
Note = Annotated[str | None, Form(max_length=2000)]


def time_range(
    conn: Connection, start: str | None, end: str | None, now_ms: int, zone: tzinfo
) -> tuple[int, int]:
    """`start` and `end` in plant time (`plant_range`). Default: the day up to now (the reader's: the
    clock, or the moment of a past view), or up to the newest event the store holds if that is later
    (a producer's clock ahead of ours). Not the newest event alone: that is the last batch's, and a
    batch of an older partition may commit last."""
    _, last_event_ms, _ = current_version(conn)
    try:
        to_ms = plant_instant(end, "to", zone) if end else max(now_ms, last_event_ms or 0) + 1
        from_ms = plant_instant(start, "from", zone) if start else to_ms - DAY_MS
        check_range(from_ms, to_ms)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    return from_ms, to_ms


def _iso(ms: int, zone: tzinfo) -> str:
    return datetime.fromtimestamp(ms / 1000, zone).strftime("%Y-%m-%dT%H:%M")


def _range_fields(
    start: str | None, end: str | None, from_ms: int, to_ms: int, zone: tzinfo
) -> dict[str, Any]:
    """The form keeps what was asked, not the defaults it stood for: a blank To stays blank, so
    pressing Show again reads up to that moment's now rather than the first load's."""
    return {
        "from_value": _iso(from_ms, zone) if start else "",
        "to_value": _iso(to_ms, zone) if end else "",
        "from_ms": from_ms,
        "to_ms": to_ms,
    }


def _choice(value: str | None, allowed: tuple[str, ...], name: str) -> str | None:
    if value and value not in allowed:
        raise HTTPException(400, f"{name} must be one of {', '.join(allowed)}")
    return value or None


def journal_context(read: Read, params: dict[str, str | None], zone: tzinfo) -> dict[str, Any]:
    conn = read.conn
    from_ms, to_ms = time_range(conn, params.get("from"), params.get("to"), read.now_ms, zone)
    kind = _choice(params.get("kind"), ALARM_KINDS, "kind")
    priority = _choice(params.get("priority"), PRIORITIES, "priority")
    state = _choice(params.get("state"), STATES, "state")
    alarms = alert_store.alarms_between(
        conn,
        from_ms,
        to_ms,
        equipment_id=params.get("equipment") or None,
        kind=kind,
        priority=priority,
        state=state,
    )
    actions = alert_store.journal_between(conn, from_ms, to_ms)
    return {
        "view": "alarms",
        "alarms": alarms,
        "actions": actions,
        **_range_fields(params.get("from"), params.get("to"), from_ms, to_ms, zone),
        "filters": {
            "equipment": params.get("equipment") or "",
            "kind": kind,
            "priority": priority,
            "state": state,
        },
        "kinds": ALARM_KINDS,
        "priorities": PRIORITIES,
        "states": STATES,
        "max_shelve": MAX_SHELVE_MINUTES,
    }


def kpis_context(read: Read, start: str | None, end: str | None, zone: tzinfo) -> dict[str, Any]:
    conn = read.conn
    from_ms, to_ms = time_range(conn, start, end, read.now_ms, zone)
    rows = alert_store.alarms_between(conn, from_ms, to_ms, limit=100_000)
    active = alert_store.standing(conn)
    areas = {e["equipment_id"]: e["line_id"] for e in equipment_store.list_equipment(conn)}
    seen = {a["alert_id"] for a in rows}
    everything = rows + [a for a in active if a["alert_id"] not in seen]
    kpis = alarm_kpis.compute(everything, areas, from_ms, to_ms, now_ms=to_ms)
    return {"view": "alarms", "kpis": kpis, **_range_fields(start, end, from_ms, to_ms, zone)}


def router(
    engine: Engine, sink: Callable[[], EventSink | None], topic: str, reader: Reader, zone: tzinfo
) -> APIRouter:
    """`sink()`: where commands go (None: this process does not publish); `topic`: the command topic;
    `reader`: the store and moment the pages read (a past one for `?at=`); `zone`: the plant's time
    zone, in which a date or time without an offset is read."""
    api = APIRouter()

    def page(
        request: Request, params: dict[str, str | None], error: str | None = None, status: int = 200
    ) -> Response:
        with reader(request) as read:
            context = {**read.shell, **journal_context(read, params, zone)}
        context.update(error=error, notice=request.query_params.get("notice"))
        return templates.TemplateResponse(request, "alarms/journal.html", context, status_code=status)

    def kpis(request: Request, start: str | None, end: str | None) -> dict[str, Any]:
        with reader(request) as read:
            return {**read.shell, **kpis_context(read, start, end, zone)}

    @api.get("/alarms", response_class=HTMLResponse, include_in_schema=False)
    def journal_page(
        request: Request,
        _user: Viewer,
        start: Annotated[str | None, Query(alias="from", max_length=40)] = None,
        end: Annotated[str | None, Query(alias="to", max_length=40)] = None,
        equipment: Text = None,
        kind: Text = None,
        priority: Text = None,
        state: Text = None,
        _notice: Annotated[str | None, Query(alias="notice", description="what the last action did")] = None,
    ) -> Response:
        params = {
            "from": start,
            "to": end,
            "equipment": equipment,
            "kind": kind,
            "priority": priority,
            "state": state,
        }
        return page(request, params)

    @api.get("/alarms/kpis", response_class=HTMLResponse, include_in_schema=False)
    def kpis_page(
        request: Request,
        _user: Viewer,
        start: Annotated[str | None, Query(alias="from", max_length=40)] = None,
        end: Annotated[str | None, Query(alias="to", max_length=40)] = None,
    ) -> Response:
        return templates.TemplateResponse(request, "alarms/kpis.html", kpis(request, start, end))

    @api.get("/api/alarms/kpis")
    def kpis_api(
        request: Request,
        _user: Viewer,
        start: Annotated[str | None, Query(alias="from", max_length=40)] = None,
        end: Annotated[str | None, Query(alias="to", max_length=40)] = None,
    ) -> dict[str, Any]:
        k = kpis(request, start, end)["kpis"]
        return {
            "from_ms": k.from_ms,
            "to_ms": k.to_ms,
            "total": k.total,
            "areas": [vars_of(a) for a in k.areas],
            "floods": [{"start_ms": s, "alarms": n} for s, n in k.floods],
            "flood_share": k.flood_share,
            "top": [{"equipment_id": s[0], "sensor": s[1], "kind": s[2], "alarms": n} for s, n in k.top],
            "chattering": [
                {"equipment_id": s[0], "sensor": s[1], "kind": s[2], "within_minute": n}
                for s, n in k.chattering
            ],
            "standing": [a["alert_id"] for a in k.standing],
        }

    async def act(
        request: Request, alert_id: str, event_type: str, note: str | None, **extra: str
    ) -> Response:
        if request.query_params.get("at"):
            raise HTTPException(400, "a past view is read-only")
        user = current_user(request)
        back = {"notice": ""}
        params: dict[str, str | None] = {}
        if user is None or "supervisor" not in user.roles:
            status, why = (
                (401, "Sign in to do this.") if user is None else (403, "This needs the supervisor role.")
            )
            return page(request, params, error=why, status=status)
        alert = await asyncio.to_thread(_alert, engine, alert_id)
        if alert is None:
            return page(request, params, error=f"No alarm {alert_id!r}.", status=404)
        out = sink()
        if out is None:
            return page(
                request, params, error="This server does not publish commands; try again.", status=503
            )
        data = {"alert_id": alert_id, "equipment_id": alert["equipment_id"], "user": user.name, **extra}
        if note:
            data["note"] = note
        event = cloud_event(event_type, data, source=SOURCE, subject=alert_id)
        value, headers = encode_structured(event)
        try:
            await out.send(topic, value, alert["equipment_id"].encode(), headers)
            await out.flush()
        except Exception as exc:  # the broker is down: say so on the page, keep the form
            return page(
                request, params, error=f"Could not send the command: {type(exc).__name__}.", status=503
            )
        back["notice"] = f"{'Acknowledged' if event_type == 'AlertAcknowledged' else 'Shelved'} {alert_id}"
        return RedirectResponse("/alarms?" + urlencode(back), status_code=303)

    @api.post("/alarms/acknowledge", include_in_schema=False, dependencies=[Depends(same_origin)])
    async def acknowledge(
        request: Request, alert_id: Annotated[str, Form(min_length=1, max_length=500)], note: Note = None
    ) -> Response:
        return await act(request, alert_id, "AlertAcknowledged", note)

    @api.post("/alarms/shelve", include_in_schema=False, dependencies=[Depends(same_origin)])
    async def shelve(
        request: Request,
        alert_id: Annotated[str, Form(min_length=1, max_length=500)],
        minutes: Annotated[int, Form(ge=1, le=MAX_SHELVE_MINUTES)],
        reason: Annotated[str, Form(min_length=1, max_length=2000)],
    ) -> Response:
        until = datetime.now(UTC) + timedelta(minutes=minutes)
        stamp = until.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return await act(request, alert_id, "AlertShelved", reason, until=stamp)

    return api


def _alert(engine: Engine, alert_id: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        return alert_store.get_alert(conn, alert_id)


def vars_of(area: alarm_kpis.AreaRate) -> dict[str, Any]:
    return {
        "area": area.area,
        "alarms": area.alarms,
        "per_10_min": area.per_10_min,
        "peak_10_min": area.peak_10_min,
        "acceptable": area.acceptable,
    }
