"""A mixed plant stream as (topic kind, key, record value): work orders with stale sequences, inventory
deltas (not idempotent, so a double effect shows), outbound sagas, equipment status, sensor
readings with degradations that cross alarm limits, a supervisor's acknowledgement of each
THRESHOLD alert, and quality inspections of the work orders (some backdated, so an order's first
inspection by time may arrive after a later one). Duplicates
come twice: right after the original (usually the same batch) and re-sent later (usually another
batch, as a producer retry would).
Per-key order is the order produced, as Kafka keeps it. Deterministic for a seed, ids included."""

from __future__ import annotations

import json
import random
from typing import Any

from tests.faults.reference import event_ms, threshold_alerts
from tests.support import T0, event, wo

STATUSES = ["PLANNED", "RELEASED", "IN_PROGRESS", "ON_HOLD", "IN_PROGRESS", "COMPLETED"]
SAGA = ["PaymentProcessed", "PickCompleted", "ShipmentDispatched", "DeliveryCompleted"]
MACHINE_STATUSES = ["RUNNING", "DOWN", "RUNNING", "IDLE", "MAINTENANCE"]
SENSORS = {"temperature": (60.0, "°C"), "vibration": (2.0, "mm/s")}
MACHINES = 12  # M-00..M-03 send status only, M-04..M-11 readings only
DEGRADE_FROM, DEGRADE_TO = 45, 75  # reading indexes of a degrading temperature (per machine)
DEFECT_CODES = ["SCRATCH", "BURR", "DENT", "POROSITY"]

Record = tuple[str, str, bytes]


def _reading(machine: int, sensor: str, index: int, rng: random.Random) -> float:
    """Quarter steps, so bucket sums are exact whatever the batching; machines 05, 07, 09 and 11 run
    hot from reading 45 to 75 (past the 95 °C limit), machine 11 never cools down again."""
    base, _ = SENSORS[sensor]
    noise = rng.randint(-4, 4) * 0.25
    hot = sensor == "temperature" and machine % 2 == 1 and machine >= 5
    if hot and index >= DEGRADE_FROM and (index < DEGRADE_TO or machine == 11):
        return 97.0 + noise
    return base + noise


