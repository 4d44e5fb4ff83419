"""The outbound fold: saga stages, entry times, out-of-order and duplicate events, late and stuck."""

from __future__ import annotations

from typing import Any

from shopfloor.events.codec import decode
from shopfloor.events.envelope import Envelope
from shopfloor.projections.outbound import (
    Order,
    Step,
    delivered_late,
    fold,
    is_late,
    is_stuck,
    stuck_deadline,
    timeline,
)
from tests.support import T0, encode, event

T0_MS = int(T0.timestamp() * 1000)
MIN = 60_000
LIMITS = {"CREATED": 15 * MIN, "PAID": 30 * MIN, "PICKED": 60 * MIN, "DISPATCHED": 1440 * MIN}


def ev(kind: str, minute: float, order_id: str = "SO-1", **data: Any) -> Envelope:
    extra = {k: v for k, v in data.items() if k not in ("correlationid", "event_id")}
    return decode(
        *encode(
            event(
                kind,
                {"order_id": order_id, **extra},
                offset_s=minute * 60,
                correlationid=data.get("correlationid"),
                event_id=data.get("event_id"),
            )
        )
    )


def run(*events: Envelope) -> tuple[Order, list[Step]]:
    order: Order | None = None
    steps = []
    for e in events:
        folded = fold(order, e)
        order = folded.order
        steps.append(folded.step)
    assert order is not None
    return order, steps


CREATED = ev(
    "OrderCreated",
    0,
    customer="ACME",
    lines=[{"sku": "S1", "qty": 2}, {"sku": "S2", "qty": 3}],
    due_at="2026-11-27T20:00:00Z",
    priority=2,
    correlationid="corr-1",
)


def test_happy_path_walks_every_stage_with_entry_times() -> None:
    order, steps = run(
        CREATED,
        ev("PaymentProcessed", 2, amount=19.5),
        ev("PickCompleted", 20),
        ev("ShipmentDispatched", 45, carrier="DHL", tracking_id="T-1"),
        ev("DeliveryCompleted", 600),
    )
    assert order.stage == "DELIVERED"
    assert (order.customer, order.priority, order.line_count, order.units) == ("ACME", "2", 2, 5)
    assert (order.amount, order.carrier, order.tracking_id) == (19.5, "DHL", "T-1")
    assert order.correlationid == "corr-1"
    assert [order.created_ms, order.paid_ms, order.picked_ms, order.dispatched_ms, order.delivered_ms] == [
        T0_MS,
        T0_MS + 2 * MIN,
        T0_MS + 20 * MIN,
        T0_MS + 45 * MIN,
        T0_MS + 600 * MIN,
    ]
    assert order.inferred == "" and order.out_of_order == ""
    assert [s.note for s in steps] == [""] * 5
    spans = timeline(order, T0_MS + 10_000 * MIN)
    assert [(s.stage, s.duration_ms) for s in spans] == [
        ("CREATED", 2 * MIN),
        ("PAID", 18 * MIN),
        ("PICKED", 25 * MIN),
        ("DISPATCHED", 555 * MIN),
        ("DELIVERED", None),
    ]
    assert not delivered_late(order)


def test_dispatch_before_pick_jumps_ahead_and_the_late_pick_fills_in_without_going_back() -> None:
    jumped, steps = run(CREATED, ev("PaymentProcessed", 1), ev("ShipmentDispatched", 30))
    assert jumped.stage == "DISPATCHED"
    assert jumped.inferred == "PICKED" and jumped.picked_ms is None
    assert steps[-1].note == "skipped ahead: PICKED inferred"
    spans = {s.stage: s for s in timeline(jumped, T0_MS + 40 * MIN)}
    assert spans["PICKED"].inferred and spans["PICKED"].entered_ms is None
    assert spans["PAID"].duration_ms == 29 * MIN

    filled = fold(jumped, ev("PickCompleted", 25))
    assert filled.order.stage == "DISPATCHED"
    assert filled.order.stage_since_ms == jumped.stage_since_ms
    assert filled.order.picked_ms == T0_MS + 25 * MIN
    assert filled.order.inferred == "" and filled.order.out_of_order == "PICKED"
    assert filled.step.note == "out of order"
    spans = {s.stage: s for s in timeline(filled.order, T0_MS + 40 * MIN)}
    assert spans["PICKED"].out_of_order and spans["PICKED"].duration_ms == 5 * MIN


