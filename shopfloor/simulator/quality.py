"""Quality inspections of the simulated work orders: some in-process checks while an order runs, and
a final one when it completes. Most pass; a FAIL or REWORK carries defect codes and makes the next
inspection of that order more likely to pass (it was fixed).

It wraps the work-order generator and inspects the orders that generator reports, so every
inspection names a real order and its line.
"""

from __future__ import annotations

import random
from datetime import datetime

from shopfloor.events.codec import cloud_event
from shopfloor.simulator.base import Generator, Produced

# Weighted so the top codes are stable over a run: SCRATCH and BURR lead, POROSITY is rare.
DEFECT_CODES = ("SCRATCH", "BURR", "DENT", "DIMENSION", "MISALIGNED", "POROSITY")
DEFECT_WEIGHTS = (30, 25, 15, 12, 10, 5)
INSPECTORS = ("qa-ines", "qa-kofi", "qa-lena", "qa-marek")
IN_PROCESS_SHARE = 0.08  # of progress updates, how many are followed by an in-process check


class InspectedWorkOrders:
    """A work-order generator plus inspections of its orders, on the quality topic."""

    def __init__(
        self,
        work_orders: Generator,
        topic: str,
        *,
        fail_share: float = 0.08,
        rework_share: float = 0.1,
        seed: int | None = None,
        source: str = "qms/simulator",
    ) -> None:
        self._inner = work_orders
        self.rate = work_orders.rate
        self._topic = topic
        self._fail, self._rework = fail_share, rework_share
        self._rng = random.Random(None if seed is None else seed + 7919)
        self._source = source
        self._last: dict[str, str] = {}  # work order -> its latest result, while the order is open
        self._number = self._rng.randrange(1000, 9000) * 100

    def step(self, now: datetime) -> list[Produced]:
        out = self._inner.step(now)
        for produced in list(out):
            event = produced.event
            if event.get("type") != "WorkOrderStatusChanged":
                continue
            data = event["data"]
            status = data.get("status")
            if status == "COMPLETED" or (status == "IN_PROGRESS" and self._rng.random() < IN_PROCESS_SHARE):
                out.append(self._inspect(data["work_order_id"], data.get("line_id"), now))
            if status in ("COMPLETED", "CANCELLED"):
                self._last.pop(data["work_order_id"], None)
        return out

    def _inspect(self, work_order_id: str, line_id: str | None, now: datetime) -> Produced:
        fixed = self._last.get(work_order_id) in ("FAIL", "REWORK")
        roll = self._rng.random() * (3 if fixed else 1)  # after a fix, failing again is rarer
        result = "FAIL" if roll < self._fail else "REWORK" if roll < self._fail + self._rework else "PASS"
        self._last[work_order_id] = result
        self._number += 1
        inspection_id = f"QI-{self._number}"
        data: dict[str, object] = {
            "inspection_id": inspection_id,
            "work_order_id": work_order_id,
            "result": result,
            "inspector": self._rng.choice(INSPECTORS),
        }
        if line_id:
            data["line_id"] = line_id
        if result != "PASS":
            codes = self._rng.choices(DEFECT_CODES, DEFECT_WEIGHTS, k=self._rng.randint(1, 2))
            data["defects"] = [{"code": c, "count": self._rng.randint(1, 4)} for c in dict.fromkeys(codes)]
        event = cloud_event(
            "InspectionRecorded",
            data,
            source=self._source,
            time=now,
            subject=inspection_id,
            correlationid=f"wo-{work_order_id}",
        )
        return Produced(self._topic, inspection_id, event)
