"""A warehouse's traffic: receipts and put-away, outbound orders whose picks and shipments move stock.

Outbound orders run on event time, as on a real floor: they arrive at random and spend minutes in
each stage (payment and release, picking, packing and loading, the carrier's delivery), so a screen
sees some order move every few seconds while each order takes about ten minutes to leave the
building. With `history` the warehouse starts that long before the first step, whose events replay
it backdated: stage paces, pick rates and late orders exist from the first minute. Stock work
(receipts, put-away, counts) comes with the steps, `rate` a second.

Shares of payment failures, cancellations and orders that get stuck (held up in some open stage
for 20-90 min, mostly past its stuck limit, until someone frees them) are configurable; a small
share of shipments is reported before their pick (a producer retry), as real systems do.
"""

from __future__ import annotations

import heapq
import math
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
# Median minutes an order spends in each open stage; each order's times scatter around them
# (lognormal, SPREAD = sigma of the log). Picking takes a walk plus a stop per order line.
STAGE_MINUTES = {"CREATED": 1.5, "PAID": 2.0, "PICKED": 3.0, "DISPATCHED": 45.0}
PICK_MINUTES_PER_LINE = 1.5
SPREAD = 0.5
EXPRESS_DUE = timedelta(minutes=90)  # delivered within 90 min of the order
STANDARD_DUE_HOURS = (4, 8, 24)
DUE_GRID = timedelta(minutes=15)  # promises are made on the quarter hour
ORDERS_PER_MINUTE_PER_RATE = 0.6
HOLD_MINUTES = (20.0, 90.0)


@dataclass
class _Order:
    order_id: str
    lines: list[tuple[str, int]]
    carrier: str
    held_in: str | None = None  # a stuck order is held up in this stage (once) for HOLD_MINUTES
    stage: str = "CREATED"
    picks: list[tuple[str, str, int]] = field(default_factory=list)
    held_pick: Produced | None = None


