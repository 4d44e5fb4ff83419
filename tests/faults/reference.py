"""What the read models must hold after a stream, computed without the projector or the store.

A deliberately plain model over the DISTINCT events of a `streams.mixed_stream` (first delivery of
each (source, id) wins; a work-order update with a lower sequence than the last applied one is
stale). It knows the stream's shape (each saga in order, machine statuses that always change), so
each rule is a line or two. Compared per table on the columns listed in COLUMNS; the columns left out
are named there with the reason.

Two exceptions use the project's own pure functions, because re-deriving them here would be a
second detector: the sensor detector state (`sensor_latest.detector`) and the alerts of every kind
come from one pass of `anomaly.fold` and `alerts.apply_signal` over each sensor's distinct readings,
all at once (no batches, no store). THRESHOLD alerts are also derived here independently (five
readings above the limit open one, ten below limit - 3 % clear it), so the alerts table has an
oracle that does not share code with the projection.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlmodel import SQLModel

import shopfloor.store.registry  # noqa: F401  (registers every table)
from shopfloor import alarm_config
from shopfloor.projections import alerts as alert_fold
from shopfloor.projections import anomaly

Rows = dict[str, list[tuple[Any, ...]]]

# Per table, the columns compared. Left out: correlation ids, warehouse, operator, product and the like
# (never set by this stream, so always NULL: nothing to learn); equipment.updated_ms (depends on
# whether a machine's first reading or first status event is applied first, which two topics do not
# order).
COLUMNS: dict[str, tuple[str, ...]] = {
    "work_orders": (
        "work_order_id",
        "status",
        "line_id",
        "quantity_done",
        "created_ms",
        "updated_ms",
        "status_since_ms",
        "history_count",
    ),
    "work_order_history": ("work_order_id", "position", "status", "previous_status", "at_ms", "event_id"),
    "work_order_counts": ("line_id", "status", "count"),
    "entity_versions": ("stream", "entity_id", "sequence"),
    "inventory_stock": (
        "sku",
        "location",
        "on_hand",
        "last_reason",
        "last_delta",
        "last_event_id",
        "updated_ms",
        "adjustments",
    ),
    "inventory_totals": ("sku", "on_hand", "locations", "updated_ms"),
    "inventory_locations": ("location", "skus"),
    "outbound_orders": (
        "order_id",
        "stage",
        "stage_since_ms",
        "line_count",
        "units",
        "due_ms",
        "created_ms",
        "paid_ms",
        "picked_ms",
        "dispatched_ms",
        "delivered_ms",
        "inferred",
        "out_of_order",
        "first_ms",
        "updated_ms",
        "event_count",
    ),
    "outbound_order_steps": ("order_id", "position", "event_type", "stage", "at_ms", "event_id", "note"),
    "equipment": ("equipment_id", "line_id", "status", "reason", "status_since_ms"),
    "sensor_latest": ("equipment_id", "sensor", "value", "unit", "at_ms", "readings", "detector"),
    "sensor_buckets_1s": ("equipment_id", "sensor", "bucket_ms", "n", "vsum", "vmin", "vmax"),
    "sensor_buckets_1m": ("equipment_id", "sensor", "bucket_ms", "n", "vsum", "vmin", "vmax"),
    "line_machines": ("equipment_id", "line_id"),
    "line_machine_changes": ("event_id", "equipment_id", "line_id", "at_ms", "status", "reason"),
    "line_orders": (
        "work_order_id",
        "line_id",
        "status",
        "done",
        "scrap",
        "quantity_planned",
        "ideal_cycle_s",
        "due_ms",
    ),
    "line_progress": ("event_id", "work_order_id", "line_id", "at_ms", "done", "scrap", "ideal_cycle_s"),
    "alerts": tuple(c.name for c in SQLModel.metadata.tables["alerts"].c),
    "alarm_notes": ("equipment_id", "sensor", "kind", "at_ms", "active", "value"),
    "alert_journal": tuple(c.name for c in SQLModel.metadata.tables["alert_journal"].c),
    "quality_inspections": (
        "inspection_id",
        "work_order_id",
        "line_id",
        "result",
        "defects",
        "defect_units",
        "inspector",
        "at_ms",
        "event_id",
    ),
    "quality_work_orders": (
        "work_order_id",
        "line_id",
        "first_inspection_id",
        "first_at_ms",
        "first_result",
        "latest_inspection_id",
        "latest_at_ms",
        "latest_result",
        "inspections",
        "passed",
        "failed",
        "reworked",
    ),
    "quality_line_results": ("line_id", "result", "count"),
    "quality_defects": ("line_id", "code", "count"),
}
# Bookkeeping and security tables: no read model (wall-clock stamps, offsets, generated ids).
NOT_READ_MODELS = {
    "applied_events",
    "consumer_positions",
    "dead_letters",
    "store_version",
    "audit_log",
    "auth_sessions",
    "kiosk_links",
    "rebuild_progress",
    "store_identity",
    "alarm_notifications",
    "users",  # a rebuild's bookkeeping (registered once any test imports shopfloor.rebuild)
}
STAGE_OF = {
    "OrderCreated": ("CREATED", "created_ms"),
    "PaymentProcessed": ("PAID", "paid_ms"),
    "PickCompleted": ("PICKED", "picked_ms"),
    "ShipmentDispatched": ("DISPATCHED", "dispatched_ms"),
    "DeliveryCompleted": ("DELIVERED", "delivered_ms"),
}
LIMITS = {"temperature": 95.0, "vibration": 7.1}
THRESHOLD_RAISE, THRESHOLD_CLEAR, DEADBAND = 5, 10, 0.03
SECOND_MS, MINUTE_MS = 1000, 60_000
KEEP_SECONDS_MS, KEEP_MINUTES_MS, PRUNE_STEP_MS = 10 * MINUTE_MS, 12 * 60 * MINUTE_MS, 10_000


def event_ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def distinct(stream: Iterable[tuple[str, str, bytes]]) -> list[dict[str, Any]]:
    """Each event once, in stream order (the first delivery of its (source, id))."""
    seen: set[tuple[str, str]] = set()
    out = []
    for _, _, value in stream:
        evt = json.loads(value)
        if (evt["source"], evt["id"]) not in seen:
            seen.add((evt["source"], evt["id"]))
            out.append(evt)
    return out


def expected(stream: Iterable[tuple[str, str, bytes]]) -> Rows:
    events = distinct(stream)
    tables: dict[str, dict[Any, tuple[Any, ...]]] = {name: {} for name in COLUMNS}
    _work_orders(events, tables)
    _inventory(events, tables)
    _outbound(events, tables)
    _equipment_and_sensors(events, tables)
    _lines(events, tables)
    _quality(events, tables)
    _alert_commands(events, tables)
    return {name: sorted(rows.values(), key=repr) for name, rows in tables.items()}


def _work_orders(events: list[dict[str, Any]], t: dict[str, dict[Any, tuple[Any, ...]]]) -> None:
    orders: dict[str, dict[str, Any]] = {}
    for evt in events:
        if evt["type"] != "WorkOrderStatusChanged":
            continue
        d, at, seq = evt["data"], event_ms(evt["time"]), int(evt["sequence"])
        wid = d["work_order_id"]
        o = orders.get(wid)
        if o is not None and seq < o["seq"]:
            continue  # stale
        if o is None:
            o = orders[wid] = {"line": d["line_id"], "status": None, "created": at, "history": []}
        o["seq"] = seq
        o["updated"] = max(o.get("updated", at), at)
        o["done"] = d.get("quantity_done", o.get("done"))
        if d["status"] != o["status"]:
            o["history"].append((d["status"], o["status"], at, evt["id"]))
            o["status"], o["since"] = d["status"], at
    counts: dict[tuple[str, str], int] = {}
    for wid, o in orders.items():
        t["work_orders"][wid] = (
            wid,
            o["status"],
            o["line"],
            o["done"],
            o["created"],
            o["updated"],
            o["since"],
            len(o["history"]),
        )
        for pos, (status, previous, at, event_id) in enumerate(o["history"]):
            t["work_order_history"][(wid, pos)] = (wid, pos, status, previous, at, event_id)
        t["entity_versions"][wid] = ("work_order", wid, o["seq"])
        counts[(o["line"], o["status"])] = counts.get((o["line"], o["status"]), 0) + 1
    for (line, status), n in counts.items():
        t["work_order_counts"][(line, status)] = (line, status, n)


def _lines(events: list[dict[str, Any]], t: dict[str, dict[Any, tuple[Any, ...]]]) -> None:
    """Plan-vs-actual facts: every status change of a machine and every applied work-order update,
    with the order's cumulative counts carried forward when an update leaves them out."""
    seqs: dict[str, int] = {}
    for evt in events:
        d, at = evt["data"], event_ms(evt["time"])
        if evt["type"] == "EquipmentStatusChanged":
            eq, line = d["equipment_id"], d["line_id"]
            t["line_machines"][eq] = (eq, line)
            t["line_machine_changes"][evt["id"]] = (evt["id"], eq, line, at, d["status"], d.get("reason"))
        elif evt["type"] == "WorkOrderStatusChanged":
            wid, seq = d["work_order_id"], int(evt["sequence"])
            if wid in seqs and seq < seqs[wid]:
                continue  # stale
            seqs[wid] = seq
            old = t["line_orders"].get(wid, (wid, None, None, 0, 0, None, None, None))
            done = d.get("quantity_done", old[3])
            scrap = d.get("quantity_scrap", old[4])
            line = d.get("line_id") or old[1]
            t["line_orders"][wid] = (wid, line, d["status"], done, scrap, None, None, None)
            t["line_progress"][evt["id"]] = (evt["id"], wid, line, at, done, scrap, None)


