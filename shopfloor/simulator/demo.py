"""What the demo adds to normal plant traffic so every page has something to show in its first
minutes: carrier cutoffs, a backlog of outbound orders already late or stuck, two slow movers short
of stock, and a few malformed records that the projector dead-letters.

The backlog is backdated (event times in the past), as if the demo had been running for hours;
the malformed records are the kinds of mistakes real producers make.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from shopfloor.events.codec import cloud_event
from shopfloor.simulator.base import Produced

POISON_EVERY = timedelta(seconds=20)
WAREHOUSE_HISTORY = timedelta(hours=3)  # busy for a while: stage paces, pick rates, late orders


def demo_cutoffs(carriers: list[str], every_minutes: int = 30) -> str:
    """SHOPFLOOR_CARRIER_CUTOFFS for the demo: each carrier's truck leaves every `every_minutes`,
    carriers staggered, so whatever the time of day some truck is minutes away. Against the demo
    warehouse's pace (about 10 min from order to dispatch) an order is at risk when its truck leaves
    before it can be packed: a few of the open orders at any moment, not most."""
    step = max(1, every_minutes // max(1, len(carriers)))
    parts = []
    for i, carrier in enumerate(carriers):
        first = (i * step) % every_minutes
        times = ";".join(f"{m // 60:02d}:{m % 60:02d}" for m in range(first, 24 * 60, every_minutes))
        parts.append(f"{carrier}={times}")
    return ",".join(parts)


def demo_shifts(start: datetime) -> str:
    """SHOPFLOOR_SHIFTS for the demo: three 8-hour shifts, the first beginning at `start` (plant local
    time, to the minute). A fresh demo store holds no production from before it started, so a shift
    that began earlier counts that time as planned and idle: minutes in, every line read a few per
    cent OEE against a target of hours."""
    first = start.hour * 60 + start.minute
    edges = [(first + 8 * 60 * i) % (24 * 60) for i in range(4)]
    return ",".join(f"{a // 60:02d}:{a % 60:02d}-{b // 60:02d}:{b % 60:02d}" for a, b in pairwise(edges))


class DemoExtras:
    """Step 1: the backlog and the low stock; then one malformed record every 20 s of event time,
    three in all."""

    rate = 0.5

    def __init__(self, work_order_topic: str, inventory_topic: str, outbound_topic: str) -> None:
        self._topics = (work_order_topic, inventory_topic, outbound_topic)
        self._started: datetime | None = None
        self._poisoned = 0

    def step(self, now: datetime) -> list[Produced]:
        if self._started is None:
            self._started = now
            return self._backlog(now) + self._low_stock(now)
        poison = self._poison(now)
        if self._poisoned < len(poison) and now >= self._started + POISON_EVERY * (self._poisoned + 1):
            self._poisoned += 1
            return [poison[self._poisoned - 1]]
        return []

    def _low_stock(self, now: datetime) -> list[Produced]:
        """Spare parts nobody reorders automatically: a handful left, below any reorder point."""
        out = []
        for sku, location, qty in (("SKU-SPARE-BELT", "Z-01-1", 3), ("SKU-SPARE-SEAL", "Z-01-2", 7)):
            data = {"sku": sku, "location": location, "delta": qty, "reason": "COUNT_CORRECTION"}
            event = cloud_event("InventoryAdjusted", data, source="wms/demo-backlog", time=now)
            out.append(Produced(self._topics[1], sku, event))
        return out

    def _order(self, order_id: str, kind: str, at: datetime, **data: Any) -> Produced:
        event = cloud_event(kind, {"order_id": order_id, **data}, source="wms/demo-backlog", time=at)
        return Produced(self._topics[2], order_id, event)

    def _backlog(self, now: datetime) -> list[Produced]:
        """Two orders stuck unpaid for most of an hour, two picked but past their due time."""
        ago = lambda minutes: now - timedelta(minutes=minutes)  # noqa: E731
        lines = [{"sku": "SKU-0001", "qty": 2}]
        out = []
        for number, minutes in (("SO-90001", 48), ("SO-90002", 35)):
            out.append(
                self._order(
                    number,
                    "OrderCreated",
                    ago(minutes),
                    customer="Demo GmbH",
                    lines=lines,
                    due_at=_stamp(now + timedelta(hours=4)),
                    priority="standard",
                )
            )
        for number, due_minutes in (("SO-90003", 20), ("SO-90004", 5)):
            out.append(
                self._order(
                    number,
                    "OrderCreated",
                    ago(180),
                    customer="Late Ltd",
                    lines=lines,
                    due_at=_stamp(ago(due_minutes)),
                    priority="express",
                )
            )
            out.append(self._order(number, "PaymentProcessed", ago(170), amount=120.0))
            out.append(self._order(number, "PickCompleted", ago(30)))
        return out

    def _poison(self, now: datetime) -> list[Produced]:
        work_orders, inventory, _ = self._topics
        bad_status = cloud_event(
            "WorkOrderStatusChanged",
            {"work_order_id": "WO-BROKEN-1", "status": "HALF_DONE", "line_id": "L2"},
            source="mes/legacy-gateway",
            time=now,
        )
        bad_delta = cloud_event(
            "InventoryAdjusted",
            {"sku": "SKU-0002", "location": "A-01-1", "delta": "a dozen", "reason": "RECEIPT"},
            source="wms/handheld-7",
            time=now,
        )
        unknown = cloud_event(
            "WorkOrderTeleported", {"work_order_id": "WO-BROKEN-2"}, source="mes/test-rig", time=now
        )
        return [
            Produced(work_orders, "WO-BROKEN-1", bad_status),
            Produced(inventory, "SKU-0002", bad_delta),
            Produced(work_orders, "WO-BROKEN-2", unknown),
        ]


def _stamp(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")
