"""Quality inspections: each inspection once, results per work order and per line, defect counts, and
first-pass yield per line and shift.

First-pass yield (FPY) of a line in a shift = orders passed first time / orders first inspected, where
- a work order's *first inspection* is its inspection with the earliest event time (ties: the smaller
  inspection id), so the answer does not depend on the order inspections arrive in;
- an order counts in the line and shift of its first inspection (the shift calendar decides the shift);
- it *passed first time* when that first inspection's result is PASS (a FAIL or REWORK first means
  it did not, whatever later re-inspections say);
- inspections without a work order are counted in results and defects, not in FPY.
FPY is unknown (None) when no order was first inspected on that line in that shift.

An inspection is a recorded fact: a second event with the same inspection id changes nothing (a
re-inspection is a new inspection with its own id).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from shopfloor.events.envelope import Envelope
from shopfloor.events.models import InspectionRecorded
from shopfloor.projections.calendar import Calendar, Shift, shift_at
from shopfloor.projections.frozen import frozen

UNASSIGNED_LINE = "unassigned"
RESULTS = ("PASS", "FAIL", "REWORK")


@frozen
class Inspection:
    inspection_id: str
    work_order_id: str | None
    line_id: str
    result: str
    defects: str  # JSON list of {"code", "count"}, codes merged, in first-seen order
    defect_units: int
    inspector: str | None
    at_ms: int
    event_id: str
    correlationid: str | None


@frozen
class OrderQuality:
    """Per work order: its first and latest inspection and how many of each result it had."""

    work_order_id: str
    line_id: str  # the line of its first inspection
    first_inspection_id: str
    first_at_ms: int
    first_result: str
    latest_inspection_id: str
    latest_at_ms: int
    latest_result: str
    inspections: int
    passed: int
    failed: int
    reworked: int


@frozen
class ResultCount:
    line_id: str
    result: str
    count: int


@frozen
class DefectCount:
    line_id: str
    code: str
    count: int


@frozen
class Recorded:
    """What one event changes: the new inspection (None when its id was recorded already) and the
    deltas of the (line, result) and (line, defect code) counts."""

    inspection: Inspection | None
    result_deltas: dict[tuple[str, str], int]
    defect_deltas: dict[tuple[str, str], int]


@frozen
class ShiftYield:
    line_id: str
    shift: str  # the shift's label (its local start), or "off shift"
    start_ms: int
    end_ms: int
    inspected: int  # work orders first inspected on this line in this shift
    passed: int  # of those, first inspection PASS

    @property
    def fpy(self) -> float | None:
        return self.passed / self.inspected if self.inspected else None


def merged_defects(pairs: Iterable[tuple[str, int]]) -> dict[str, int]:
    """Counts per code, a code given twice summed, zero counts dropped; first-seen order kept."""
    out: dict[str, int] = {}
    for code, count in pairs:
        if count:
            out[code] = out.get(code, 0) + count
    return out


def record(current: Inspection | None, event: Envelope) -> Recorded:
    """Apply one InspectionRecorded; an inspection id already recorded changes nothing."""
    if current is not None:
        return Recorded(None, {}, {})
    data = event.data
    assert isinstance(data, InspectionRecorded)
    line = data.line_id or UNASSIGNED_LINE
    defects = merged_defects((d.code, d.count) for d in data.defects)
    inspection = Inspection(
        inspection_id=data.inspection_id,
        work_order_id=data.work_order_id,
        line_id=line,
        result=str(data.result),
        defects=json.dumps([{"code": c, "count": n} for c, n in defects.items()], separators=(",", ":")),
        defect_units=sum(defects.values()),
        inspector=data.inspector,
        at_ms=event.event_ms,
        event_id=event.id,
        correlationid=event.correlationid,
    )
    return Recorded(inspection, {(line, inspection.result): 1}, {(line, c): n for c, n in defects.items()})


def _order_key(at_ms: int, inspection_id: str) -> tuple[int, str]:
    return (at_ms, inspection_id)


def fold_order(current: OrderQuality | None, inspection: Inspection) -> OrderQuality:
    """Add one newly recorded inspection of the order; first and latest go by event time, so the
    result is the same in whatever order the inspections arrive."""
    assert inspection.work_order_id is not None
    key = _order_key(inspection.at_ms, inspection.inspection_id)
    result = inspection.result
    tally = (result == "PASS", result == "FAIL", result == "REWORK")
    if current is None:
        return OrderQuality(
            inspection.work_order_id,
            inspection.line_id,
            inspection.inspection_id,
            inspection.at_ms,
            result,
            inspection.inspection_id,
            inspection.at_ms,
            result,
            1,
            *(int(t) for t in tally),
        )
    first = key < _order_key(current.first_at_ms, current.first_inspection_id)
    latest = key > _order_key(current.latest_at_ms, current.latest_inspection_id)
    return OrderQuality(
        current.work_order_id,
        inspection.line_id if first else current.line_id,
        inspection.inspection_id if first else current.first_inspection_id,
        inspection.at_ms if first else current.first_at_ms,
        result if first else current.first_result,
        inspection.inspection_id if latest else current.latest_inspection_id,
        inspection.at_ms if latest else current.latest_at_ms,
        result if latest else current.latest_result,
        current.inspections + 1,
        current.passed + tally[0],
        current.failed + tally[1],
        current.reworked + tally[2],
    )


def recent_shifts(calendar: Calendar, at_ms: int, count: int) -> list[Shift]:
    """The shift containing `at_ms` and the `count - 1` periods before it, newest first (a gap between
    configured shifts is a period of its own, "off shift")."""
    shifts = [shift_at(calendar, at_ms)]
    while len(shifts) < count:
        shifts.append(shift_at(calendar, shifts[-1].start_ms - 1))
    return shifts


def top_defects(counts: Iterable[tuple[str, int]], limit: int) -> list[tuple[str, int]]:
    """The `limit` most frequent codes (counts of a code summed), most first, ties by code."""
    total = merged_defects(counts)
    return sorted(total.items(), key=lambda item: (-item[1], item[0]))[:limit]
