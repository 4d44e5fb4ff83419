"""Warehouse read models against the real broker, on SQLite and PostgreSQL.

Inventory is folded from deltas, so exactly-once is what keeps the figures right: duplicated,
replayed and stale deltas, across a projector restart, must end in exactly the expected on hand.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta
from typing import Any

from shopfloor.store import inventory as inv_store
from shopfloor.store import outbound as ob_store
from tests.integration.harness import projecting, table_rows, wait_consumed
from tests.support import T0, event, unique_settings

SKUS = ["SKU-A", "SKU-B", "SKU-C"]
LOCATIONS = ["A-01-1", "A-02-1", "B-01-2", "RCV-01"]
REASONS = ["RECEIPT", "PUTAWAY", "PICK", "SHIP", "COUNT_CORRECTION", "SCRAP", "TRANSFER"]


def delta_stream(count: int, seed: int) -> list[dict[str, Any]]:
    """Deltas with per-SKU sequences, as a WMS would publish them."""
    rng = random.Random(seed)
    sequences: Counter[str] = Counter()
    events = []
    for i in range(count):
        sku, location = rng.choice(SKUS), rng.choice(LOCATIONS)
        sequences[sku] += 1
        data = {
            "sku": sku,
            "location": location,
            "delta": rng.randint(-20, 40),
            "reason": rng.choice(REASONS),
        }
        events.append(
            event(
                "InventoryAdjusted",
                data,
                source="wms/test",
                event_id=f"adj-{i}",
                sequence=sequences[sku],
                at=T0 + timedelta(seconds=i),
            )
        )
    return events


def expected_on_hand(events: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    totals: Counter[tuple[str, str]] = Counter()
    for e in events:
        totals[(e["data"]["sku"], e["data"]["location"])] += e["data"]["delta"]
    return dict(totals)


async def test_duplicated_and_replayed_deltas_end_in_exact_on_hand(kafka, producer, database_url) -> None:  # type: ignore[no-untyped-def]
    settings = unique_settings(kafka, database_url)
    topic = settings.topic_inventory
    stream = delta_stream(160, seed=7)
    first, second = stream[:100], stream[100:]
    rng = random.Random(1)

    async def send(evt: dict[str, Any]) -> None:
        await producer.event(topic, evt["data"]["sku"], evt, binary=rng.random() < 0.5)

    sent = 0
    for evt in first:
        await send(evt)
        sent += 1
        if rng.random() < 0.25:  # at-least-once producer: the same delivery again
            await send(evt)
            sent += 1
    async with projecting(settings) as runtime:
        await wait_consumed(runtime, sent)
        assert runtime.projector is not None
        assert runtime.projector.status.applied == len(first)

    # While the projector is down: the rest, a replay of everything already applied, and stale deltas.
    later = 0
    for evt in second:
        await send(evt)
        later += 1
    for evt in first:
        await send(evt)
        later += 1
    for n, sku in enumerate(SKUS):
        stale = event(
            "InventoryAdjusted",
            {"sku": sku, "location": "A-01-1", "delta": 1000, "reason": "RECEIPT"},
            source="wms/test",
            event_id=f"stale-{n}",
            sequence=1,
            at=T0,
        )
        await send(stale)
        later += 1
    async with projecting(settings) as runtime:
        await wait_consumed(runtime, later)
        assert runtime.projector is not None
        status = runtime.projector.status
        assert (status.applied, status.duplicates, status.stale) == (len(second), len(first), len(SKUS))
        stock = table_rows(runtime.engine, inv_store.STOCK, ["sku", "location"])
        totals = table_rows(runtime.engine, inv_store.TOTALS, ["sku"])

    expected = expected_on_hand(stream)
    assert {(r["sku"], r["location"]): r["on_hand"] for r in stock} == expected
    per_pair = Counter((e["data"]["sku"], e["data"]["location"]) for e in stream)
    assert {(r["sku"], r["location"]): r["adjustments"] for r in stock} == dict(per_pair)
    assert {t["sku"]: t["on_hand"] for t in totals} == {
        sku: sum(v for (s, _), v in expected.items() if s == sku) for sku in SKUS
    }
    assert {t["sku"]: t["locations"] for t in totals} == {
        sku: len({loc for (s, loc) in expected if s == sku}) for sku in SKUS
    }


async def test_out_of_order_and_duplicate_order_events(kafka, producer, database_url) -> None:  # type: ignore[no-untyped-def]
    settings = unique_settings(kafka, database_url)
    topic = settings.topic_outbound

    def order_event(kind: str, order_id: str, minute: int, **data: Any) -> dict[str, Any]:
        return event(
            kind,
            {"order_id": order_id, **data},
            source="shop/test",
            correlationid=f"corr-{order_id}",
            at=T0 + timedelta(minutes=minute),
        )

    created = order_event(
        "OrderCreated",
        "SO-1",
        0,
        customer="ACME",
        due_at="2026-11-27T10:00:00Z",
        lines=[{"sku": "SKU-A", "qty": 3}],
    )
    paid = order_event("PaymentProcessed", "SO-1", 2, amount=12.5)
    dispatched = order_event("ShipmentDispatched", "SO-1", 40, carrier="DHL")
    picked = order_event("PickCompleted", "SO-1", 30)
    stream = [
        created,
        paid,
        paid,
        dispatched,
        picked,  # dispatch reported before the pick
        order_event("OrderCreated", "SO-2", 1),
        order_event("PaymentFailed", "SO-2", 3, reason="declined"),
        order_event("PickCompleted", "SO-3", 5),  # an order first heard of at its pick
    ]
    async with projecting(settings) as runtime:
        for evt in stream:
            await producer.event(topic, evt["data"]["order_id"], evt)
        await wait_consumed(runtime, len(stream))
        orders = {r["order_id"]: r for r in table_rows(runtime.engine, ob_store.ORDERS, ["order_id"])}
        steps = table_rows(runtime.engine, ob_store.STEPS, ["order_id", "position"])

    so1 = orders["SO-1"]
    assert so1["stage"] == "DISPATCHED"
    assert so1["picked_ms"] == int((T0 + timedelta(minutes=30)).timestamp() * 1000)
    assert (so1["inferred"], so1["out_of_order"]) == ("", "PICKED")
    assert so1["correlationid"] == "corr-SO-1"
    assert [s["note"] for s in steps if s["order_id"] == "SO-1"] == [
        "",
        "",
        "skipped ahead: PICKED inferred",
        "out of order",
    ]
    assert (orders["SO-2"]["stage"], orders["SO-2"]["failure_reason"]) == ("PAYMENT_FAILED", "declined")
    assert (orders["SO-3"]["stage"], orders["SO-3"]["inferred"]) == ("PICKED", "CREATED,PAID")
