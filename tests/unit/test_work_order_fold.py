"""The work-order fold: state, history entries and count deltas from status changes."""

from __future__ import annotations

from shopfloor.events.codec import decode
from shopfloor.projections.work_orders import fold
from tests.support import encode, event, wo


def _env(data: dict, offset_s: float = 0, **kw):  # type: ignore[no-untyped-def]
    return decode(*encode(event("WorkOrderStatusChanged", data, offset_s=offset_s, **kw)))


def test_first_event_creates_the_order_with_one_history_entry() -> None:
    folded = fold(None, _env(wo("WO-1", "PLANNED", line="L2", product="pump", quantity_planned=100)))
    assert folded.order.status == "PLANNED"
    assert folded.order.line_id == "L2"
    assert folded.order.history_count == 1
    assert folded.entry is not None and folded.entry.position == 0
    assert folded.count_deltas == {("L2", "PLANNED"): 1}


def test_status_change_moves_the_count_and_keeps_unsent_fields() -> None:
    first = fold(None, _env(wo("WO-1", "RELEASED", product="pump", quantity_planned=100))).order
    second = fold(first, _env({"work_order_id": "WO-1", "status": "IN_PROGRESS", "quantity_done": 10}, 60))
    assert second.order.product == "pump"
    assert second.order.line_id == "L1"
    assert second.order.quantity_done == 10
    assert second.entry is not None and second.entry.previous_status == "RELEASED"
    assert second.entry.position == 1
    assert second.count_deltas == {("L1", "IN_PROGRESS"): 1, ("L1", "RELEASED"): -1}
    assert second.order.status_since_ms > first.status_since_ms


def test_same_status_update_adds_no_history_and_no_count_change() -> None:
    first = fold(None, _env(wo("WO-1", "IN_PROGRESS", quantity_done=1))).order
    again = fold(first, _env(wo("WO-1", "IN_PROGRESS", quantity_done=5), 30))
    assert again.entry is None
    assert again.count_deltas == {}
    assert again.order.quantity_done == 5
    assert again.order.status_since_ms == first.status_since_ms


def test_line_change_moves_the_order_between_lines() -> None:
    first = fold(None, _env(wo("WO-1", "PLANNED", line="L1"))).order
    moved = fold(first, _env(wo("WO-1", "PLANNED", line="L4"), 5))
    assert moved.count_deltas == {("L4", "PLANNED"): 1, ("L1", "PLANNED"): -1}


def test_fold_is_deterministic() -> None:
    events = [_env(wo("WO-9", s), i) for i, s in enumerate(["PLANNED", "RELEASED", "IN_PROGRESS", "ON_HOLD"])]

    def replay():  # type: ignore[no-untyped-def]
        state, entries = None, []
        for e in events:
            folded = fold(state, e)
            state = folded.order
            entries.append(folded.entry)
        return state, entries

    assert replay() == replay()
