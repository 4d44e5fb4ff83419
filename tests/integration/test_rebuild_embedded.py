"""A rebuild on the embedded event log, inside the process that holds it (what `shopfloor demo` runs).

While events keep arriving, the rebuild replays the in-process log into shadow tables, catches up
with the live projector and swaps; a row damaged in the live table beforehand is repaired, and the
result equals a clean replay of the same events into a fresh store.
"""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import text

from shopfloor.runtime import build
from tests.integration.harness import applied_total, work_order_state
from tests.integration.test_worker_group import EVENTS_PER_ORDER, ORDERS, order_stream
from tests.support import unique_settings, wait_until

# Every order's last event (sequence 10) carries the 10th status of the cycle
# PLANNED RELEASED IN_PROGRESS ON_HOLD IN_PROGRESS COMPLETED ...; stale CANCELLED events never win.
FINAL_STATUS = "ON_HOLD"


async def test_rebuild_on_the_embedded_log_repairs_and_equals_a_clean_replay(database_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = unique_settings(None, database_url)
    assert settings.embedded
    stream = order_stream(seed=7)
    first, later = stream[:-600], stream[-600:]
    runtime = build(settings, consume=True, serve_web=False)
    assert runtime.sink is not None
    async with runtime.lifespan(None):
        for key, evt in first:
            await runtime.sink.send(settings.topic_work_orders, json.dumps(evt).encode(), key.encode())
        await wait_until(lambda: applied_total(runtime) >= len(first), 90, "the live projector")
        with runtime.engine.begin() as conn:  # damage the live read model: only a rebuild repairs this
            conn.execute(text("UPDATE work_orders SET status = 'BROKEN' WHERE work_order_id = 'WO-G0001'"))
            conn.execute(text("DELETE FROM work_order_history WHERE work_order_id = 'WO-G0002'"))

        async def keep_producing() -> None:
            for n, (key, evt) in enumerate(later):
                await runtime.sink.send(settings.topic_work_orders, json.dumps(evt).encode(), key.encode())  # type: ignore[union-attr]
                if n % 20 == 19:
                    await asyncio.sleep(0.01)

        producing = asyncio.create_task(keep_producing())
        progress = await asyncio.wait_for(runtime.rebuild("work-orders"), 120)
        await producing
        await wait_until(lambda: applied_total(runtime) >= len(stream), 60, "the live projector")
        live_state = work_order_state(runtime.engine)

    clean = build(unique_settings(None, f"sqlite:///{tmp_path / 'clean.db'}"), consume=True, serve_web=False)
    async with clean.lifespan(None):
        for key, evt in stream:
            await clean.sink.send(clean.settings.topic_work_orders, json.dumps(evt).encode(), key.encode())  # type: ignore[union-attr]
        await wait_until(lambda: applied_total(clean) >= len(stream), 90, "the clean replay")
        clean_state = work_order_state(clean.engine)

    assert progress.state == "SWAPPED"
    assert progress.done >= len(first)
    orders = live_state["orders"]
    assert len(orders) == ORDERS
    assert {(o["status"], o["quantity_done"]) for o in orders} == {(FINAL_STATUS, EVENTS_PER_ORDER)}
    assert len(live_state["history"]) == ORDERS * EVENTS_PER_ORDER  # each event changed the status
    per_line = {(c["line_id"], c["status"]): c["count"] for c in live_state["counts"]}
    assert per_line == {(f"L{n}", FINAL_STATUS): 67 if n < 6 else 66 for n in range(9)}  # 600 orders, i % 9
    assert live_state == clean_state