def mixed_stream(total: int, seed: int) -> list[Record]:
    rng = random.Random(seed)
    out: list[Record] = []
    resend: list[tuple[int, Record]] = []  # (when, record) for delayed duplicates
    sequences: dict[str, int] = {}
    order_steps: dict[str, int] = {}
    machine_steps: dict[int, int] = {}
    readings: dict[tuple[int, str], int] = {}
    entities = max(10, total // 40)
    counter = 0
    qrng = random.Random(seed * 7 + 3)  # inspections draw apart: the other kinds stay as they were
    inspections = 0

    def inspection(wid: str | None, line: str) -> Record:
        nonlocal inspections
        inspections += 1
        qid = f"QI-{seed}-{inspections}"
        result = qrng.choice(["PASS", "PASS", "PASS", "FAIL", "REWORK"])
        data: dict[str, Any] = {"inspection_id": qid, "line_id": line, "result": result, "inspector": "qa"}
        if wid is not None:
            data["work_order_id"] = wid
        if result != "PASS":
            codes = qrng.sample(DEFECT_CODES, qrng.randint(1, 2))
            data["defects"] = [{"code": c, "count": qrng.randint(1, 3)} for c in codes]
        backdated = qrng.random() < 0.2  # recorded late: earlier than inspections already sent
        offset = len(out) / 100 - (qrng.uniform(1, 20) if backdated else 0)
        evt = event(
            "InspectionRecorded", data, source="qms/fault", event_id=f"q{seed}-{inspections}", offset_s=offset
        )
        return ("quality", qid, json.dumps(evt).encode())

    def build(event_type: str, data: dict[str, Any], **kw: Any) -> dict[str, Any]:
        nonlocal counter
        counter += 1
        return event(event_type, data, event_id=f"e{seed}-{counter}", offset_s=len(out) / 100, **kw)

    while len(out) < total:
        while resend and resend[0][0] <= len(out):
            out.append(resend.pop(0)[1])
        roll = rng.random()
        if roll < 0.35:
            wid = f"WO-{rng.randrange(entities):05d}"
            seq = sequences.get(wid, 0) + 1
            sequences[wid] = seq
            line = f"L{int(wid[3:]) % 7}"
            if seq > 2 and rng.random() < 0.05:  # an old update arriving late: stale
                evt = build("WorkOrderStatusChanged", wo(wid, "CANCELLED", line=line), sequence=seq - 2)
            else:
                status = STATUSES[(seq - 1) % len(STATUSES)]
                data = wo(wid, status, line=line, quantity_done=seq)
                evt = build("WorkOrderStatusChanged", data, sequence=seq)
            kind, key = "work_orders", wid
        elif roll < 0.6:
            sku = f"SKU-{rng.randrange(entities):04d}"
            data = {
                "sku": sku,
                "location": f"B{rng.randrange(5)}",
                "delta": rng.randint(-20, 40),
                "reason": rng.choice(["RECEIPT", "PICK", "COUNT_CORRECTION"]),
            }
            evt = build("InventoryAdjusted", data, source="wms/fault")
            kind, key = "inventory", sku
        elif roll < 0.72:
            oid = f"SO-{rng.randrange(entities):05d}"
            step = order_steps.get(oid, -1)
            if step >= len(SAGA):
                continue
            if step == -1:
                data = {
                    "order_id": oid,
                    "customer": "C",
                    "due_at": "2099-01-01T00:00:00Z",
                    "lines": [{"sku": "SKU-0001", "qty": 1 + int(oid[3:]) % 3}],
                }
                evt = build("OrderCreated", data, source="wms/fault")
            else:
                evt = build(SAGA[step], {"order_id": oid}, source="wms/fault")
            order_steps[oid] = step + 1
            kind, key = "outbound", oid
        elif roll < 0.75:
            machine = rng.randrange(4)  # readings are judged in their machine's status: kept apart
            step = machine_steps.get(machine, 0)
            machine_steps[machine] = step + 1
            status = MACHINE_STATUSES[step % len(MACHINE_STATUSES)]
            data = {"equipment_id": f"M-{machine:02d}", "status": status, "line_id": f"L{machine % 3}"}
            if status == "DOWN":
                data["reason"] = rng.choice(["jam", "tooling"])
            evt = build("EquipmentStatusChanged", data, source="mes/fault")
            kind, key = "equipment", data["equipment_id"]
        else:
            machine = 4 + rng.randrange(MACHINES - 4)
            sensor = rng.choice(sorted(SENSORS))
            index = readings.get((machine, sensor), 0)
            readings[(machine, sensor)] = index + 1
            data = {
                "equipment_id": f"M-{machine:02d}",
                "sensor": sensor,
                "value": _reading(machine, sensor, index, rng),
                "unit": SENSORS[sensor][1],
            }
            evt = build("SensorReading", data, source="iot/fault")
            kind, key = "sensors", data["equipment_id"]
        record = (kind, key, json.dumps(evt).encode())
        out.append(record)
        duplicate = rng.random()
        if duplicate < 0.05:
            out.append(record)  # redelivered at once
        elif duplicate < 0.1:
            resend.append((len(out) + rng.randint(50, 500), record))  # a producer retry, later
            resend.sort(key=lambda item: item[0])
        if kind == "work_orders" and qrng.random() < 0.3:
            checked = inspection(None if qrng.random() < 0.1 else key, f"L{int(key[3:]) % 7}")
            out.append(checked)
            if qrng.random() < 0.1:
                out.append(checked)  # redelivered
    return _with_acknowledgements(out, seed)


def _with_acknowledgements(stream: list[Record], seed: int) -> list[Record]:
    """A supervisor acknowledges each THRESHOLD alert (one acknowledgement per alert) 5 s after it
    opened, on the command topic, 1 to 200 records after the reading that opened it; some are
    redelivered. Alert ids are deterministic (machine, sensor, kind, opening reading's time)."""
    arng = random.Random(seed * 11 + 5)  # drawn apart: the other kinds stay as they were
    opening = {opened: alert_id for alert_id, _, _, opened, _ in threshold_alerts(stream)}
    out: list[Record] = []
    due: list[tuple[int, Record]] = []
    for record in stream:
        out.append(record)
        while due and due[0][0] <= len(out):
            out.append(due.pop(0)[1])
        if record[0] != "sensors":
            continue
        evt = json.loads(record[2])
        opened_ms = event_ms(evt["time"])
        alert_id = opening.pop(opened_ms, None)
        if alert_id is None or not alert_id.startswith(evt["data"]["equipment_id"] + "."):
            continue
        data = {
            "alert_id": alert_id,
            "equipment_id": evt["data"]["equipment_id"],
            "user": "sam",
            "note": "seen",
        }
        ack = event(
            "AlertAcknowledged",
            data,
            source="hmi/fault",
            event_id=f"a{seed}-{alert_id}",
            offset_s=(opened_ms - T0.timestamp() * 1000) / 1000 + 5,
        )
        command = ("alerts", alert_id, json.dumps(ack).encode())
        at = len(out) + arng.randint(1, 200)
        due.extend([(at, command), (at + 1, command)] if arng.random() < 0.5 else [(at, command)])
        due.sort(key=lambda item: item[0])
    out.extend(record for _, record in due)
    return out


def topic_for(settings: Any, kind: str) -> str:
    return {
        "work_orders": settings.topic_work_orders,
        "inventory": settings.topic_inventory,
        "outbound": settings.topic_outbound,
        "equipment": settings.topic_equipment,
        "sensors": settings.topic_sensors,
        "quality": settings.topic_quality,
        "alerts": settings.topic_alert_commands,
    }[kind]
