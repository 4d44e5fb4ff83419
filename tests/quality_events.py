"""A small hand-worked set of inspections the quality tests share (figures worked out in the tests).

Shift calendar: UTC, 06:00-14:00, 14:00-22:00, 22:00-06:00; T0 is 2026-11-27 08:00 UTC (morning shift).
"""

from __future__ import annotations

from typing import Any

from tests.support import event

HOUR = 3600.0


def inspection(
    inspection_id: str,
    result: str,
    hours: float,
    *,
    work_order: str | None,
    line: str | None = "L1",
    defects: list[tuple[str, int]] = (),  # type: ignore[assignment]
    inspector: str | None = "qa-1",
) -> dict[str, Any]:
    """An InspectionRecorded CloudEvent `hours` after T0 (08:00 UTC)."""
    data: dict[str, Any] = {"inspection_id": inspection_id, "result": result}
    if work_order is not None:
        data["work_order_id"] = work_order
    if line is not None:
        data["line_id"] = line
    if defects:
        data["defects"] = [{"code": c, "count": n} for c, n in defects]
    if inspector is not None:
        data["inspector"] = inspector
    return event(
        "InspectionRecorded", data, source="qms/test", event_id=f"ev-{inspection_id}", offset_s=hours * HOUR
    )


# In arrival order. I10 (WO-6, 11:00 PASS) arrives before I9 (WO-6, 10:30 FAIL): I9 is still WO-6's first.
SHIFT_DAY = [
    inspection("I1", "PASS", 0, work_order="WO-1"),  # 08:00
    inspection("I2", "FAIL", 1, work_order="WO-2", defects=[("SCRATCH", 2), ("DENT", 1)]),  # 09:00
    inspection("I3", "PASS", 2, work_order="WO-2"),  # 10:00 re-inspection
    inspection(
        "I4", "REWORK", 5 + 59 / 60, work_order="WO-3", defects=[("SCRATCH", 1), ("BURR", 3)]
    ),  # 13:59
    inspection("I5", "PASS", 6.5, work_order="WO-3"),  # 14:30, afternoon, not WO-3's first
    inspection("I6", "PASS", 7, work_order="WO-4"),  # 15:00, afternoon
    inspection("I7", "PASS", -1, work_order="WO-5", line="L2"),  # 07:00
    inspection("I8", "FAIL", 1, work_order=None, line="L2", defects=[("DENT", 2), ("DENT", 1)]),  # no order
    inspection("I10", "PASS", 3, work_order="WO-6", line="L2"),  # 11:00
    inspection(
        "I9", "FAIL", 2.5, work_order="WO-6", line="L2", defects=[("BURR", 1), ("POROSITY", 0)]
    ),  # 10:30
]
# Worked by hand:
# FPY L1 morning (06-14): orders first inspected WO-1 PASS, WO-2 FAIL, WO-3 REWORK -> 1 / 3
# FPY L1 afternoon (14-22): WO-4 PASS (WO-3's I5 is not a first) -> 1 / 1
# FPY L2 morning: WO-5 PASS, WO-6 first I9 FAIL (I8 has no order) -> 1 / 2
# Results: L1 PASS 4 (I1 I3 I5 I6), FAIL 1, REWORK 1; L2 PASS 2 (I7 I10), FAIL 2 (I8 I9)
# Defects: BURR 3+1=4, DENT 1+2+1=4, SCRATCH 2+1=3, POROSITY 0 (not counted)
# Latest per order: WO-1 PASS, WO-2 PASS (I3), WO-3 PASS (I5), WO-4 PASS, WO-5 PASS, WO-6 PASS (I10 at 11:00)
