"""Readiness judges a consumer's backlog the way pages do: by the time it needs, not by a count."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from shopfloor.store.db import create_schema, make_engine
from shopfloor.store.dead_letters import DEAD
from shopfloor.web import health


class Consumer:
    def __init__(self, lag: int) -> None:
        self.lag = lag

    def describe(self) -> dict[str, Any]:
        status = {"running": True, "connected": True, "store_ok": True, "store_error": None}
        return {**status, "lag": self.lag, "in_hand": 30}


async def _ready(tmp_path, lag: int, behind: float) -> tuple[int, list[str]]:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    create_schema(engine, [DEAD])
    app = FastAPI()
    app.include_router(health.router(engine, Consumer(lag), None, lambda: behind))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.get("/readyz")
    return response.status_code, response.json()["problems"]


async def test_a_second_of_a_busy_feed_waiting_is_ready(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert await _ready(tmp_path, lag=30_000, behind=1.0) == (200, [])


async def test_a_consumer_minutes_behind_is_not_ready_however_few_records_wait(tmp_path) -> None:  # type: ignore[no-untyped-def]
    status, problems = await _ready(tmp_path, lag=120, behind=120.0)
    assert status == 503
    assert problems == ["consumer about 120 s behind (120 records waiting, 30 being applied)"]