def _quality(events: list[dict[str, Any]], t: dict[str, dict[Any, tuple[Any, ...]]]) -> None:
    """Each inspection once; per order, its inspections sorted by (time, id) give first and latest;
    per line the results and defect units summed (the stream never repeats a code in one event)."""
    per_order: dict[str, list[tuple[int, str, str, str]]] = {}
    results: dict[tuple[str, str], int] = {}
    defects: dict[tuple[str, str], int] = {}
    for evt in events:
        if evt["type"] != "InspectionRecorded" or evt["data"]["inspection_id"] in t["quality_inspections"]:
            continue
        d, at = evt["data"], event_ms(evt["time"])
        qid, wid, line, result = d["inspection_id"], d.get("work_order_id"), d["line_id"], d["result"]
        found = d.get("defects", [])
        units = sum(x["count"] for x in found)
        text = json.dumps([{"code": x["code"], "count": x["count"]} for x in found], separators=(",", ":"))
        t["quality_inspections"][qid] = (qid, wid, line, result, text, units, d["inspector"], at, evt["id"])
        if wid is not None:
            per_order.setdefault(wid, []).append((at, qid, result, line))
        results[(line, result)] = results.get((line, result), 0) + 1
        for x in found:
            defects[(line, x["code"])] = defects.get((line, x["code"]), 0) + x["count"]
    for wid, seen in per_order.items():
        seen.sort()
        (f_at, f_id, f_result, f_line), (l_at, l_id, l_result, _) = seen[0], seen[-1]
        tally = [sum(1 for s in seen if s[2] == r) for r in ("PASS", "FAIL", "REWORK")]
        row = (wid, f_line, f_id, f_at, f_result, l_id, l_at, l_result, len(seen), *tally)
        t["quality_work_orders"][wid] = row
    for (line, result), n in results.items():
        t["quality_line_results"][(line, result)] = (line, result, n)
    for (line, code), n in defects.items():
        t["quality_defects"][(line, code)] = (line, code, n)


