"""The supervisors' equipment page: machines by line, alerts, live patches and the JSON API."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from sqlalchemy import Connection, Engine

from shopfloor import alarm_config
from shopfloor.projections.alerts import SEVERITY_RANK
from shopfloor.projections.anomaly import PREDICTIVE
from shopfloor.store import alerts as alert_store
from shopfloor.store import equipment as store
from shopfloor.store import sensors as sensor_store
from shopfloor.store.batch import current_version
from shopfloor.store.db import iso
from shopfloor.web.board import LiveBoard, Read, Reader, live_reader
from shopfloor.web.trend_window import DEFAULT_RANGE, RANGES

VIEW = store.VIEW
ALERTS_SHOWN = 100
SORT_CEILING_MS = 10**13
MachineId = Annotated[str | None, Query(max_length=200, description="machine whose trends to show")]


def alert_sort_key(alert: dict[str, Any]) -> str:
    """Standing before cleared, then most severe, then newest (the list's data-sort order)."""
    rank = SEVERITY_RANK.get(alert["severity"], 9)
    return f"{0 if alert['active'] else 1}{rank}{SORT_CEILING_MS - alert['opened_ms']:013d}"


def with_evidence(alert: dict[str, Any]) -> dict[str, Any]:
    """Adds a one-line account of the minute means that drove a prediction."""
    points = json.loads(alert.get("evidence") or "[]")
    text = ""
    if points:
        minutes = max(1, round((points[-1][0] - points[0][0]) / 60_000))
        first, last = points[0][1], points[-1][1]
        text = f"{len(points)} one-minute means over {minutes} min, from {first:.2f} to {last:.2f}"
    return {**alert, "evidence_text": text}


def machine_summary(machine: dict[str, Any], active: list[dict[str, Any]]) -> dict[str, Any]:
    """A tile's numbers: standing alerts, the worst severity, and the soonest predicted failure."""
    predicted = [a["predicted_ms"] for a in active if a["kind"] == PREDICTIVE and a["predicted_ms"]]
    worst = min((SEVERITY_RANK.get(a["severity"], 9) for a in active), default=None)
    return {
        **machine,
        "alerts": len(active),
        "worst": next((s for s, r in SEVERITY_RANK.items() if r == worst), None),
        "predicted_ms": min(predicted) if predicted else None,
    }


def _machines(conn: Connection, ids: list[str] | None = None) -> list[dict[str, Any]]:
    active = alert_store.active_by_equipment(conn, ids)
    return [machine_summary(m, active.get(m["equipment_id"], [])) for m in store.list_equipment(conn, ids)]


def _pick_machine(
    machines: list[dict[str, Any]], alerts: list[dict[str, Any]], wanted: str | None
) -> str | None:
    if wanted:
        return wanted
    standing = [a for a in alerts if a["active"]]
    if standing:
        return standing[0]["equipment_id"]
    return machines[0]["equipment_id"] if machines else None


def board(read: Read, machine: str | None = None) -> dict[str, Any]:
    machines = _machines(read.conn)
    alerts = [with_evidence(a) for a in alert_store.list_alerts(read.conn, limit=ALERTS_SHOWN)]
    chosen = _pick_machine(machines, alerts, machine)
    latest = sensor_store.latest_values(read.conn, [chosen]).get(chosen, []) if chosen else []
    lines: dict[str, list[dict[str, Any]]] = {}
    for m in machines:
        lines.setdefault(m["line_id"], []).append(m)
    return {
        "lines": dict(sorted(lines.items())),
        "alerts": alerts,
        "machine": next((m for m in machines if m["equipment_id"] == chosen), None),
        "machine_id": chosen,
        "sensors": [{**s, "limit": alarm_config.spec(chosen, s["sensor"]).limit} for s in latest],
        "ranges": RANGES.values(),
        "default_range": DEFAULT_RANGE,
        "alert_sort_key": alert_sort_key,
    }


def patch(read: Read, keys: frozenset[str]) -> dict[str, Any]:
    machine_ids = sorted(k[3:] for k in keys if k.startswith("eq:"))
    alert_ids = sorted(k[6:] for k in keys if k.startswith("alert:"))
    machines = _machines(read.conn, machine_ids) if machine_ids else []
    found = alert_store.list_alerts(read.conn, ids=alert_ids, limit=len(alert_ids)) if alert_ids else []
    alerts = [with_evidence(a) for a in found]
    return {"machines": machines, "alerts": alerts, "alert_sort_key": alert_sort_key}


RANGE_HELP = "trend range shown first: " + ", ".join(RANGES)
RangeChoice = Annotated[str | None, Query(alias="range", max_length=20, description=RANGE_HELP)]


def machine_param(machine: MachineId = None, range_: RangeChoice = None) -> str | None:
    """The machine whose trends to show; `range` is the page script's, refused here when it is
    not one the script can show (it would fall back to 10 min without a word)."""
    if range_ and range_ not in RANGES:
        raise HTTPException(400, f"range must be one of {', '.join(RANGES)}")
    return machine or None


BOARD = LiveBoard(
    view=VIEW,
    path="/equipment",
    page="equipment/page.html",
    board="equipment/board.html",
    patch_template="equipment/patch.html",
    context=board,
    patch=patch,
    params=machine_param,
)


def trend_patch_renderer():  # type: ignore[no-untyped-def]
    """The trend view's frames only name the machines that got readings; streams fetch the points."""

    async def render(keys: frozenset[str]) -> str:
        return json.dumps(sorted(keys))

    return render


def alert_json(alert: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in alert.items() if not k.endswith("_ms") and k != "evidence"}
    for name in ("opened", "updated", "cleared", "acked", "shelved_until", "predicted"):
        out[f"{name}_at"] = iso(alert[f"{name}_ms"])
    out["evidence"] = [{"at": iso(t), "value": v} for t, v in json.loads(alert["evidence"] or "[]")]
    return out


def router(engine: Engine, reader: Reader | None = None) -> APIRouter:
    """The board's page and fragment (read through `reader`, the live store by default) and the API."""
    reader = reader or live_reader(engine)
    api = BOARD.router(reader)

    @api.get("/api/equipment")
    def equipment_api(request: Request) -> dict[str, Any]:
        with reader(request) as read:
            conn = read.conn
            version, _, _ = current_version(conn)
            machines = _machines(conn)
            latest = sensor_store.latest_values(conn)
        items = [
            {
                **{k: v for k, v in m.items() if not k.endswith("_ms")},
                "status_since": iso(m["status_since_ms"]),
                "updated_at": iso(m["updated_ms"]),
                "predicted_failure_at": iso(m["predicted_ms"]),
                "sensors": [
                    {
                        "sensor": s["sensor"],
                        "value": s["value"],
                        "unit": s["unit"],
                        "at": iso(s["at_ms"]),
                        "limit": alarm_config.spec(m["equipment_id"], s["sensor"]).limit,
                    }
                    for s in latest.get(m["equipment_id"], [])
                ],
            }
            for m in machines
        ]
        return {"version": version, "items": items}

    @api.get("/api/alerts")
    def alerts_api(
        request: Request,
        state: Annotated[str | None, Query(pattern="^(OPEN|ACKED|CLEARED)$")] = None,
        equipment: Annotated[str | None, Query(max_length=200)] = None,
        limit: Annotated[int, Query(ge=1, le=2000)] = 200,
    ) -> dict[str, Any]:
        with reader(request) as read:
            conn = read.conn
            version, _, _ = current_version(conn)
            rows = alert_store.list_alerts(conn, equipment_id=equipment, state=state, limit=limit)
        return {"version": version, "items": [alert_json(a) for a in rows]}

    @api.get("/api/alerts/journal")
    def journal_api(
        request: Request,
        alert_id: Annotated[str | None, Query(max_length=500)] = None,
        limit: Annotated[int, Query(ge=1, le=2000)] = 200,
    ) -> dict[str, Any]:
        with reader(request) as read:
            entries = alert_store.journal(read.conn, alert_id, limit)
        return {
            "items": [
                {
                    **{k: v for k, v in e.items() if not k.endswith("_ms")},
                    "at": iso(e["at_ms"]),
                    "until": iso(e["until_ms"]),
                }
                for e in entries
            ]
        }

    return api
