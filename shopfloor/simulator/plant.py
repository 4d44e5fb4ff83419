"""The whole plant's traffic: one generator per domain, sharing the requested rate."""

from __future__ import annotations

from datetime import timedelta

from shopfloor.config import Settings
from shopfloor.simulator.base import Generator
from shopfloor.simulator.demo import WAREHOUSE_HISTORY, DemoExtras
from shopfloor.simulator.quality import InspectedWorkOrders
from shopfloor.simulator.sensors import SensorTraffic
from shopfloor.simulator.warehouse import WarehouseTraffic
from shopfloor.simulator.work_orders import WorkOrderTraffic

DEMO_LINES = 6  # as many as WorkOrderTraffic runs orders on


def plant_traffic(
    settings: Settings, *, rate: float, seed: int | None = None, sensor_rate: float = 0.0
) -> list[Generator]:
    work_orders = WorkOrderTraffic(settings.topic_work_orders, rate=rate, seed=seed)
    generators: list[Generator] = [InspectedWorkOrders(work_orders, settings.topic_quality, seed=seed)]
    if sensor_rate > 0:  # about 1 reading per sensor per second
        generators.append(sensor_traffic(settings, sensor_rate, seed))
    generators.append(warehouse_traffic(settings, rate, seed))
    return generators


def demo_traffic(
    settings: Settings, *, rate: float, sensor_rate: float, seed: int | None = None
) -> list[Generator]:
    """The plant as the demo shows it: machines on every work-order line, one starting to degrade
    within seconds and crossing its limit about two minutes in; a warehouse that has been busy for
    three hours (its orders take minutes per stage); a backlog of late and stuck orders and a few
    malformed records for the dead-letter page."""
    work_orders = WorkOrderTraffic(settings.topic_work_orders, rate=rate, seed=seed)
    generators: list[Generator] = [InspectedWorkOrders(work_orders, settings.topic_quality, seed=seed)]
    if sensor_rate > 0:
        machines = max(DEMO_LINES, min(200, round(sensor_rate / 5)))
        generators.append(
            SensorTraffic(
                settings.topic_equipment,
                settings.topic_sensors,
                rate=sensor_rate,
                machines=machines,
                lines=DEMO_LINES,
                warmup_s=15,
                degrade_every_s=240,
                degrade_minutes=(2.0, 3.0),
                overshoot=0.3,
                exponents=(1.0, 1.2),
                seed=seed,
            )
        )
    generators.append(warehouse_traffic(settings, rate, seed, history=WAREHOUSE_HISTORY))
    generators.append(
        DemoExtras(settings.topic_work_orders, settings.topic_inventory, settings.topic_outbound)
    )
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


def warehouse_traffic(
    settings: Settings, rate: float, seed: int | None = None, history: timedelta = timedelta(0)
) -> WarehouseTraffic:
    """Warehouse steps at half the work-order rate; `history` starts it that long ago."""
    return WarehouseTraffic(
        settings.topic_inventory,
        settings.topic_outbound,
        rate=max(0.5, rate / 2),
        seed=seed,
        payment_failure_share=settings.sim_payment_failure_share,
        cancel_share=settings.sim_cancel_share,
        stuck_share=settings.sim_stuck_share,
        history=history,
    )
