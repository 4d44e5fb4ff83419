"""Each store handler on an in-memory SQLite store: envelopes in, rows and change marks out.

The expected rows are worked out by hand from the events (times are offsets from T0 in ms), not
from the folds, so a handler that loads, upserts, appends, counts or marks wrongly shows here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict
from typing import Any

import pytest
from sqlalchemy import Engine, StaticPool, create_engine, select
from sqlalchemy.dialects import sqlite

from shopfloor.events.codec import decode
from shopfloor.events.envelope import Envelope
from shopfloor.store import alerts, equipment, inventory, lines, outbound, sensors, work_orders
from shopfloor.store.changes import Changes, Handler
from shopfloor.store.db import create_schema, upsert
from shopfloor.store.registry import TABLES
from tests.support import T0, encode, event, wo

T0_MS = int(T0.timestamp() * 1000)


@pytest.fixture
def engine() -> Iterator[Engine]:
    engine = create_engine("sqlite://", poolclass=StaticPool)
    assert isinstance(engine.dialect, sqlite.dialect)
    create_schema(engine, TABLES)
    yield engine
    engine.dispose()


def env(event_type: str, data: dict[str, Any], offset_s: float, **kw: Any) -> Envelope:
    return decode(*encode(event(event_type, data, offset_s=offset_s, **kw)))


def apply(engine: Engine, handler: Handler, events: Sequence[Envelope]) -> Changes:
    """One batch of one handler in its own transaction, as the projector applies it."""
    changes = Changes()
    with engine.begin() as conn:
        handler.apply(conn, list(events), changes)
    return changes


def rows(engine: Engine, table: Any, *columns: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(select(*(table.c[c] for c in columns))))


def test_work_orders_upsert_state_append_history_and_bump_counts(engine: Engine) -> None:
    handler = work_orders.WorkOrderHandler()
    first = apply(
        engine,
        handler,
        [
            env("WorkOrderStatusChanged", wo("WO-1", "PLANNED", line="L1", product="pump"), 0),
            env("WorkOrderStatusChanged", wo("WO-2", "PLANNED", line="L2"), 30),
            env("WorkOrderStatusChanged", wo("WO-1", "RELEASED", line=None), 60),
            env("WorkOrderStatusChanged", wo("WO-1", "RELEASED", line=None, quantity_done=5), 90),
        ],
    )
    assert first.keys == {"work-orders": {"WO-1", "WO-2"}}
    assert first.oldest_event_ms == {"work-orders": T0_MS}
    columns = ("work_order_id", "status", "line_id", "product", "quantity_done", "created_ms")
    columns += ("updated_ms", "status_since_ms", "history_count")
    assert rows(engine, work_orders.ORDERS, *columns) == [
        ("WO-1", "RELEASED", "L1", "pump", 5, T0_MS, T0_MS + 90_000, T0_MS + 60_000, 2),
        ("WO-2", "PLANNED", "L2", None, None, T0_MS + 30_000, T0_MS + 30_000, T0_MS + 30_000, 1),
    ]
    history = ("work_order_id", "position", "status", "previous_status", "at_ms")
    assert rows(engine, work_orders.HISTORY, *history) == [
        ("WO-1", 0, "PLANNED", None, T0_MS),
        ("WO-1", 1, "RELEASED", "PLANNED", T0_MS + 60_000),
        ("WO-2", 0, "PLANNED", None, T0_MS + 30_000),
    ]
    # WO-1 entered and left L1/PLANNED in the same batch: that cell nets to nothing
    assert rows(engine, work_orders.COUNTS, "line_id", "status", "count") == [
        ("L1", "RELEASED", 1),
        ("L2", "PLANNED", 1),
    ]
    second = apply(engine, handler, [env("WorkOrderStatusChanged", wo("WO-2", "RELEASED", line=None), 120)])
    assert second.keys == {"work-orders": {"WO-2"}}
    assert rows(engine, work_orders.COUNTS, "line_id", "status", "count") == [
        ("L1", "RELEASED", 1),
        ("L2", "PLANNED", 0),
        ("L2", "RELEASED", 1),
    ]
    with engine.connect() as conn:
        assert work_orders.line_counts(conn) == {"L1": {"RELEASED": 1}, "L2": {"RELEASED": 1}}
        assert [h["status"] for h in work_orders.get_history(conn, "WO-2")] == ["PLANNED", "RELEASED"]


def test_outbound_orders_keep_stage_and_timeline_across_batches(engine: Engine) -> None:
    handler = outbound.OutboundHandler()
    lines_ = [{"sku": "A", "qty": 3}, {"sku": "B", "qty": 2}]
    first = apply(
        engine,
        handler,
        [
            env("OrderCreated", {"order_id": "O-1", "customer": "acme", "lines": lines_}, 0),
            env("PickCompleted", {"order_id": "O-1"}, 100),
        ],
    )
    assert first.keys == {"outbound": {"O-1"}}
    apply(engine, handler, [env("PaymentProcessed", {"order_id": "O-1", "amount": 12.5}, 50)])
    columns = ("order_id", "stage", "stage_since_ms", "customer", "line_count", "units", "amount")
    columns += ("created_ms", "paid_ms", "picked_ms", "inferred", "out_of_order", "event_count")
    times = (T0_MS, T0_MS + 50_000, T0_MS + 100_000)  # created, paid (out of order), picked
    assert rows(engine, outbound.ORDERS, *columns) == [
        ("O-1", "PICKED", T0_MS + 100_000, "acme", 2, 5, 12.5, *times, "", "PAID", 3),
    ]
    assert rows(engine, outbound.STEPS, "order_id", "position", "event_type", "stage", "note") == [
        ("O-1", 0, "OrderCreated", "CREATED", ""),
        ("O-1", 1, "PickCompleted", "PICKED", "skipped ahead: PAID inferred"),
        ("O-1", 2, "PaymentProcessed", "PAID", "out of order"),
    ]


def test_equipment_status_marks_tiles_and_keeps_line_and_reason(engine: Engine) -> None:
    handler = equipment.EquipmentHandler()
    changes = apply(
        engine,
        handler,
        [
            env("EquipmentStatusChanged", {"equipment_id": "M-1", "status": "RUNNING", "line_id": "L1"}, 0),
            env("EquipmentStatusChanged", {"equipment_id": "M-2", "status": "IDLE"}, 5),
            env("EquipmentStatusChanged", {"equipment_id": "M-1", "status": "DOWN", "reason": "jam"}, 10),
        ],
    )
    assert changes.keys == {"equipment": {"eq:M-1", "eq:M-2"}}
    apply(engine, handler, [env("EquipmentStatusChanged", {"equipment_id": "M-1", "status": "DOWN"}, 20)])
    columns = ("equipment_id", "line_id", "status", "reason", "status_since_ms", "updated_ms")
    assert rows(engine, equipment.EQUIPMENT, *columns) == [
        ("M-1", "L1", "DOWN", "jam", T0_MS + 10_000, T0_MS + 20_000),
        ("M-2", "unassigned", "IDLE", None, T0_MS + 5_000, T0_MS + 5_000),
    ]


def test_line_handlers_record_facts_on_the_line_each_belonged_to(engine: Engine) -> None:
    machines = apply(
        engine,
        lines.LineMachineHandler(),
        [
            env("EquipmentStatusChanged", {"equipment_id": "M-1", "status": "DOWN", "line_id": "L1"}, 0),
            env("EquipmentStatusChanged", {"equipment_id": "M-1", "status": "RUNNING"}, 60),
        ],
    )
    assert machines.keys == {"lines": {"L1"}}
    assert rows(engine, lines.CHANGES, "equipment_id", "line_id", "at_ms", "status") == [
        ("M-1", "L1", T0_MS, "DOWN"),
        ("M-1", "L1", T0_MS + 60_000, "RUNNING"),
    ]
    assert rows(engine, lines.MACHINES, "equipment_id", "line_id") == [("M-1", "L1")]
    first = wo("WO-1", "IN_PROGRESS", line="L2", quantity_planned=100, quantity_done=10, ideal_cycle_s=30)
    orders = apply(
        engine,
        lines.LineOrderHandler(),
        [
            env("WorkOrderStatusChanged", first, 0),
            env("WorkOrderStatusChanged", wo("WO-1", "IN_PROGRESS", line=None, quantity_done=20), 60),
        ],
    )
    assert orders.keys == {"lines": {"L2"}}
    assert rows(
        engine, lines.PROGRESS, "work_order_id", "line_id", "at_ms", "done", "scrap", "ideal_cycle_s"
    ) == [
        ("WO-1", "L2", T0_MS, 10, 0, 30.0),
        ("WO-1", "L2", T0_MS + 60_000, 20, 0, 30.0),
    ]
    columns = ("work_order_id", "line_id", "status", "done", "scrap", "quantity_planned", "ideal_cycle_s")
    assert rows(engine, lines.ORDERS, *columns) == [("WO-1", "L2", "IN_PROGRESS", 20, 0, 100, 30.0)]


def test_inventory_levels_totals_and_location_counts(engine: Engine) -> None:
    handler = inventory.InventoryHandler()

    def adjusted(sku: str, location: str, delta: int, reason: str, at: float) -> Envelope:
        return env(
            "InventoryAdjusted", {"sku": sku, "location": location, "delta": delta, "reason": reason}, at
        )

    changes = apply(
        engine,
        handler,
        [
            adjusted("A", "L-1", 10, "RECEIPT", 0),
            adjusted("A", "L-2", 5, "RECEIPT", 10),
            adjusted("A", "L-1", -3, "PICK", 20),
        ],
    )
    assert changes.keys == {"inventory": {inventory.stock_key("A", "L-1"), inventory.stock_key("A", "L-2")}}
    apply(engine, handler, [adjusted("B", "L-1", 4, "RECEIPT", 30)])
    columns = ("sku", "location", "on_hand", "last_reason", "last_delta", "adjustments", "updated_ms")
    assert rows(engine, inventory.STOCK, *columns) == [
        ("A", "L-1", 7, "PICK", -3, 2, T0_MS + 20_000),
        ("A", "L-2", 5, "RECEIPT", 5, 1, T0_MS + 10_000),
        ("B", "L-1", 4, "RECEIPT", 4, 1, T0_MS + 30_000),
    ]
    assert rows(engine, inventory.TOTALS, "sku", "on_hand", "locations", "updated_ms") == [
        ("A", 12, 2, T0_MS + 20_000),
        ("B", 4, 1, T0_MS + 30_000),
    ]
    # a location already listed gains the second batch's new SKU
    assert rows(engine, inventory.LOCATIONS, "location", "skus") == [("L-1", 2), ("L-2", 1)]


def test_sensor_readings_become_latest_values_buckets_and_machine_tiles(engine: Engine) -> None:
    def reading(value: float, at: float) -> Envelope:
        return env("SensorReading", {"equipment_id": "M-9", "sensor": "probe", "value": value}, at)

    changes = apply(engine, sensors.SensorHandler(), [reading(10, 0), reading(20, 0.5), reading(30, 1.2)])
    assert changes.keys["sensors"] == {"M-9"}
    assert changes.keys["equipment"] == {"eq:M-9"}  # first heard of through its sensor
    assert changes.oldest_event_ms["sensors"] == T0_MS
    assert rows(engine, sensors.LATEST, "equipment_id", "sensor", "value", "at_ms", "readings") == [
        ("M-9", "probe", 30.0, T0_MS + 1200, 3),
    ]
    bucket = ("bucket_ms", "n", "vsum", "vmin", "vmax")
    assert rows(engine, sensors.SECONDS, *bucket) == [
        (T0_MS, 2, 30.0, 10.0, 20.0),
        (T0_MS + 1000, 1, 30.0, 30.0, 30.0),
    ]
    assert rows(engine, sensors.MINUTES, *bucket) == [(T0_MS, 3, 60.0, 10.0, 30.0)]
    assert rows(engine, equipment.EQUIPMENT, "equipment_id", "line_id", "status", "status_since_ms") == [
        ("M-9", "unassigned", "UNKNOWN", T0_MS),
    ]
    apply(engine, sensors.SensorHandler(), [reading(50, 1.5)])  # merges into the stored buckets
    assert rows(engine, sensors.SECONDS, *bucket)[-1] == (T0_MS + 1000, 2, 80.0, 30.0, 50.0)
    assert rows(engine, sensors.LATEST, "value", "readings") == [(50.0, 4)]


def test_alert_commands_journal_every_command_and_change_known_alerts(engine: Engine) -> None:
    standing = alerts.Alert(
        alert_id="M-1.temp.threshold.1",
        equipment_id="M-1",
        sensor="temp",
        kind="THRESHOLD",
        severity="CRITICAL",
        state="OPEN",
        active=True,
        opened_ms=T0_MS,
        updated_ms=T0_MS,
        value=99.0,
    )
    with engine.begin() as conn:
        upsert(conn, alerts.ALERTS, [asdict(standing)], ["alert_id"])
    ack = {"alert_id": standing.alert_id, "equipment_id": "M-1", "user": "sam", "note": "on it"}
    unknown = {"alert_id": "M-2.temp.threshold.5", "user": "sam"}
    changes = apply(
        engine,
        alerts.AlertCommandHandler(),
        [env("AlertAcknowledged", ack, 60), env("AlertAcknowledged", unknown, 70)],
    )
    assert changes.keys == {
        "equipment": {f"alert:{standing.alert_id}", "alert:M-2.temp.threshold.5", "eq:M-1"},
    }
    assert rows(engine, alerts.ALERTS, "alert_id", "state", "active", "acked_ms", "acked_by", "note") == [
        (standing.alert_id, "ACKED", True, T0_MS + 60_000, "sam", "on it"),
    ]
    assert rows(engine, alerts.JOURNAL, "alert_id", "action", "user", "at_ms") == [
        ("M-1.temp.threshold.1", "ACKNOWLEDGE", "sam", T0_MS + 60_000),
        ("M-2.temp.threshold.5", "ACKNOWLEDGE", "sam", T0_MS + 70_000),
    ]