def test_first_event_for_an_unknown_order_infers_the_earlier_stages() -> None:
    order, _ = run(ev("PickCompleted", 5))
    assert order.stage == "PICKED"
    assert order.inferred == "CREATED,PAID"
    later, steps = run(ev("PickCompleted", 5), ev("OrderCreated", 0, customer="late-co"))
    assert later.stage == "PICKED" and later.customer == "late-co"
    assert later.inferred == "PAID" and later.out_of_order == "CREATED"
    assert steps[-1].note == "out of order"


def test_duplicate_stage_events_are_repeats_that_keep_the_earliest_time() -> None:
    order, steps = run(
        CREATED, ev("PaymentProcessed", 5), ev("PaymentProcessed", 3), ev("PaymentProcessed", 9)
    )
    assert order.stage == "PAID"
    assert order.paid_ms == T0_MS + 3 * MIN
    assert [s.note for s in steps] == ["", "", "repeat", "repeat"]
    assert order.event_count == 4


def test_the_same_event_twice_gives_the_same_state() -> None:
    once, _ = run(CREATED, ev("PaymentProcessed", 5, event_id="p-1"))
    twice, _ = run(
        CREATED, ev("PaymentProcessed", 5, event_id="p-1"), ev("PaymentProcessed", 5, event_id="p-1")
    )
    assert (twice.stage, twice.paid_ms, twice.inferred, twice.out_of_order) == (
        once.stage,
        once.paid_ms,
        once.inferred,
        once.out_of_order,
    )


def test_payment_failure_ends_the_saga_and_later_progress_is_kept_as_after_end() -> None:
    order, steps = run(CREATED, ev("PaymentFailed", 1, reason="card declined"), ev("PickCompleted", 9))
    assert order.stage == "PAYMENT_FAILED"
    assert order.failure_reason == "card declined"
    assert order.picked_ms == T0_MS + 9 * MIN
    assert steps[-1].note == "after end"
    assert [s.stage for s in timeline(order, T0_MS)] == ["CREATED", "PAYMENT_FAILED"]


def test_an_old_failed_attempt_arriving_after_success_does_not_fail_the_order() -> None:
    order, steps = run(CREATED, ev("PaymentProcessed", 5), ev("PaymentFailed", 2, reason="retry"))
    assert order.stage == "PAID"
    assert steps[-1].note.startswith("out of order")


def test_cancellation_ends_an_open_order_and_a_late_earlier_event_is_out_of_order() -> None:
    order, steps = run(
        CREATED,
        ev("PaymentProcessed", 1),
        ev("OrderCancelled", 10, reason="customer"),
        ev("PickCompleted", 8),
    )
    assert order.stage == "CANCELLED" and order.cancel_reason == "customer"
    assert order.picked_ms == T0_MS + 8 * MIN
    assert steps[-1].note == "out of order"
    assert not is_late(order, T0_MS + 10**9)


def test_late_is_judged_by_the_clock_given_at_read_time() -> None:
    order, _ = run(CREATED)
    due = T0_MS + 12 * 60 * MIN
    assert order.due_ms == due
    assert not is_late(order, due)
    assert is_late(order, due + 1)
    shipped, _ = run(CREATED, ev("DeliveryCompleted", 800))
    assert not is_late(shipped, due + 1)
    assert delivered_late(shipped)


def test_stuck_uses_the_limit_of_the_current_stage() -> None:
    order, _ = run(CREATED, ev("PaymentProcessed", 1))
    assert stuck_deadline(order, LIMITS) == T0_MS + 31 * MIN
    assert not is_stuck(order, T0_MS + 31 * MIN, LIMITS)
    assert is_stuck(order, T0_MS + 31 * MIN + 1, LIMITS)
    assert not is_stuck(order, T0_MS + 10**9, {"CREATED": MIN})
    delivered, _ = run(CREATED, ev("DeliveryCompleted", 1))
    assert stuck_deadline(delivered, LIMITS) is None


def test_replay_is_deterministic() -> None:
    events = [CREATED, ev("ShipmentDispatched", 9), ev("PaymentProcessed", 2), ev("DeliveryCompleted", 90)]
    assert run(*events) == run(*events)
