"""The outbound cards' at-risk flag: carrier cutoffs from settings, stage pace from the last hour."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, and_, select

from shopfloor.config import Settings
from shopfloor.projections.cutoffs import at_risk, parse_cutoffs, stage_medians
from shopfloor.store import outbound as outbound_store

HOUR_MS = 3_600_000
REFRESH_MS = 10_000  # the pace is re-read at most this often (it is a median over an hour)
LEAVES = {
    "CREATED": ("created_ms", "paid_ms"),
    "PAID": ("paid_ms", "picked_ms"),
    "PICKED": ("picked_ms", "dispatched_ms"),
}


def recent_durations(engine: Engine, now_ms: int) -> dict[str, list[int]]:
    """How long orders that left each stage in the last hour spent in it."""
    orders = outbound_store.ORDERS
    durations: dict[str, list[int]] = {}
    with engine.connect() as conn:
        for stage, (entered, left) in LEAVES.items():
            a, b = orders.c[entered], orders.c[left]
            query = select(a, b).where(and_(b >= now_ms - HOUR_MS, b <= now_ms, a.is_not(None)))
            durations[stage] = [max(0, int(y - x)) for x, y in conn.execute(query)]
    return durations


class RiskJudge:
    """`judge(order_row) -> bool`, for the card template; the pace cached for REFRESH_MS."""

    def __init__(self, engine: Engine, settings: Settings, clock: Callable[[], int] | None = None) -> None:
        self.engine = engine
        self.cutoffs = parse_cutoffs(settings.carrier_cutoffs)
        self.zone = settings.calendar().zone
        self.clock = clock or (lambda: int(time.time() * 1000))
        self._medians: dict[str, float] = {}
        self._read_ms = -REFRESH_MS
        self._lock = threading.Lock()

    def medians(self, now_ms: int) -> dict[str, float]:
        with self._lock:
            if now_ms - self._read_ms >= REFRESH_MS:
                self._medians = stage_medians(recent_durations(self.engine, now_ms))
                self._read_ms = now_ms
            return self._medians

    def __call__(self, order: dict[str, Any]) -> bool:
        if not self.cutoffs or order.get("carrier") not in self.cutoffs:
            return False
        now = self.clock()
        return at_risk(
            order["stage"],
            order["stage_since_ms"],
            order["carrier"],
            now,
            self.medians(now),
            self.cutoffs,
            self.zone,
        )
