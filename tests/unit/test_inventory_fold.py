"""The inventory folds: per-location on hand, SKU totals, and low stock against reorder points."""

from __future__ import annotations

import itertools
from typing import Any

from shopfloor.events.codec import decode
from shopfloor.events.envelope import Envelope
from shopfloor.projections.inventory import StockLevel, fold_stock, fold_total, is_low, reorder_point
from tests.support import encode, event


def adj(
    sku: str,
    location: str,
    delta: int,
    offset_s: float = 0,
    reason: str = "RECEIPT",
    warehouse: str | None = None,
    **kw: Any,
) -> Envelope:
    data: dict[str, Any] = {"sku": sku, "location": location, "delta": delta, "reason": reason}
    if warehouse:
        data["warehouse"] = warehouse
    return decode(*encode(event("InventoryAdjusted", data, offset_s=offset_s, **kw)))


def replay(events: list[Envelope]) -> tuple[dict[tuple[str, str], StockLevel], dict[str, Any]]:
    levels: dict[tuple[str, str], StockLevel] = {}
    totals: dict[str, Any] = {}
    for e in events:
        key = (e.data.sku, e.data.location)  # type: ignore[attr-defined]
        current = levels.get(key)
        levels[key] = fold_stock(current, e)
        totals[key[0]] = fold_total(totals.get(key[0]), e, new_location=current is None)
    return levels, totals


def test_first_delta_creates_the_location_row() -> None:
    level = fold_stock(None, adj("SKU-1", "A-01", 40, warehouse="W1", correlationid="po-9"))
    assert (level.on_hand, level.warehouse, level.last_reason, level.adjustments) == (40, "W1", "RECEIPT", 1)
    assert level.correlationid == "po-9"


def test_deltas_add_up_and_may_go_negative() -> None:
    levels, totals = replay([adj("S", "A", 5), adj("S", "A", -3, 1, "PICK"), adj("S", "A", -4, 2, "PICK")])
    assert levels[("S", "A")].on_hand == -2
    assert levels[("S", "A")].last_reason == "PICK"
    assert totals["S"].on_hand == -2 and totals["S"].locations == 1


def test_totals_sum_locations_and_count_each_location_once() -> None:
    _, totals = replay([adj("S", "A", 5), adj("S", "B", 7, 1), adj("S", "A", 1, 2), adj("T", "A", 2, 3)])
    assert (totals["S"].on_hand, totals["S"].locations) == (13, 2)
    assert (totals["T"].on_hand, totals["T"].locations) == (2, 1)


def test_arrival_order_does_not_change_quantities() -> None:
    events = [
        adj("S", "A", 10, 0),
        adj("S", "A", -4, 1, "PICK"),
        adj("S", "B", 3, 2),
        adj("S", "A", 6, 3, "PUTAWAY"),
    ]
    outcomes = {
        (tuple(sorted((k, v.on_hand) for k, v in levels.items())), totals["S"].on_hand)
        for levels, totals in (replay(list(p)) for p in itertools.permutations(events))
    }
    assert outcomes == {(((("S", "A"), 12), (("S", "B"), 3)), 15)}


def test_a_late_arriving_older_delta_keeps_the_newest_last_reason() -> None:
    newest = fold_stock(None, adj("S", "A", 5, 60, "PUTAWAY"))
    older = fold_stock(newest, adj("S", "A", -1, 0, "SCRAP"))
    assert older.on_hand == 4
    assert older.last_reason == "PUTAWAY"
    assert older.updated_ms == newest.updated_ms


def test_the_fold_is_pure_a_duplicate_is_the_stores_job() -> None:
    """The same delta folded twice counts twice: dedup by (source, id) happens before the fold."""
    once = adj("S", "A", 5, event_id="e-1")
    assert fold_stock(fold_stock(None, once), once).on_hand == 10
    assert fold_stock(None, once) == fold_stock(None, once)


def test_low_stock_uses_the_per_sku_override_or_the_default() -> None:
    overrides = {"BOLT": 500, "RARE": 0}
    assert reorder_point("BOLT", 20, overrides) == 500
    assert reorder_point("NUT", 20, overrides) == 20
    assert is_low("BOLT", 499, 20, overrides)
    assert not is_low("NUT", 20, 20, overrides)
    assert is_low("NUT", 19, 20, overrides)
    assert not is_low("RARE", 0, 20, overrides)
