"""A mixed plant stream with duplicates and out-of-order (stale) sequences, as (topic kind, key, event)."""

from __future__ import annotations

import json
import random
from typing import Any

from tests.support import event, wo

STATUSES = ["PLANNED", "RELEASED", "IN_PROGRESS", "ON_HOLD", "IN_PROGRESS", "COMPLETED"]


def mixed_stream(total: int, seed: int) -> list[tuple[str, str, bytes]]:
    """About `total` records: work orders (sequenced, with stale ones), inventory deltas (not
    idempotent, so a double effect shows), outbound orders; ~10% exact duplicates. Per-key order
    is the order produced, as Kafka keeps it."""
    rng = random.Random(seed)
    out: list[tuple[str, str, bytes]] = []
    sequences: dict[str, int] = {}
    order_steps: dict[str, int] = {}
    steps = ["PaymentProcessed", "PickCompleted", "ShipmentDispatched", "DeliveryCompleted"]
    orders = max(10, total // 40)
    while len(out) < total:
        roll = rng.random()
        if roll < 0.45:
            wid = f"WO-{rng.randrange(orders):05d}"
            seq = sequences.get(wid, 0) + 1
            sequences[wid] = seq
            if seq > 2 and rng.random() < 0.05:
                evt = event(
                    "WorkOrderStatusChanged",
                    wo(wid, "CANCELLED", line=f"L{int(wid[3:]) % 7}"),
                    sequence=seq - 2,
                    offset_s=len(out) / 100,
                )
            else:
                evt = event(
                    "WorkOrderStatusChanged",
                    wo(
                        wid,
                        STATUSES[(seq - 1) % len(STATUSES)],
                        line=f"L{int(wid[3:]) % 7}",
                        quantity_done=seq,
                    ),
                    sequence=seq,
                    offset_s=len(out) / 100,
                )
            kind, key = "work_orders", wid
        elif roll < 0.8:
            sku = f"SKU-{rng.randrange(orders):04d}"
            data = {
                "sku": sku,
                "location": f"B{rng.randrange(5)}",
                "delta": rng.randint(-20, 40),
                "reason": rng.choice(["RECEIPT", "PICK", "COUNT_CORRECTION"]),
            }
            evt = event("InventoryAdjusted", data, source="wms/fault", offset_s=len(out) / 100)
            kind, key = "inventory", sku
        else:
            oid = f"SO-{rng.randrange(orders):05d}"
            step = order_steps.get(oid, -1)
            if step == -1:
                evt = event(
                    "OrderCreated",
                    {
                        "order_id": oid,
                        "customer": "C",
                        "due_at": "2099-01-01T00:00:00Z",
                        "lines": [{"sku": "SKU-0001", "qty": 1}],
                    },
                    source="wms/fault",
                    offset_s=len(out) / 100,
                )
            elif step < len(steps):
                evt = event(steps[step], {"order_id": oid}, source="wms/fault", offset_s=len(out) / 100)
            else:
                continue
            order_steps[oid] = step + 1
            kind, key = "outbound", oid
        value = json.dumps(evt).encode()
        out.append((kind, key, value))
        if rng.random() < 0.1:
            out.append((kind, key, value))  # an exact redelivery
    return out


def topic_for(settings: Any, kind: str) -> str:
    return {
        "work_orders": settings.topic_work_orders,
        "inventory": settings.topic_inventory,
        "outbound": settings.topic_outbound,
    }[kind]
