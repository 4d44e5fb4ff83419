"""The whole plant's traffic: one generator per domain, sharing the requested rate."""

from __future__ import annotations

from shopfloor.config import Settings
from shopfloor.simulator.base import Generator
from shopfloor.simulator.warehouse import WarehouseTraffic
from shopfloor.simulator.work_orders import WorkOrderTraffic


def plant_traffic(settings: Settings, *, rate: float, seed: int | None = None) -> list[Generator]:
    generators: list[Generator] = [WorkOrderTraffic(settings.topic_work_orders, rate=rate, seed=seed)]
    generators.append(warehouse_traffic(settings, rate, seed))  # warehouse (issue 3)
    return generators


def warehouse_traffic(settings: Settings, rate: float, seed: int | None = None) -> WarehouseTraffic:
    """Warehouse steps at half the work-order rate (each step is one to a few events)."""
    return WarehouseTraffic(
        settings.topic_inventory,
        settings.topic_outbound,
        rate=max(0.5, rate / 2),
        seed=seed,
        payment_failure_share=settings.sim_payment_failure_share,
        cancel_share=settings.sim_cancel_share,
        stuck_share=settings.sim_stuck_share,
    )
