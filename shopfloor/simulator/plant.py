"""The whole plant's traffic: one generator per domain, sharing the requested rate."""

from __future__ import annotations

from shopfloor.config import Settings
from shopfloor.simulator.base import Generator
from shopfloor.simulator.sensors import SensorTraffic
from shopfloor.simulator.warehouse import WarehouseTraffic
from shopfloor.simulator.work_orders import WorkOrderTraffic


def plant_traffic(
    settings: Settings, *, rate: float, seed: int | None = None, sensor_rate: float = 0.0
) -> list[Generator]:
    generators: list[Generator] = [WorkOrderTraffic(settings.topic_work_orders, rate=rate, seed=seed)]
    if sensor_rate > 0:  # equipment (issue 4): about 1 reading per sensor per second
        generators.append(sensor_traffic(settings, sensor_rate, seed))
    generators.append(warehouse_traffic(settings, rate, seed))  # warehouse (issue 3)
    return generators


def sensor_traffic(settings: Settings, rate: float, seed: int | None = None) -> SensorTraffic:
    """Machines scale with the rate (5 sensors each at ~1 Hz); low rates degrade sooner and faster."""
    machines = max(6, min(200, round(rate / 5)))
    quick = rate < 500
    return SensorTraffic(
        settings.topic_equipment,
        settings.topic_sensors,
        rate=rate,
        machines=machines,
        lines=max(1, min(20, machines // 10)),
        degrade_every_s=300 if quick else 600,
        degrade_minutes=(15, 25) if quick else (30, 90),
        warmup_s=120 if quick else 600,
        seed=seed,
    )


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
