"""The demo's first three minutes of event time, through the real projector on the embedded log:
machines on every work-order line, an alert from a degrading machine, dead letters, late and stuck
orders, low stock. Event time is stepped by the test (the generators take `now`), not waited for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from shopfloor.runtime import build
from shopfloor.simulator import base
from shopfloor.simulator.plant import demo_traffic
from shopfloor.store import alerts as alert_store
from shopfloor.store import dead_letters
from shopfloor.store import equipment as equipment_store
from shopfloor.store import inventory as inventory_store
from shopfloor.store import outbound as outbound_store
from tests.integration.harness import wait_consumed
from tests.support import unique_settings

MINUTES = 3
TICK = timedelta(milliseconds=100)


async def _run_demo(sqlite_url: str, start: datetime) -> tuple[Any, Any]:
    """Paces the demo's generators exactly as `base.run` does, on a stepped clock."""
    settings = unique_settings(None, sqlite_url)
    runtime = build(settings, consume=True, serve_web=False)
    generators = demo_traffic(settings, rate=20.0, sensor_rate=50.0, seed=11)
    assert runtime.sink is not None
    sent = 0
    credit = [0.0] * len(generators)
    now = start
    async with runtime.lifespan(None):
        while now < start + timedelta(minutes=MINUTES):
            for i, generator in enumerate(generators):
                credit[i] += generator.rate * TICK.total_seconds()
                while credit[i] >= 1:
                    credit[i] -= 1
                    for produced in generator.step(now):
                        await base.send(runtime.sink, produced)
                        sent += 1
            now += TICK
        await runtime.sink.flush()
        await wait_consumed(runtime, sent, timeout=240)
    return settings, runtime


async def test_the_demo_shows_every_page_something_within_three_minutes(sqlite_url: str) -> None:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=MINUTES)
    settings, runtime = await _run_demo(sqlite_url, start)
    engine = runtime.engine
    start_ms = int(start.timestamp() * 1000)
    with engine.connect() as conn:
        machines = [dict(r._mapping) for r in conn.execute(select(equipment_store.EQUIPMENT))]
        alerts = alert_store.list_alerts(conn, equipment_id=None, state=None, limit=100)
        now_ms = start_ms + MINUTES * 60_000
        limits = settings.stuck_limits_ms()
        late = outbound_store.list_orders(conn, late=True, now_ms=now_ms, limits_ms=limits)
        stuck = outbound_store.list_orders(conn, stuck=True, now_ms=now_ms, limits_ms=limits)
        stock = [dict(r._mapping) for r in conn.execute(select(inventory_store.TOTALS))]

    assert {m["line_id"] for m in machines} == {f"L{n}" for n in range(1, 7)}

    assert alerts, "no alert within three minutes of event time"
    first = min(a["opened_ms"] for a in alerts)
    assert first - start_ms <= MINUTES * 60_000
    print(f"demo: first alert {(first - start_ms) / 1000:.0f} s of event time after the start")
    assert any(a["kind"] == "THRESHOLD" for a in alerts)

    letters = dead_letters.listing(engine, None)
    assert len(letters) >= 3
    reasons = " ".join(str(letter["reason"]) for letter in letters)
    assert "HALF_DONE" in reasons or "status" in reasons
    assert "WorkOrderTeleported" in reasons

    assert {o["order_id"] for o in late} >= {"SO-90003", "SO-90004"}
    assert {o["order_id"] for o in stuck} >= {"SO-90001", "SO-90002"}

    low = {row["sku"] for row in stock if row["on_hand"] < settings.inventory_reorder_point}
    assert len(low) >= 2, "fewer than two SKUs below the reorder point"
