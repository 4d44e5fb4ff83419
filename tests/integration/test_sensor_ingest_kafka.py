"""Sensor readings through the real broker into SQLite and PostgreSQL: 12,000 readings.

The ingest rate is printed, not asserted (it includes the consumer group join and depends on the
machine's load); `bench/ingest.py` measures rates and reports the targets they miss. Checks the
read models (latest values, down-sampled buckets within retention, equipment rows), a threshold
alert opened by the readings, and acknowledgement arriving as a command event.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine

from shopfloor.events.codec import encode_structured
from shopfloor.store import alerts as alert_store
from shopfloor.store import equipment as eq_store
from shopfloor.store import sensors as sensor_store
from tests.integration.harness import projecting, wait_consumed
from tests.support import T0, event, unique_settings, wait_until

MACHINES = 200
SENSORS = ("temperature", "vibration", "power", "pressure", "current")
ROUNDS = 12  # every sensor reports 12 times, 3 minutes apart: 36 minutes of event time
ROUND_S = 180


def readings() -> list[dict[str, Any]]:
    """M-001's vibration is over its limit (7.1) in the last rounds; everything else is calm."""
    out = []
    for r in range(ROUNDS):
        for m in range(MACHINES):
            for s, sensor in enumerate(SENSORS):
                value = 2.0 + 0.01 * ((m + s + r) % 7)
                if m == 0 and sensor == "vibration" and r >= ROUNDS - 6:
                    value = 9.0
                at = T0 + timedelta(seconds=r * ROUND_S + m * 0.1 + s * 0.01)
                data = {"equipment_id": f"M-{m + 1:03d}", "sensor": sensor, "value": value, "unit": "u"}
                out.append(event("SensorReading", data, source="iot/test", event_id=f"r{r}-{m}-{s}", at=at))
    return out


def _read(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        return {
            "buckets": sensor_store.bucket_counts(conn),
            "latest": sensor_store.latest_values(conn),
            "machines": eq_store.list_equipment(conn),
            "alerts": alert_store.list_alerts(conn),
            "journal": alert_store.journal(conn),
        }


async def test_sensor_readings_are_projected(kafka, producer, database_url) -> None:  # type: ignore[no-untyped-def]
    tag = database_url.split(":")[0]
    settings = unique_settings(
        kafka, database_url, topic_alert_commands=f"t{time.time_ns()}.ops.alert-commands"
    )
    status = event("EquipmentStatusChanged", {"equipment_id": "M-001", "status": "RUNNING", "line_id": "L1"})
    await producer.event(settings.topic_equipment, "M-001", status)
    batch = readings()
    for evt in batch:
        value, headers = encode_structured(evt)
        await producer.sink.send(settings.topic_sensors, value, evt["data"]["equipment_id"].encode(), headers)
    await producer.sink.flush()
    started = time.perf_counter()
    async with projecting(settings) as runtime:
        await wait_consumed(runtime, len(batch) + 1, timeout=120)
        elapsed = time.perf_counter() - started
        rate = len(batch) / elapsed
        print(
            f"\n[{tag}] sensor ingest: {len(batch)} readings in {elapsed:.1f} s = {rate:.0f} events/s "
            "(group join included; a figure, not a check)"
        )

        state = _read(runtime.engine)
        seconds, minutes = state["buckets"]
        sensors = MACHINES * len(SENSORS)
        assert minutes == sensors * ROUNDS  # one reading per sensor per round, each in its own minute
        assert seconds <= sensors * (sensor_store.RETAIN_SECONDS_MS // (ROUND_S * 1000) + 1)
        assert seconds < sensors * ROUNDS  # older per-second buckets were pruned
        assert len(state["machines"]) == MACHINES
        m1 = next(m for m in state["machines"] if m["equipment_id"] == "M-001")
        assert (m1["status"], m1["line_id"]) == ("RUNNING", "L1")
        assert {s["sensor"]: s["value"] for s in state["latest"]["M-001"]}["vibration"] == 9.0
        assert sum(s["readings"] for ss in state["latest"].values() for s in ss) == len(batch)
        thresholds = [a for a in state["alerts"] if a["kind"] == "THRESHOLD"]
        assert [(a["equipment_id"], a["sensor"], a["state"]) for a in thresholds] == [
            ("M-001", "vibration", "OPEN")
        ]

        alert_id = thresholds[0]["alert_id"]
        ack = event(
            "AlertAcknowledged",
            {"alert_id": alert_id, "equipment_id": "M-001", "user": "sam", "note": "seen"},
        )
        await producer.event(settings.topic_alert_commands, "M-001", ack)

        def acked() -> bool:
            with runtime.engine.connect() as conn:
                alert = alert_store.get_alert(conn, alert_id)
            return alert is not None and alert["state"] == "ACKED"

        await wait_until(acked, 30, "the alert to be acknowledged")
        journal = _read(runtime.engine)["journal"]
        assert [(j["alert_id"], j["action"], j["user"], j["note"]) for j in journal] == [
            (alert_id, "ACKNOWLEDGE", "sam", "seen")
        ]
