"""Critical alarms left unacknowledged are sent to a webhook, then escalated to a second one.

`due()` is the pure policy; `Notifier` sends (JSON over httpx, retried with exponential back-off)
and records each delivery in the store. Clock and sleep are injected, so tests run on their time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import Engine

from shopfloor.store import notifications as store
from shopfloor.store.db import begin_write, run_exclusive

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Policy:
    target: str | None  # first webhook URL; None: notifications off
    after_s: float = 600.0  # unacknowledged this long: notify
    escalation: str | None = None
    escalate_after_s: float = 1800.0
    retries: int = 5
    backoff_s: float = 1.0  # doubles per attempt


@dataclass(frozen=True, slots=True)
class Due:
    alert: Mapping[str, Any]
    level: int
    target: str


def due(
    alerts: Sequence[Mapping[str, Any]], sent: Mapping[str, set[int]], policy: Policy, now_ms: int
) -> list[Due]:
    """Which (alarm, level) must be sent now: level 1 after `after_s`, level 2 after `escalate_after_s`."""
    out: list[Due] = []
    for alert in alerts:
        age_s = (now_ms - alert["opened_ms"]) / 1000
        done = sent.get(alert["alert_id"], set())
        for level, target, after in (
            (1, policy.target, policy.after_s),
            (2, policy.escalation, policy.escalate_after_s),
        ):
            if target and level not in done and age_s >= after:
                out.append(Due(alert, level, target))
    return out


def payload(item: Due, now_ms: int) -> dict[str, Any]:
    a = item.alert
    return {
        "alert_id": a["alert_id"],
        "equipment_id": a["equipment_id"],
        "sensor": a["sensor"],
        "kind": a["kind"],
        "priority": a.get("priority"),
        "value": a["value"],
        "limit": a.get("limit"),
        "opened_ms": a["opened_ms"],
        "unacknowledged_s": round((now_ms - a["opened_ms"]) / 1000),
        "escalation": item.level > 1,
    }


class Notifier:
    def __init__(
        self,
        engine: Engine,
        policy: Policy,
        *,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.engine, self.policy, self.clock, self.sleep = engine, policy, clock, sleep
        self.client = client or httpx.AsyncClient(timeout=10.0)

    async def send(self, item: Due, now_ms: int) -> dict[str, Any]:
        """Posts with retries; returns the delivery record (DELIVERED or FAILED with the last error)."""
        error: str | None = None
        attempts = 0
        for attempt in range(1, self.policy.retries + 1):
            attempts = attempt
            try:
                response = await self.client.post(item.target, json=payload(item, now_ms))
                if response.status_code < 300:
                    error = None
                    break
                error = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"[:500]
            if attempt < self.policy.retries:
                await self.sleep(self.policy.backoff_s * 2 ** (attempt - 1))
        return {
            "alert_id": item.alert["alert_id"],
            "level": item.level,
            "target": item.target,
            "status": "FAILED" if error else "DELIVERED",
            "attempts": attempts,
            "at_ms": int(self.clock() * 1000),
            "last_error": error,
        }

    async def run_once(self) -> list[dict[str, Any]]:
        """One pass: send what is due, record every outcome; in one process at a time, so with
        several workers configured alike each alarm is still sent once per level."""
        if not self.policy.target:
            return []
        sent = await run_exclusive(self.engine, "alarm-notifier", self._pass)
        return [] if sent is None else sent  # None: another process is sending meanwhile

    async def _pass(self) -> list[dict[str, Any]]:
        now_ms = int(self.clock() * 1000)

        def load() -> tuple[list[dict[str, Any]], dict[str, set[int]]]:
            with self.engine.connect() as conn:
                alerts = store.unacknowledged_critical(conn)
                return alerts, store.sent_levels(conn, [a["alert_id"] for a in alerts])

        alerts, sent = await asyncio.to_thread(load)
        records = [await self.send(item, now_ms) for item in due(alerts, sent, self.policy, now_ms)]
        if records:

            def save() -> None:
                with begin_write(self.engine) as conn:
                    store.record(conn, records)

            await asyncio.to_thread(save)
        for r in records:
            log.info("alarm notification %s level %d: %s", r["alert_id"], r["level"], r["status"])
        return records

    async def run(self, interval_s: float = 15.0) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:  # a bad pass must not end notifications for good
                log.exception("alarm notification pass failed")
            await self.sleep(interval_s)
