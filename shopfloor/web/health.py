"""Liveness, readiness (store, consumers, lag) and Prometheus metrics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Engine, func, select, text

from shopfloor.runtime import BEHIND_SECONDS
from shopfloor.store.dead_letters import DEAD


class Describes(Protocol):
    """A running part that reports its state (the projector, the NOTIFY listener)."""

    def describe(self) -> dict[str, Any]: ...


def router(
    engine: Engine,
    projector: Describes | None,
    listener: Describes | None = None,
    behind: Callable[[], float] = lambda: 0.0,
) -> APIRouter:
    """`projector`: this process's consumer, if it runs one; `listener`: its NOTIFY listener, if any;
    `behind`: seconds the data trails the plant, what waits at the rate events arrive (a count of waiting
    records says little: one second of a busy plant's sensor feed, or hours of a quiet line's)."""
    api = APIRouter()

    @api.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/readyz")
    def readyz() -> JSONResponse:
        problems: list[str] = []
        alerts: list[str] = []
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
                parked = conn.execute(
                    select(func.count()).select_from(DEAD).where(DEAD.c.status == "PARKED")
                ).scalar_one()
            if parked:  # the consumer went on; a person must look at these (the dead-letter board)
                alerts.append(f"{parked} parked records: in the dead-letter table, not on their .dlq topic")
        except Exception as exc:
            problems.append(f"store unreachable: {type(exc).__name__}")
        body: dict[str, Any] = {"store": "ok" if not problems else "unreachable"}
        if projector is not None:
            status = projector.describe()
            body["consumer"] = status
            if not status["running"]:
                problems.append("consumer not running")
            if not status["connected"]:
                problems.append("event log (Kafka) unreachable")
            if not status["store_ok"]:
                problems.append(f"store refuses writes: {status['store_error']}")
            seconds = behind()
            if seconds > BEHIND_SECONDS:
                waiting = f"{status['lag']} records waiting, {status['in_hand']} being applied"
                problems.append(f"consumer about {seconds:.0f} s behind ({waiting})")
        if listener is not None:
            body["listener"] = listener.describe()
            if not body["listener"]["connected"]:
                problems.append("not listening for commits (PostgreSQL LISTEN)")
        body["status"] = "ready" if not problems else "not ready"
        body["problems"] = problems
        body["alerts"] = alerts
        return JSONResponse(body, status_code=200 if not problems else 503)

    @api.get("/metrics")
    def prometheus() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return api