def _inventory(events: list[dict[str, Any]], t: dict[str, dict[Any, tuple[Any, ...]]]) -> None:
    stock: dict[tuple[str, str], list[Any]] = {}
    for evt in events:
        if evt["type"] != "InventoryAdjusted":
            continue
        d, at = evt["data"], event_ms(evt["time"])
        row = stock.setdefault((d["sku"], d["location"]), [0, None, None, None, 0, 0])
        row[0] += d["delta"]
        row[1:4] = d["reason"], d["delta"], evt["id"]  # times rise through the stream: newest is last
        row[4] = at
        row[5] += 1
    totals: dict[str, list[int]] = {}
    locations: dict[str, int] = {}
    for (sku, loc), (on_hand, reason, delta, event_id, at, n) in stock.items():
        t["inventory_stock"][(sku, loc)] = (sku, loc, on_hand, reason, delta, event_id, at, n)
        total = totals.setdefault(sku, [0, 0, 0])
        total[0] += on_hand
        total[1] += 1
        total[2] = max(total[2], at)
        locations[loc] = locations.get(loc, 0) + 1
    for sku, (on_hand, n, at) in totals.items():
        t["inventory_totals"][sku] = (sku, on_hand, n, at)
    for loc, n in locations.items():
        t["inventory_locations"][loc] = (loc, n)


