"""Plan vs actual through the real broker into both stores, read back over the HTTP API."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from shopfloor.web import lines as lines_web
from tests.integration.harness import projecting, wait_consumed
from tests.support import event, unique_settings, wo
from tests.unit.test_line_figures import CHANGES, NOON, PROGRESS, ms

# The unit test's hand-worked shift (two stoppages, a break, scrap, two cycle times) as events:
# availability 300/345, performance 15800/18000, quality 550/580, target 759, actual 550, behind.


def _events() -> list[tuple[str, str, dict]]:
    out = []
    for c in CHANGES:
        data = {"equipment_id": c.equipment_id, "status": c.status, "line_id": "L1", "reason": c.reason}
        out.append(("equipment", c.equipment_id, event("EquipmentStatusChanged", data, at=_dt(c.at_ms))))
    for i, p in enumerate(sorted(PROGRESS, key=lambda p: p.at_ms)):
        extra = {"quantity_done": p.done, "quantity_scrap": p.scrap}
        if p.ideal_cycle_s:
            extra["ideal_cycle_s"] = p.ideal_cycle_s
        if i < 2:  # later updates leave the line out: it is carried forward
            extra["line_id"] = "L1"
        data = wo(p.work_order_id, "IN_PROGRESS", line=None, **extra)
        out.append(("orders", p.work_order_id, event("WorkOrderStatusChanged", data, at=_dt(p.at_ms))))
    # another line, idle all shift: a down machine, nothing made
    down = {"equipment_id": "M9", "status": "DOWN", "line_id": "L2", "reason": "changeover"}
    out.append(("equipment", "M9", event("EquipmentStatusChanged", down, at=_dt(ms("2026-12-01T11:00:00")))))
    return out


def _dt(at_ms: int):  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime.fromtimestamp(at_ms / 1000, UTC)


async def test_line_figures_from_kafka_on_both_stores(kafka, producer, database_url) -> None:  # type: ignore[no-untyped-def]
    settings = unique_settings(kafka, database_url, breaks="10:00-10:15", line_target_share=1.0)
    topics = {"equipment": settings.topic_equipment, "orders": settings.topic_work_orders}
    events = _events()
    async with projecting(settings) as runtime:
        for kind, key, evt in events:
            await producer.event(topics[kind], key, evt)
        await wait_consumed(runtime, len(events))
        app = FastAPI()
        app.state.runtime = runtime  # the pages' shared template context reads it (sign-in state)
        plan = lines_web.Plan(settings, clock=lambda: NOON)
        app.include_router(lines_web.router(runtime.engine, plan))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            lines = (await client.get("/api/lines")).json()
            shifts = await client.get(
                "/api/lines/L1/shifts", params={"from": "2026-12-01T00:00", "to": "2026-12-01T12:00"}
            )
            bad = await client.get("/api/lines/L1/shifts", params={"from": "yesterday"})
            backwards = await client.get(
                "/api/lines/L1/shifts", params={"from": "2026-12-02", "to": "2026-12-01"}
            )
            unknown = await client.get("/api/lines/NOPE/shifts")
            far = await client.get("/api/lines/L1/shifts", params={"from": "0001-01-01", "to": "0001-01-02"})
            downtime = (await client.get("/api/downtime")).json()
            page = (await client.get("/lines")).text

    by_line = {line["line_id"]: line for line in lines["lines"]}
    l1 = by_line["L1"]
    assert l1["shift"] == "2026-12-01 06:00"
    assert (l1["shift_start"], l1["shift_end"]) == ("2026-12-01T06:00:00+00:00", "2026-12-01T14:00:00+00:00")
    assert (l1["availability"], l1["performance"], l1["quality"]) == (
        f"{300 / 345:.3f}",
        f"{15800 / 18000:.3f}",
        f"{550 / 580:.3f}",
    )
    assert l1["oee"] == f"{(300 / 345) * (15800 / 18000) * (550 / 580):.3f}" == "0.724"
    assert (l1["target"], l1["actual"], l1["gap"], l1["state"]) == (759, 550, -209, "behind")
    l2 = by_line["L2"]
    assert l2["state"] == "stopped" and l2["availability"] == f"{285 / 345:.3f}"  # down 11:00-12:00 only
    assert l2["performance"] is None and l2["quality"] is None and l2["target"] is None

    assert shifts.status_code == 200
    labels = [s["shift"] for s in shifts.json()["shifts"]]
    assert labels == ["2026-11-30 22:00", "2026-12-01 06:00"]
    assert shifts.json()["shifts"][1]["oee"] == "0.724"
    assert shifts.json()["shifts"][0]["availability"] == "1.000"  # M1 and M2 ran all night
    for response in (bad, backwards):
        assert response.status_code == 400 and response.json()["error"]
    assert unknown.status_code == 404
    assert far.status_code == 400 and "between 1970-01-01 and 2100-01-01" in far.json()["error"]  # not a 500

    assert downtime["downtime"]["L1"]["shift"] == [["jam", 25.0], ["material", 25.0]]
    assert downtime["downtime"]["L2"]["shift"] == [["changeover", 60.0]]
    assert 'data-line-summary="L1" data-line-state="behind" data-oee="0.724"' in " ".join(page.split())