class WarehouseTraffic:
    """`rate` steps per second; a step yields the orders' moves that fell due, and sometimes a stock
    move. Orders arrive at `orders_per_minute` (default 0.6 x rate) whatever the step rate."""

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
        orders_per_minute: float | None = None,
        history: timedelta = timedelta(0),
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
        self._due: list[tuple[datetime, int, str]] = []  # (when, tie-break, order id): next moves
        self._queued = 0
        self._sequence: dict[str, int] = {}
        self._shares = (payment_failure_share, cancel_share, stuck_share, out_of_order_share)
        per_minute = ORDERS_PER_MINUTE_PER_RATE * rate if orders_per_minute is None else orders_per_minute
        self._arrival_s = 60.0 / max(per_minute, 1e-6)
        self._next_arrival: datetime | None = None
        self._history = history
        self._next_order = self._rng.randrange(100, 900) * 1000
        self._source = source

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
        on_hand = self._stock.get((sku, location), 0)
        if on_hand <= 0:
            return []
        if self._rng.random() < 0.5:
            return [self._adjust(now, sku, location, -1, "SCRAP")]
        delta = max(-on_hand, self._rng.choice([-2, -1, 1, 2]))  # a count finds what is there
        return [self._adjust(now, sku, location, delta, "COUNT_CORRECTION")]

    # --- outbound ------------------------------------------------------------------------------

    def _minutes(self, order: _Order) -> timedelta:
        """How long this order stays in its stage: the stage's median, scattered; a held-up order
        much longer."""
        if order.stage == order.held_in:
            order.held_in = None
            return timedelta(minutes=self._rng.uniform(*HOLD_MINUTES))
        median = STAGE_MINUTES[order.stage]
        if order.stage == "PAID":
            median += PICK_MINUTES_PER_LINE * len(order.lines)
        return timedelta(minutes=median * math.exp(self._rng.gauss(0.0, SPREAD)))

    def _schedule(self, at: datetime, order: _Order) -> None:
        self._queued += 1
        heapq.heappush(self._due, (at + self._minutes(order), self._queued, order.order_id))

    def _create(self, now: datetime) -> list[Produced]:
        self._next_order += self._rng.randint(1, 7)
        lines = [
            (sku, self._rng.randint(1, 6)) for sku in self._rng.sample(self._skus, self._rng.randint(1, 4))
        ]
        stuck = self._rng.random() < self._shares[2]
        order = _Order(
            f"SO-{self._next_order}",
            lines,
            CARRIERS[self._next_order % len(CARRIERS)],  # planned; no extra draw, seeds repeat
            held_in=self._rng.choice(("CREATED", "PAID", "PICKED")) if stuck else None,
        )
        self._orders[order.order_id] = order
        priority = self._rng.choice(["standard", "standard", "express"])
        if priority == "express":
            promised = now + EXPRESS_DUE
        else:
            promised = now + timedelta(hours=self._rng.choice(STANDARD_DUE_HOURS))
        due = promised + (datetime.min.replace(tzinfo=now.tzinfo) - promised) % DUE_GRID
        data = {
            "customer": self._rng.choice(CUSTOMERS),
            "lines": [{"sku": sku, "qty": qty} for sku, qty in lines],
            "due_at": due.isoformat().replace("+00:00", "Z"),
            "priority": priority,
            "carrier": order.carrier,
        }
        self._schedule(now, order)
        return [self._order_event(now, order, "OrderCreated", "shop", **data)]

    def _replenish(self, now: datetime, sku: str, location: str, short: int) -> list[Produced]:
        """Stock received and put away just before a pick its bin cannot cover: a warehouse restocks
        before it picks, so no bin goes below zero (the backdated history has no receipts of its own)."""
        qty = max(short, self._rng.choice([24, 48, 96]))
        po = f"po-{self._rng.randrange(10**6)}"
        return [
            self._adjust(now, sku, DOCK, qty, "RECEIPT", po),
            self._adjust(now, sku, DOCK, -qty, "PUTAWAY"),
            self._adjust(now, sku, location, qty, "PUTAWAY"),
        ]

    def _pick(self, now: datetime, order: _Order) -> list[Produced]:
        produced = []
        for sku, qty in order.lines:
            location = max(self._home[sku], key=lambda loc, s=sku: self._stock.get((s, loc), 0))
            short = qty - self._stock.get((sku, location), 0)
            if short > 0:
                produced += self._replenish(now, sku, location, short)
            corr = f"corr-{order.order_id}"
            produced.append(self._adjust(now, sku, location, -qty, "PICK", corr))
            produced.append(self._adjust(now, sku, PACK, qty, "PICK", corr))
            order.picks.append((sku, PACK, qty))
        return produced

    def _advance(self, now: datetime, order: _Order) -> list[Produced]:
        """The order leaves its stage: on to the next one, or the saga ends."""
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
            produced = [self._order_event(now, order, "PaymentProcessed", "payments", amount=amount)]
        elif order.stage == "PAID":
            order.stage = "PICKED"
            produced = self._pick(now, order)
            pick = self._order_event(now, order, "PickCompleted", "wms")
            if roll > 1 - out_of_order_share:
                order.held_pick = pick  # reported late: after the dispatch, by a retrying producer
            else:
                produced.append(pick)
        elif order.stage == "PICKED":
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
                    carrier=order.carrier,
                    tracking_id=f"TRK{self._rng.randrange(10**9):09d}",
                )
            )
            if order.held_pick is not None:
                produced.append(order.held_pick)
                order.held_pick = None
        else:
            return self._finish(order, [self._order_event(now, order, "DeliveryCompleted", "carrier")])
        self._schedule(now, order)
        return produced

    def _finish(self, order: _Order, produced: list[Produced]) -> list[Produced]:
        del self._orders[order.order_id]
        return produced

    def _until(self, now: datetime) -> list[Produced]:
        """Every arrival and stage move up to `now`, in time order, each at its own time."""
        produced: list[Produced] = []
        assert self._next_arrival is not None
        while True:
            move = self._due[0][0] if self._due else None
            if move is not None and move <= now and move < self._next_arrival:
                at, _, order_id = heapq.heappop(self._due)
                produced += self._advance(at, self._orders[order_id])
            elif self._next_arrival <= now:
                at = self._next_arrival
                self._next_arrival = at + timedelta(seconds=self._rng.expovariate(1 / self._arrival_s))
                produced += self._create(at)
            else:
                return produced

    # --- the generator -------------------------------------------------------------------------

    def step(self, now: datetime) -> list[Produced]:
        if self._next_arrival is None:  # the first step: opening balances, then any history
            opened = now - self._history
            self._next_arrival = opened + timedelta(seconds=self._rng.expovariate(1 / self._arrival_s))
            return self.seed_stock(opened) + self._until(now)
        produced = self._until(now)
        roll = self._rng.random()
        if roll < 0.12:
            produced += self._receive(now)
        elif roll < 0.24 and self._dock:
            produced += self._put_away(now)
        elif roll < 0.28:
            produced += self._count(now)
        return produced

    def seed_stock(self, now: datetime) -> list[Produced]:
        """Opening balances: every SKU starts with stock in its home bins (some of them low)."""
        produced = []
        for sku in self._skus:
            for location in self._home[sku]:
                qty = self._rng.choice([0, 4, 8, 30, 60, 120, 240])
                if qty:
                    produced.append(self._adjust(now, sku, location, qty, "COUNT_CORRECTION"))
        return produced
