"""`shopfloor rebuild alerts` keeps the alerts sensor readings raised, on SQLite and PostgreSQL.

Sensor readings write the alerts and equipment tables too, so `alerts`, `sensors` and `equipment`
are one read model: rebuilding any of them replays all three topics into all six tables. Rebuilding
the alert tables from alert commands alone would drop every threshold alert.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, text

from shopfloor.rebuild.models import find
from shopfloor.rebuild.runner import Rebuild
from shopfloor.rebuild.shadow import open_engine
from shopfloor.store import alerts as alert_store
from shopfloor.store import equipment as eq_store
from shopfloor.store import sensors as sensor_store
from shopfloor.store.registry import HANDLERS
from tests.integration.harness import projecting, wait_consumed
from tests.support import T0, event, unique_settings


def _readings() -> list[dict[str, Any]]:
    """M-001's vibration goes over its limit for the last six of twelve rounds, three minutes apart."""
    out = []
    for r in range(12):
        value = 9.0 if r >= 6 else 2.0
        data = {"equipment_id": "M-001", "sensor": "vibration", "value": value, "unit": "mm/s"}
        at = T0 + timedelta(minutes=3 * r)
        out.append(event("SensorReading", data, source="iot/test", event_id=f"r{r}", at=at))
    return out


def _state(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        return {
            "alerts": alert_store.list_alerts(conn),
            "journal": alert_store.journal(conn),
            "machines": eq_store.list_equipment(conn),
            "latest": sensor_store.latest_values(conn),
        }


def test_sensor_handler_is_rebuilt_with_the_alert_and_equipment_tables() -> None:
    alerts, sensors, equipment = (find(name, HANDLERS) for name in ("alerts", "sensors", "equipment"))
    assert alerts == sensors == equipment
    assert {t.name for t in alerts.tables} >= {"alerts", "alert_journal", "equipment", "sensor_latest"}
    assert {type(h).__name__ for h in alerts.handlers} == {
        "EquipmentHandler",
        "SensorHandler",
        "AlertCommandHandler",
    }
    assert set(alerts.views) == {"equipment", "sensors"}


async def test_rebuilding_alerts_keeps_sensor_raised_alerts(kafka, producer, database_url) -> None:  # type: ignore[no-untyped-def]
    settings = unique_settings(
        kafka, database_url, topic_alert_commands=f"t{time.time_ns()}.ops.alert-commands"
    )
    status = event("EquipmentStatusChanged", {"equipment_id": "M-001", "status": "RUNNING", "line_id": "L1"})
    await producer.event(settings.topic_equipment, "M-001", status)
    for reading in _readings():
        await producer.event(settings.topic_sensors, "M-001", reading)
    async with projecting(settings) as runtime:
        await wait_consumed(runtime, 13, timeout=60)
        [alert] = [a for a in _state(runtime.engine)["alerts"] if a["kind"] == "THRESHOLD"]
        ack = event(
            "AlertAcknowledged",
            {"alert_id": alert["alert_id"], "equipment_id": "M-001", "user": "sam", "note": "seen"},
        )
        await producer.event(settings.topic_alert_commands, "M-001", ack)
        await wait_consumed(runtime, 14, timeout=60)
        before = _state(runtime.engine)
        assert [(a["kind"], a["state"]) for a in before["alerts"]] == [("THRESHOLD", "ACKED")]
        with runtime.engine.begin() as conn:  # a damaged read model: only the rebuild repairs it
            conn.execute(text("DELETE FROM alerts"))

        engine = open_engine(settings.database_url)
        try:
            progress = await Rebuild(settings, find("alerts", HANDLERS), engine).run()
        finally:
            engine.dispose()
        assert progress.state == "SWAPPED"
        assert _state(runtime.engine) == before
