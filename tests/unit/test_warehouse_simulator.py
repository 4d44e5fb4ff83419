"""The simulated warehouse on event time: orders take minutes per stage, a history is replayed
backdated, the planned carrier ships the order, and a seed repeats the same traffic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from shopfloor.simulator.warehouse import WarehouseTraffic

NOW = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
ORDER = ["OrderCreated", "PaymentProcessed", "PickCompleted", "ShipmentDispatched", "DeliveryCompleted"]


def _outbound(history: timedelta, seed: int = 3) -> list[dict[str, Any]]:
    traffic = WarehouseTraffic("inv", "out", rate=10.0, seed=seed, history=history)
    return [p.event for p in traffic.step(NOW) if p.topic == "out"]


def _at(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["time"].replace("Z", "+00:00"))


def test_the_first_step_replays_the_history_with_orders_minutes_apart_per_stage() -> None:
    events = _outbound(timedelta(hours=2))
    assert all(NOW - timedelta(hours=2) <= _at(e) <= NOW for e in events)
    # 6 orders a minute at rate 10: about 720 in two hours
    created = [e for e in events if e["type"] == "OrderCreated"]
    assert 600 <= len(created) <= 840, len(created)
    by_order: dict[str, dict[str, Any]] = {}
    for event in events:
        by_order.setdefault(event["data"]["order_id"], {})[event["type"]] = event
    gaps: dict[str, list[float]] = {kind: [] for kind in ORDER[1:4]}
    for steps in by_order.values():
        for before, after in pairwise(ORDER[:4]):
            if before in steps and after in steps:
                gaps[after].append((_at(steps[after]) - _at(steps[before])).total_seconds() / 60)
        if "ShipmentDispatched" in steps and "OrderCreated" in steps:
            assert steps["ShipmentDispatched"]["data"]["carrier"] == steps["OrderCreated"]["data"]["carrier"]
    for kind, minutes in gaps.items():
        middle = sorted(minutes)[len(minutes) // 2]
        assert 1 <= middle <= 10, (kind, middle)  # payment ~1.5, picking ~2 + 1.5 a line, packing ~3


def test_without_history_the_warehouse_starts_empty_and_a_seed_repeats_it() -> None:
    assert _outbound(timedelta(0)) == []
    first, again = _outbound(timedelta(minutes=30)), _outbound(timedelta(minutes=30))
    assert [(e["type"], e["time"], e["data"]) for e in first] == [
        (e["type"], e["time"], e["data"]) for e in again
    ]


def test_no_bin_goes_below_zero_in_the_history_or_after() -> None:
    """Stock summed from the inventory events alone, in event-time order: the demo showed bins at
    -39 for its first minutes when the history's picks ran ahead of any receipt."""
    traffic = WarehouseTraffic("inv", "out", rate=10.0, seed=5, history=timedelta(hours=3))
    produced = traffic.step(NOW)
    for i in range(1, 3001):
        produced += traffic.step(NOW + timedelta(seconds=i / 10))
    moves = sorted(
        (e for e in (p.event for p in produced if p.topic == "inv")), key=lambda e: (_at(e), e["subject"])
    )
    stock: dict[tuple[str, str], int] = {}
    lowest = 0
    for event in moves:
        key = (event["data"]["sku"], event["data"]["location"])
        stock[key] = stock.get(key, 0) + event["data"]["delta"]
        lowest = min(lowest, stock[key])
    assert len(moves) > 1000 and lowest == 0
