"""The Quix Streams side of the ingest benchmark; runs in its own virtualenv (see bench/ingest.py).

Quix Streams 3.28.1 pins pydantic < 2.14 and pydantic-settings < 2.16, which shopfloor's pins
exclude, so it cannot share shopfloor's environment. This script imports nothing from the shopfloor
package; the `same` work loads shopfloor's anomaly detector (a pure module: the stdlib and msgspec)
by path, so both sides run the identical detector.

`python quix_job.py --bootstrap HOST:PORT --topic T --count N --projection P --work same|bare`
consumes N records from the beginning and prints one JSON line. Two kinds of work:

- `bare`: the latest value per key (work orders, sensors) or the sum per key (inventory) in Quix's
  RocksDB state store: the least a stream processor can do with these events.
- `same`: what shopfloor's projector does per event, kept in the state store: check the envelope
  and required fields, parse the event time, drop a duplicate (source, id) seen before (the ids
  stay in the store, as shopfloor's `applied_events`), drop a stale `sequence`, fold the full row
  (work order, stock level and SKU total, latest sensor value), append the status history entry
  (work orders), merge per-second and per-minute trend buckets and run the anomaly detector
  (sensors). Cross-key aggregates (work orders per line and status, locations per SKU) are left out:
  a keyed stream processor would need a second repartitioned stage for them.

Timing: `committed_s` runs from the first record processed until the checkpoint holding the last
one has committed (state flushed, changelog produced, offsets committed); Quix commits every 5 s
by default and once more when it stops, so that final commit is inside the span. `processing_s`
(first to last call of the processing function) is kept for comparison with earlier reports.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from quixstreams import Application, State

ANOMALY = Path(__file__).resolve().parent.parent / "shopfloor" / "projections" / "anomaly.py"
SECOND_MS, MINUTE_MS = 1000, 60_000


def _anomaly() -> Any:
    spec = importlib.util.spec_from_file_location("shopfloor_anomaly", ANOMALY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def _envelope(value: dict[str, Any], required: tuple[str, ...]) -> tuple[int, dict[str, Any]]:
    """Envelope and required fields present (shopfloor would dead-letter the record otherwise)."""
    for name in ("specversion", "id", "type", "source", "time", "data"):
        if not value.get(name):
            raise ValueError(f"missing {name}")
    data = value["data"]
    for name in required:
        if data.get(name) is None:
            raise ValueError(f"missing data.{name}")
    return _ms(value["time"]), data


def _first_time(value: dict[str, Any], state: State, at_ms: int) -> bool:
    key = f"seen:{value['source']}\x1f{value['id']}"
    if state.get(key) is not None:
        return False
    state.set(key, at_ms)
    return True


def same_work_order(value: dict[str, Any], state: State) -> None:
    at_ms, data = _envelope(value, ("work_order_id", "status"))
    if not _first_time(value, state, at_ms):
        return
    sequence = value.get("sequence")
    if sequence is not None:
        if int(sequence) < state.get("sequence", -1):
            return
        state.set("sequence", int(sequence))
    order = state.get("order")
    status = data["status"]
    if order is None:
        order = {"work_order_id": data["work_order_id"], "created_ms": at_ms, "status": None, "history": 0}
        order["line_id"] = data.get("line_id") or "unassigned"
        order["status_since_ms"] = at_ms
    changed = status != order["status"]
    if changed:
        entry = {"position": order["history"], "status": status, "previous": order["status"], "at_ms": at_ms}
        state.set(f"history:{order['history']:08d}", {**entry, "event_id": value["id"]})
        order["history"] += 1
        order["status_since_ms"] = at_ms
    for name in ("product", "quantity_planned", "quantity_done", "quantity_scrap", "operator", "reason"):
        if data.get(name) is not None:
            order[name] = data[name]
    order["status"] = status
    order["updated_ms"] = max(order.get("updated_ms", at_ms), at_ms)
    state.set("order", order)


def same_inventory(value: dict[str, Any], state: State) -> None:
    at_ms, data = _envelope(value, ("sku", "location", "delta", "reason"))
    if not _first_time(value, state, at_ms):
        return
    key = f"stock:{data['location']}"
    stock = state.get(key)
    total = state.get("total") or {"on_hand": 0, "locations": 0, "updated_ms": at_ms}
    if stock is None:
        stock = {"on_hand": 0, "adjustments": 0, "updated_ms": at_ms}
        total["locations"] += 1
    stock["on_hand"] += data["delta"]
    stock["adjustments"] += 1
    if at_ms >= stock["updated_ms"]:
        stock.update(last_reason=data["reason"], last_delta=data["delta"], last_event_id=value["id"])
    stock["updated_ms"] = max(stock["updated_ms"], at_ms)
    total["on_hand"] += data["delta"]
    total["updated_ms"] = max(total["updated_ms"], at_ms)
    state.set(key, stock)
    state.set("total", total)


def _bucket(state: State, key: str, value: float) -> None:
    cell = state.get(key)
    if cell is None:
        cell = [0, 0.0, value, value]
    cell[0] += 1
    cell[1] += value
    cell[2] = min(cell[2], value)
    cell[3] = max(cell[3], value)
    state.set(key, cell)


def same_sensor(anomaly: Any) -> Any:
    def apply(value: dict[str, Any], state: State) -> None:
        at_ms, data = _envelope(value, ("equipment_id", "sensor", "value"))
        if not _first_time(value, state, at_ms):
            return
        sensor, reading = data["sensor"], float(data["value"])
        latest = state.get(f"latest:{sensor}") or {"readings": 0, "at_ms": at_ms}
        if at_ms >= latest["at_ms"]:
            latest.update(value=reading, unit=data.get("unit"), at_ms=at_ms)
        latest["readings"] += 1
        detector, signals = anomaly.fold(
            anomaly.from_json(state.get(f"detector:{sensor}")), anomaly.spec_for(sensor), [(at_ms, reading)]
        )
        state.set(f"detector:{sensor}", anomaly.to_json(detector))
        for signal in signals:
            state.set(f"alert:{sensor}:{signal.kind}", [signal.at_ms, signal.active, signal.value])
        state.set(f"latest:{sensor}", latest)
        _bucket(state, f"1s:{sensor}:{at_ms - at_ms % SECOND_MS}", reading)
        _bucket(state, f"1m:{sensor}:{at_ms - at_ms % MINUTE_MS}", reading)

    return apply


def bare_latest_status(value: dict[str, Any], state: State) -> None:
    state.set("status", value["data"]["status"])


def bare_sum_delta(value: dict[str, Any], state: State) -> None:
    location = value["data"]["location"]
    state.set(location, state.get(location, 0) + value["data"]["delta"])


def bare_latest_value(value: dict[str, Any], state: State) -> None:
    state.set(value["data"]["sensor"], value["data"]["value"])


def operation(projection: str, work: str) -> Any:
    if work == "bare":
        return {
            "work_orders": bare_latest_status,
            "inventory": bare_sum_delta,
            "sensors": bare_latest_value,
        }[projection]
    if projection == "sensors":
        return same_sensor(_anomaly())
    return {"work_orders": same_work_order, "inventory": same_inventory}[projection]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--projection", required=True, choices=["work_orders", "inventory", "sensors"])
    parser.add_argument("--work", required=True, choices=["same", "bare"])
    args = parser.parse_args()
    marks: dict[str, Any] = {"n": 0, "first": None, "last": None, "committed": None, "commits": 0}
    apply = operation(args.projection, args.work)

    def timed(value: dict[str, Any], state: State) -> None:
        apply(value, state)
        now = time.perf_counter()
        if marks["first"] is None:
            marks["first"] = now
        marks["last"] = now
        marks["n"] += 1

    with tempfile.TemporaryDirectory(prefix="quix-state-") as state_dir:
        app = Application(
            broker_address=args.bootstrap,
            consumer_group=f"bench-quix-{uuid.uuid4().hex[:8]}",
            auto_offset_reset="earliest",
            state_dir=state_dir,
            loglevel=logging.WARNING,
        )
        context = app._processing_context  # the one object that knows when a checkpoint commits
        commit = context.commit_checkpoint

        def commit_timed(force: bool = False, revoking: bool = False) -> None:
            pending = not context.checkpoint.empty()
            commit(force=force, revoking=revoking)
            if pending and context.checkpoint.empty():
                marks["committed"] = time.perf_counter()
                marks["commits"] += 1

        context.commit_checkpoint = commit_timed
        topic = app.topic(args.topic, value_deserializer="json", key_deserializer="str")
        sdf = app.dataframe(topic)
        sdf.update(timed, stateful=True)
        started = time.perf_counter()
        app.run(count=args.count, collect=False)
        wall = time.perf_counter() - started
    first = marks["first"]
    report = {
        "records": marks["n"],
        "wall_s": wall,
        "processing_s": (marks["last"] - first) if first is not None else 0.0,
        "committed_s": (marks["committed"] - first) if first is not None and marks["committed"] else None,
        "checkpoints": marks["commits"],
        "work": args.work,
    }
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