def _outbound(events: list[dict[str, Any]], t: dict[str, dict[Any, tuple[Any, ...]]]) -> None:
    orders: dict[str, dict[str, Any]] = {}
    for evt in events:
        if evt["type"] not in STAGE_OF:
            continue
        d, at = evt["data"], event_ms(evt["time"])
        stage, field = STAGE_OF[evt["type"]]
        o = orders.setdefault(d["order_id"], {"steps": [], "first": at})
        if evt["type"] == "OrderCreated":
            o["lines"], o["units"], o["due"] = len(d["lines"]), sum(x["qty"] for x in d["lines"]), d["due_at"]
        o["stage"], o["since"], o[field], o["updated"] = stage, at, at, at
        o["steps"].append((evt["type"], stage, at, evt["id"]))
    for oid, o in orders.items():
        t["outbound_orders"][oid] = (
            oid,
            o["stage"],
            o["since"],
            o["lines"],
            o["units"],
            event_ms(o["due"]),
            *(o.get(field) for _, field in STAGE_OF.values()),
            "",
            "",
            o["first"],
            o["updated"],
            len(o["steps"]),
        )
        for pos, (event_type, stage, at, event_id) in enumerate(o["steps"]):
            t["outbound_order_steps"][(oid, pos)] = (oid, pos, event_type, stage, at, event_id, "")


