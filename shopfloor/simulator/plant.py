"""The whole plant's traffic: one generator per domain, sharing the requested rate."""

from __future__ import annotations

from shopfloor.config import Settings
from shopfloor.simulator.base import Generator
from shopfloor.simulator.work_orders import WorkOrderTraffic


def plant_traffic(settings: Settings, *, rate: float, seed: int | None = None) -> list[Generator]:
    return [WorkOrderTraffic(settings.topic_work_orders, rate=rate, seed=seed)]
