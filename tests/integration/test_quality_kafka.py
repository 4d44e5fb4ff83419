"""Quality inspections through the real broker, on SQLite and PostgreSQL: the hand-worked day survives
duplicate deliveries, a corrected copy of an inspection, a projector restart with a full replay, and
malformed inspections, which are dead-lettered with a reason while the rest are applied."""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy import select

from shopfloor.projections.quality import top_defects
from shopfloor.store import quality as store
from shopfloor.store.dead_letters import DEAD
from shopfloor.web.quality import yields as shift_yields
from tests.integration.harness import projecting, wait_consumed
from tests.quality_events import SHIFT_DAY, inspection
from tests.support import event, unique_settings

SHIFTS = "06:00-14:00,14:00-22:00,22:00-06:00"
# Each breaks one rule of CONTRACT §3 (InspectionRecorded).
MALFORMED = {
    "bad-result": {"inspection_id": "BAD-1", "work_order_id": "WO-1", "line_id": "L1", "result": "MAYBE"},
    "negative-count": {
        "inspection_id": "BAD-2",
        "work_order_id": "WO-1",
        "line_id": "L1",
        "result": "FAIL",
        "defects": [{"code": "DENT", "count": -2}],
    },
    "no-result": {"inspection_id": "BAD-3", "work_order_id": "WO-1", "line_id": "L1"},
    "no-id": {"work_order_id": "WO-1", "line_id": "L1", "result": "PASS"},
}


async def test_inspections_through_kafka_end_in_the_hand_worked_figures(
    kafka, producer, database_url
) -> None:  # type: ignore[no-untyped-def]
    settings = unique_settings(kafka, database_url, timezone="UTC", shifts=SHIFTS)
    topic = settings.topic_quality
    rng = random.Random(3)

    async def send(evt: dict[str, Any]) -> None:
        key = evt["data"].get("inspection_id", "none")
        await producer.event(topic, key, evt, binary=rng.random() < 0.5)

    first, second = SHIFT_DAY[:6], SHIFT_DAY[6:]
    sent = 0
    for evt in first:
        await send(evt)
        sent += 1
        if rng.random() < 0.3:  # at-least-once producer
            await send(evt)
            sent += 1
    for name, data in MALFORMED.items():
        await send(event("InspectionRecorded", data, source="qms/test", event_id=f"bad-{name}"))
        sent += 1
    async with projecting(settings) as runtime:
        await wait_consumed(runtime, sent)
        assert runtime.projector is not None
        status = runtime.projector.status
        assert (status.applied, status.dead) == (len(first), len(MALFORMED))

    # While the projector is down: the rest of the day, a replay of the first part, and a corrected
    # copy of I1 (a new event id, the same inspection id: an inspection is recorded once).
    corrected = inspection("I1", "FAIL", 0.5, work_order="WO-1", defects=[("DENT", 9)])
    corrected["id"] = "ev-I1-corrected"
    later = [*second, *first, corrected]
    for evt in later:
        await send(evt)
    async with projecting(settings) as runtime:
        await wait_consumed(runtime, len(later))
        assert runtime.projector is not None
        status = runtime.projector.status
        assert (status.applied, status.duplicates) == (len(second) + 1, len(first))
        with runtime.engine.connect() as conn:
            results = store.line_results(conn)
            defects = top_defects(store.defect_counts(conn), 10)
            yields = shift_yields(conn, settings.calendar())
            latest = store.latest_results(conn, [f"WO-{n}" for n in range(1, 7)])
            i1 = store.recent_inspections(conn, 1, ids=["I1"])[0]
            letters = {r.reason for r in conn.execute(select(DEAD).where(DEAD.c.topic == topic))}

    assert results == {"L1": {"PASS": 4, "FAIL": 1, "REWORK": 1}, "L2": {"PASS": 2, "FAIL": 2}}
    assert defects == [("BURR", 4), ("DENT", 4), ("SCRATCH", 3)]
    assert [(y.line_id, y.shift, y.inspected, y.passed) for line in yields.values() for y in line] == [
        ("L1", "2026-11-27 14:00", 1, 1),
        ("L1", "2026-11-27 06:00", 3, 1),
        ("L2", "2026-11-27 06:00", 2, 1),
    ]
    assert {k: v["latest_result"] for k, v in latest.items()} == dict.fromkeys(
        ["WO-1", "WO-2", "WO-3", "WO-4", "WO-5", "WO-6"], "PASS"
    )
    assert (i1["result"], i1["event_id"]) == ("PASS", "ev-I1")
    assert len(letters) == len(MALFORMED)
    reasons = " | ".join(sorted(letters))
    for field in ("result", "count", "inspection_id"):
        assert field in reasons, reasons
