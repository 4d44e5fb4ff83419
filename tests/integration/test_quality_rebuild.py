"""Rebuilding the quality read model by its registry name, on the embedded log (what `shopfloor demo`
runs): damaged quality tables come back to the hand-worked figures of tests/quality_events.py."""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import text

from shopfloor.runtime import build
from shopfloor.store import quality as store
from tests.integration.harness import wait_consumed
from tests.quality_events import SHIFT_DAY
from tests.support import unique_settings


async def test_rebuild_quality_repairs_its_tables(database_url) -> None:  # type: ignore[no-untyped-def]
    settings = unique_settings(None, database_url)
    assert settings.embedded
    runtime = build(settings, consume=True, serve_web=False)
    assert runtime.sink is not None
    async with runtime.lifespan(None):
        for evt in SHIFT_DAY:
            key = evt["data"]["inspection_id"].encode()
            await runtime.sink.send(settings.topic_quality, json.dumps(evt).encode(), key)
        await wait_consumed(runtime, len(SHIFT_DAY))
        with runtime.engine.begin() as conn:  # damage every kind of quality row: only a rebuild repairs it
            conn.execute(text("UPDATE quality_line_results SET count = 99"))
            conn.execute(text("DELETE FROM quality_work_orders WHERE work_order_id = 'WO-2'"))
            conn.execute(text("DELETE FROM quality_inspections WHERE inspection_id = 'I4'"))
            conn.execute(text("DELETE FROM quality_defects WHERE code = 'BURR'"))
        progress = await asyncio.wait_for(runtime.rebuild("quality"), 120)
        with runtime.engine.connect() as conn:
            results = store.line_results(conn)
            defects = sorted(store.defect_counts(conn))
            latest = store.latest_results(conn, ["WO-2", "WO-3"])
            ids = sorted(r["inspection_id"] for r in store.recent_inspections(conn, 100))

    assert progress.state == "SWAPPED"
    # by hand (tests/quality_events.py): L1 PASS I1 I3 I5 I6, FAIL I2, REWORK I4; L2 PASS I7 I10, FAIL I8 I9
    assert results == {"L1": {"FAIL": 1, "PASS": 4, "REWORK": 1}, "L2": {"FAIL": 2, "PASS": 2}}
    assert defects == [("BURR", 4), ("DENT", 4), ("SCRATCH", 3)]
    assert {k: (v["latest_inspection_id"], v["inspections"]) for k, v in latest.items()} == {
        "WO-2": ("I3", 2),
        "WO-3": ("I5", 2),
    }
    assert ids == sorted(f"I{n}" for n in range(1, 11))