def _equipment_and_sensors(events: list[dict[str, Any]], t: dict[str, dict[Any, tuple[Any, ...]]]) -> None:
    machines: dict[str, tuple[str, str, str | None, int]] = {}  # line, status, reason, since
    first_reading: dict[str, int] = {}
    readings: dict[tuple[str, str], list[tuple[int, float, str]]] = {}
    for evt in events:
        d = evt["data"]
        if evt["type"] == "EquipmentStatusChanged":  # the stream's statuses always change
            machines[d["equipment_id"]] = (d["line_id"], d["status"], d.get("reason"), event_ms(evt["time"]))
        elif evt["type"] == "SensorReading":
            at = event_ms(evt["time"])
            first_reading.setdefault(d["equipment_id"], at)
            readings.setdefault((d["equipment_id"], d["sensor"]), []).append((at, d["value"], d["unit"]))
    for eq, at in first_reading.items():
        machines.setdefault(eq, ("unassigned", "UNKNOWN", None, at))
    for eq, (line, status, reason, since) in machines.items():
        t["equipment"][eq] = (eq, line, status, reason, since)
    newest = max((r[0] for rs in readings.values() for r in rs), default=0)
    by_machine: dict[str, dict[str, list[tuple[int, float, str]]]] = {}
    for (eq, sensor), rs in readings.items():
        by_machine.setdefault(eq, {})[sensor] = rs
    for eq, sensors in by_machine.items():
        # The stream's sensor machines report no status: their operating context is empty (UNKNOWN,
        # judged as running), so the detector's result does not hang on how two topics interleave.
        specs = {sensor: alarm_config.spec(eq, sensor) for sensor in sensors}
        now = max(r[0] for rs in sensors.values() for r in rs)
        points = {sensor: [(a, v) for a, v, _ in rs] for sensor, rs in sensors.items()}
        states, signals = anomaly.fold_machine({}, specs, points, (), now)
        for sensor, rs in sensors.items():
            at, value, unit = rs[-1]
            state = states[sensor]
            t["sensor_latest"][(eq, sensor)] = (eq, sensor, value, unit, at, len(rs), anomaly.to_json(state))
            for table, width, keep in (
                ("sensor_buckets_1s", SECOND_MS, KEEP_SECONDS_MS),
                ("sensor_buckets_1m", MINUTE_MS, KEEP_MINUTES_MS),
            ):
                cut = newest - keep
                cut -= cut % PRUNE_STEP_MS
                buckets: dict[int, list[float]] = {}
                for a, v, _ in rs:
                    if a >= cut:
                        b = buckets.setdefault(a - a % width, [])
                        b.append(v)
                for b, vs in buckets.items():
                    t[table][(eq, sensor, b)] = (eq, sensor, b, len(vs), sum(vs), min(vs), max(vs))
            mine = [signal for name, signal in signals if name == sensor]
            _alerts(eq, sensor, [x for x in mine if x.kind not in anomaly.NOTE_KINDS], t["alerts"])
            for x in mine:
                if x.kind in anomaly.NOTE_KINDS:
                    note = alert_fold.note_of(eq, sensor, x)
                    t["alarm_notes"][(eq, sensor, x.kind, x.at_ms)] = tuple(
                        getattr(note, c) for c in COLUMNS["alarm_notes"]
                    )


def _alert_commands(events: list[dict[str, Any]], t: dict[str, dict[Any, tuple[Any, ...]]]) -> None:
    """Each acknowledgement once in the journal; its alert names who and when, and reads ACKED unless
    it has cleared (a cleared alert stays CLEARED). The stream acknowledges each alert once, so which
    of two acknowledgements wins never comes up."""
    journal, alerts = COLUMNS["alert_journal"], COLUMNS["alerts"]
    for evt in events:
        if evt["type"] != "AlertAcknowledged":
            continue
        d, at = evt["data"], event_ms(evt["time"])
        key = f"{evt['source']}\x1f{evt['id']}"
        entry = {
            "event_key": key,
            "alert_id": d["alert_id"],
            "equipment_id": d.get("equipment_id"),
            "action": "ACKNOWLEDGE",
            "user": d.get("user"),
            "note": d.get("note"),
            "at_ms": at,
            "until_ms": None,
        }
        t["alert_journal"][key] = tuple(entry[c] for c in journal)
        row = t["alerts"].get(d["alert_id"])
        if row is not None:
            alert = dict(zip(alerts, row, strict=True))
            alert.update(acked_ms=at, acked_by=d.get("user"), note=d.get("note"))
            alert["state"] = "CLEARED" if alert["state"] == "CLEARED" else "ACKED"
            t["alerts"][d["alert_id"]] = tuple(alert[c] for c in alerts)


def _alerts(eq: str, sensor: str, signals: list[anomaly.Signal], out: dict[Any, tuple[Any, ...]]) -> None:
    """The pure alert fold over one pass of the detector's signals (see the module docstring)."""
    spec = alarm_config.spec(eq, sensor)
    current: dict[str, alert_fold.Alert] = {}
    for signal in signals:
        alert = alert_fold.apply_signal(current.get(signal.kind), eq, sensor, spec, signal)
        if alert is None:
            continue
        if alert.active:
            current[signal.kind] = alert
        else:
            current.pop(signal.kind, None)
        out[alert.alert_id] = tuple(getattr(alert, c) for c in COLUMNS["alerts"])


