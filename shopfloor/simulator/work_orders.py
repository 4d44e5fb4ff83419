"""Work orders moving through several lines: release, run, hold, finish, with quantities and scrap."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from shopfloor.events.codec import cloud_event
from shopfloor.simulator.base import Produced

PRODUCTS = [
    "gearbox-A7",
    "pump-housing-P2",
    "valve-V10",
    "bracket-B4",
    "shaft-S9",
    "rotor-R3",
    "impeller-I5",
    "flange-F8",
    "cover-C1",
    "manifold-M6",
]
OPERATORS = ["ana", "bram", "chen", "dita", "emre", "fatou", "goran", "hana", "ivo", "jules"]
DUE_SLACK = 1.5  # due after 1.5 x the ideal run time of it and the orders ahead: some run late
HOLD_REASONS = [
    "material shortage",
    "quality check",
    "tool change",
    "waiting for setup",
    "machine fault",
]


@dataclass
class _Order:
    order_id: str
    line: str
    product: str
    planned: int
    status: str = "PLANNED"
    done: int = 0
    scrap: int = 0
    sequence: int = 0
    operator: str | None = None
    due: datetime | None = None

    def ideal_cycle_s(self, rate: float) -> float:
        """Seconds per unit at the ideal rate, by product (a fixed table, so seeded runs repeat). The
        simulator makes units in proportion to its event rate, so the cycle scales with it: a line,
        running one order at a time, then makes its mix at about 60-100 % of the ideal rate, and the
        slower ones fall behind their target."""
        base = 6.0 + 2.0 * (PRODUCTS.index(self.product) % 5 if self.product in PRODUCTS else 0)
        return round(base * 0.2 / max(rate, 0.01), 4)


class WorkOrderTraffic:
    def __init__(
        self,
        topic: str,
        *,
        lines: int = 6,
        open_per_line: int = 12,
        rate: float = 5.0,
        seed: int | None = None,
        source: str = "mes/simulator",
    ) -> None:
        self.rate = rate
        self._topic = topic
        self._rng = random.Random(seed)
        self._lines = [f"L{i + 1}" for i in range(lines)]
        self._open_per_line = open_per_line
        self._orders: dict[str, _Order] = {}
        self._next_number = self._rng.randrange(1000, 9000) * 10
        self._source = source

    def _event(
        self, order: _Order, now: datetime, previous: str | None, reason: str | None = None
    ) -> Produced:
        order.sequence += 1
        data = {
            "work_order_id": order.order_id,
            "status": order.status,
            "line_id": order.line,
            "product": order.product,
            "quantity_planned": order.planned,
            "quantity_done": order.done,
            "quantity_scrap": order.scrap,
            "ideal_cycle_s": order.ideal_cycle_s(self.rate),
        }
        if order.due is None:  # planned behind the orders already on its line, one at a time
            ahead = sum(
                (o.planned - o.done) * o.ideal_cycle_s(self.rate)
                for o in self._orders.values()
                if o.line == order.line and o is not order
            )
            order.due = now + timedelta(seconds=(ahead + order.planned * data["ideal_cycle_s"]) * DUE_SLACK)
        data["due_at"] = order.due.isoformat()
        if previous:
            data["previous_status"] = previous
        if order.operator:
            data["operator"] = order.operator
        if reason:
            data["reason"] = reason
        event = cloud_event(
            "WorkOrderStatusChanged",
            data,
            source=f"{self._source}/{order.line.lower()}",
            time=now,
            subject=order.order_id,
            sequence=order.sequence,
            correlationid=f"wo-{order.order_id}",
        )
        return Produced(self._topic, order.order_id, event, binary=self._rng.random() < 0.3)

    def _new_order(self, line: str, now: datetime) -> Produced:
        self._next_number += 1
        order = _Order(
            f"WO-{self._next_number}",
            line,
            self._rng.choice(PRODUCTS),
            self._rng.choice([50, 100, 120, 200, 250, 500]),
        )
        self._orders[order.order_id] = order
        return self._event(order, now, None)

    def step(self, now: datetime) -> list[Produced]:
        line = self._rng.choice(self._lines)
        on_line = [o for o in self._orders.values() if o.line == line]
        if len(on_line) < self._open_per_line and (not on_line or self._rng.random() < 0.3):
            return [self._new_order(line, now)]
        order = self._rng.choice(on_line)
        previous = order.status
        reason = None
        roll = self._rng.random()
        if order.status == "PLANNED":
            order.status = "CANCELLED" if roll < 0.03 else "RELEASED"
        elif order.status == "RELEASED":
            if any(o.status == "IN_PROGRESS" for o in on_line if o is not order):
                return []
            order.status, order.operator = "IN_PROGRESS", self._rng.choice(OPERATORS)
        elif order.status == "IN_PROGRESS":
            if roll < 0.08:
                order.status, reason = "ON_HOLD", self._rng.choice(HOLD_REASONS)
            else:
                order.done = min(
                    order.planned, order.done + max(1, order.planned // self._rng.randint(4, 10))
                )
                order.scrap += 1 if self._rng.random() < 0.15 else 0
                if order.done >= order.planned:
                    order.status = "COMPLETED"
        elif order.status == "ON_HOLD":
            if any(o.status == "IN_PROGRESS" for o in on_line if o is not order):
                return []  # resumes once the line is free: a line runs one order at a time
            order.status = "IN_PROGRESS"
        event = self._event(order, now, previous, reason)
        if order.status in ("COMPLETED", "CANCELLED"):
            del self._orders[order.order_id]
        return [event]
