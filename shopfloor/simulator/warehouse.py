"""A warehouse's traffic: receipts and put-away, outbound orders whose picks and shipments move stock.

Each step advances one thing: a receipt, a put-away, a new order, or one order's next saga step.
Shares of payment failures, cancellations and orders that get stuck are configurable; a small
share of shipments is reported before their pick (a producer retry), as real systems do.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shopfloor.events.codec import cloud_event
from shopfloor.simulator.base import Produced

CUSTOMERS = ["Acme Tools", "Borealis AB", "Cobalt GmbH", "Delta Parts", "Ebro Lda", "Fjord AS", "Gala Srl"]
CARRIERS = ["DHL", "UPS", "DB Schenker", "PostNord", "GLS"]
FAILURES = ["card declined", "insufficient funds", "fraud check failed", "3-D Secure timeout"]
CANCELS = ["customer request", "address invalid", "duplicate order", "out of stock"]
DOCK = "RCV-01"
PACK = "PACK-01"


@dataclass
class _Order:
    order_id: str
    lines: list[tuple[str, int]]
    stage: str = "CREATED"
    stuck: bool = False
    picks: list[tuple[str, str, int]] = field(default_factory=list)
    held_pick: Produced | None = None


class WarehouseTraffic:
    """`rate` steps per second; a step yields one to a few events."""

    def __init__(
        self,
        inventory_topic: str,
        outbound_topic: str,
        *,
        rate: float = 5.0,
        seed: int | None = None,
        skus: int = 120,
        aisles: int = 6,
        bins_per_aisle: int = 8,
        payment_failure_share: float = 0.05,
        cancel_share: float = 0.03,
        stuck_share: float = 0.04,
        out_of_order_share: float = 0.03,
        open_orders: int = 40,
        source: str = "wms/simulator",
    ) -> None:
        self.rate = rate
        self._inventory_topic = inventory_topic
        self._outbound_topic = outbound_topic
        self._rng = random.Random(seed)
        self._skus = [f"SKU-{10000 + i}" for i in range(skus)]
        self._bins = [
            f"{chr(65 + a)}-{b + 1:02d}-{lvl}"
            for a in range(aisles)
            for b in range(bins_per_aisle)
            for lvl in (1, 2)
        ]
        self._home = {sku: self._rng.sample(self._bins, 2) for sku in self._skus}
        self._stock: dict[tuple[str, str], int] = {}
        self._dock: list[tuple[str, int]] = []
        self._orders: dict[str, _Order] = {}
        self._sequence: dict[str, int] = {}
        self._shares = (payment_failure_share, cancel_share, stuck_share, out_of_order_share)
        self._open_orders = open_orders
        self._next_order = self._rng.randrange(100, 900) * 1000
        self._source = source
        self._seeded = False

    # --- event builders ------------------------------------------------------------------------

    def _adjust(
        self,
        now: datetime,
        sku: str,
        location: str,
        delta: int,
        reason: str,
        correlationid: str | None = None,
    ) -> Produced:
        self._stock[(sku, location)] = self._stock.get((sku, location), 0) + delta
        self._sequence[sku] = self._sequence.get(sku, 0) + 1
        data = {"sku": sku, "location": location, "delta": delta, "reason": reason, "warehouse": "WH1"}
        event = cloud_event(
            "InventoryAdjusted",
            data,
            source=f"{self._source}/stock",
            time=now,
            subject=sku,
            sequence=self._sequence[sku],
            correlationid=correlationid,
        )
        return Produced(self._inventory_topic, sku, event, binary=self._rng.random() < 0.3)

    def _order_event(self, now: datetime, order: _Order, kind: str, service: str, **data: Any) -> Produced:
        event = cloud_event(
            kind,
            {"order_id": order.order_id, **data},
            source=f"{self._source}/{service}",
            time=now,
            subject=order.order_id,
            correlationid=f"corr-{order.order_id}",
        )
        return Produced(self._outbound_topic, order.order_id, event)

    # --- inventory -----------------------------------------------------------------------------

    def _receive(self, now: datetime) -> list[Produced]:
        if self._rng.random() < 0.5:  # replenishment goes to what runs low
            sku = min(self._skus, key=lambda s: sum(self._stock.get((s, loc), 0) for loc in self._home[s]))
        else:
            sku = self._rng.choice(self._skus)
        qty = self._rng.choice([12, 24, 48, 60, 96, 120])
        self._dock.append((sku, qty))
        return [self._adjust(now, sku, DOCK, qty, "RECEIPT", f"po-{self._rng.randrange(10**6)}")]

    def _put_away(self, now: datetime) -> list[Produced]:
        sku, qty = self._dock.pop(0)
        target = self._rng.choice(self._home[sku])
        return [self._adjust(now, sku, DOCK, -qty, "PUTAWAY"), self._adjust(now, sku, target, qty, "PUTAWAY")]

    def _count(self, now: datetime) -> list[Produced]:
        sku = self._rng.choice(self._skus)
        location = self._rng.choice(self._home[sku])
        if self._stock.get((sku, location), 0) <= 0:
            return []
        if self._rng.random() < 0.5:
            return [self._adjust(now, sku, location, -1, "SCRAP")]
        return [self._adjust(now, sku, location, self._rng.choice([-2, -1, 1, 2]), "COUNT_CORRECTION")]

    # --- outbound ------------------------------------------------------------------------------

    def _create(self, now: datetime) -> list[Produced]:
        self._next_order += self._rng.randint(1, 7)
        lines = [
            (sku, self._rng.randint(1, 6)) for sku in self._rng.sample(self._skus, self._rng.randint(1, 4))
        ]
        order = _Order(f"SO-{self._next_order}", lines, stuck=self._rng.random() < self._shares[2])
        self._orders[order.order_id] = order
        due = now + timedelta(hours=self._rng.choice([2, 4, 6, 8, 24]))
        data = {
            "customer": self._rng.choice(CUSTOMERS),
            "lines": [{"sku": sku, "qty": qty} for sku, qty in lines],
            "due_at": due.isoformat().replace("+00:00", "Z"),
            "priority": self._rng.choice(["standard", "standard", "express"]),
            "carrier": CARRIERS[self._next_order % len(CARRIERS)],  # planned; no extra draw, seeds repeat
        }
        return [self._order_event(now, order, "OrderCreated", "shop", **data)]

    def _pick(self, now: datetime, order: _Order) -> list[Produced]:
        produced = []
        for sku, qty in order.lines:
            location = max(self._home[sku], key=lambda loc, s=sku: self._stock.get((s, loc), 0))
            corr = f"corr-{order.order_id}"
            produced.append(self._adjust(now, sku, location, -qty, "PICK", corr))
            produced.append(self._adjust(now, sku, PACK, qty, "PICK", corr))
            order.picks.append((sku, PACK, qty))
        return produced

    def _advance(self, now: datetime, order: _Order) -> list[Produced]:
        failure_share, cancel_share, _, out_of_order_share = self._shares
        roll = self._rng.random()
        if order.stage in ("CREATED", "PAID") and roll < cancel_share:
            return self._finish(
                order,
                [self._order_event(now, order, "OrderCancelled", "shop", reason=self._rng.choice(CANCELS))],
            )
        if order.stage == "CREATED":
            if roll < cancel_share + failure_share:
                return self._finish(
                    order,
                    [
                        self._order_event(
                            now, order, "PaymentFailed", "payments", reason=self._rng.choice(FAILURES)
                        )
                    ],
                )
            order.stage = "PAID"
            amount = round(sum(q for _, q in order.lines) * self._rng.uniform(8, 40), 2)
            return [self._order_event(now, order, "PaymentProcessed", "payments", amount=amount)]
        if order.stage == "PAID":
            order.stage = "PICKED"
            produced = self._pick(now, order)
            pick = self._order_event(now, order, "PickCompleted", "wms")
            if roll > 1 - out_of_order_share:
                order.held_pick = pick  # reported late: after the dispatch, by a retrying producer
                return produced
            return [*produced, pick]
        if order.stage == "PICKED":
            order.stage = "DISPATCHED"
            produced = [
                self._adjust(now, sku, loc, -qty, "SHIP", f"corr-{order.order_id}")
                for sku, loc, qty in order.picks
            ]
            produced.append(
                self._order_event(
                    now,
                    order,
                    "ShipmentDispatched",
                    "carrier",
                    carrier=self._rng.choice(CARRIERS),
                    tracking_id=f"TRK{self._rng.randrange(10**9):09d}",
                )
            )
            if order.held_pick is not None:
                produced.append(order.held_pick)
                order.held_pick = None
            return produced
        return self._finish(order, [self._order_event(now, order, "DeliveryCompleted", "carrier")])

    def _finish(self, order: _Order, produced: list[Produced]) -> list[Produced]:
        del self._orders[order.order_id]
        return produced

    # --- the generator -------------------------------------------------------------------------

    def step(self, now: datetime) -> list[Produced]:
        if not self._seeded:
            self._seeded = True
            return self.seed_stock(now)
        roll = self._rng.random()
        if roll < 0.12:
            return self._receive(now)
        if roll < 0.24 and self._dock:
            return self._put_away(now)
        if roll < 0.28:
            return self._count(now)
        moving = [o for o in self._orders.values() if not o.stuck]
        stuck = [o for o in self._orders.values() if o.stuck]
        if len(stuck) > self._open_orders:  # forgotten by the simulator; stuck in the read model for good
            del self._orders[stuck[0].order_id]
        if len(moving) < self._open_orders and (roll < 0.45 or not moving):
            return self._create(now)
        if not moving:
            return self._receive(now)
        return self._advance(now, self._rng.choice(moving))

    def seed_stock(self, now: datetime) -> list[Produced]:
        """Opening balances: every SKU starts with stock in its home bins (some of them low)."""
        produced = []
        for sku in self._skus:
            for location in self._home[sku]:
                qty = self._rng.choice([0, 4, 8, 30, 60, 120, 240])
                if qty:
                    produced.append(self._adjust(now, sku, location, qty, "COUNT_CORRECTION"))
        return produced