def threshold_alerts(stream: Iterable[tuple[str, str, bytes]]) -> list[tuple[Any, ...]]:
    """THRESHOLD alerts, by the plain rule: (alert_id, state, active, opened_ms, cleared_ms); one still
    open reads ACKED once acknowledged."""
    per_sensor: dict[tuple[str, str], list[tuple[int, float]]] = {}
    acked: set[str] = set()
    for evt in distinct(stream):
        if evt["type"] == "AlertAcknowledged":
            acked.add(evt["data"]["alert_id"])
        elif evt["type"] == "SensorReading" and evt["data"]["sensor"] in LIMITS:
            d = evt["data"]
            per_sensor.setdefault((d["equipment_id"], d["sensor"]), []).append(
                (event_ms(evt["time"]), d["value"])
            )
    found = []
    for (eq, sensor), rs in per_sensor.items():
        limit = LIMITS[sensor]
        above = below = 0
        opened: int | None = None
        for at, value in rs:
            above = above + 1 if value > limit else 0
            below = below + 1 if value < limit * (1 - DEADBAND) else 0
            if opened is None and above == THRESHOLD_RAISE:
                opened = at
            elif opened is not None and below == THRESHOLD_CLEAR:
                found.append((f"{eq}.{sensor}.threshold.{opened}", "CLEARED", False, opened, at))
                opened = None
        if opened is not None:
            alert_id = f"{eq}.{sensor}.threshold.{opened}"
            found.append((alert_id, "ACKED" if alert_id in acked else "OPEN", True, opened, None))
    return sorted(found)


def observed(engine: Engine) -> Rows:
    """The same columns read from the store; a read-model table the oracle does not know is an error."""
    out: Rows = {}
    with engine.connect() as conn:
        for name, table in sorted(SQLModel.metadata.tables.items()):
            if name in NOT_READ_MODELS:
                continue
            columns = COLUMNS.get(name)
            if columns is None:
                raise AssertionError(f"table {name} is a read model the reference model does not cover")
            rows = [tuple(r) for r in conn.execute(select(*[table.c[c] for c in columns]))]
            if name == "work_order_counts":  # a count back at 0 may or may not keep its row
                rows = [r for r in rows if r[-1]]
            if name == "alerts":
                active = columns.index("active")
                rows = [(*r[:active], bool(r[active]), *r[active + 1 :]) for r in rows]
            out[name] = sorted(rows, key=repr)
    return out


def observed_threshold_alerts(engine: Engine) -> list[tuple[Any, ...]]:
    table = SQLModel.metadata.tables["alerts"]
    columns = [table.c[c] for c in ("alert_id", "state", "active", "opened_ms", "cleared_ms")]
    with engine.connect() as conn:
        rows = conn.execute(select(*columns).where(table.c.kind == "THRESHOLD"))
        return sorted((a, s, bool(act), o, c) for a, s, act, o, c in rows)


def differences(want: Rows, got: Rows) -> list[str]:
    """Per table that differs: row counts and a sample of rows only one side has."""
    out = []
    for name in sorted(set(want) | set(got)):
        left, right = want.get(name, []), got.get(name, [])
        if left != right:
            missing = [r for r in left if r not in right]
            extra = [r for r in right if r not in left]
            out.append(
                f"{name}: expected {len(left)} rows, store has {len(right)}; {len(missing)} expected rows "
                f"missing (e.g. {missing[:2]}), {len(extra)} unexpected (e.g. {extra[:2]})"
            )
    return out


def check(engine: Engine, stream: list[tuple[str, str, bytes]]) -> list[str]:
    """Every difference between the store and the reference model; empty when they agree."""
    problems = differences(expected(stream), observed(engine))
    want, got = threshold_alerts(stream), observed_threshold_alerts(engine)
    if want != got:
        problems.append(f"THRESHOLD alerts (independent rule): expected {want}, store has {got}")
    return problems


def coverage(want: Rows) -> dict[str, int]:
    """Rows per table the reference expects: a comparison of empty tables proves nothing."""
    return {name: len(rows) for name, rows in want.items()}
