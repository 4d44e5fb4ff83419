"""Inventory: on hand per SKU x location and per SKU, folded from InventoryAdjusted deltas.

Deltas commute, so the quantities do not depend on arrival order; exactly-once (no delta applied
twice) is the batch store's job (dedup by source+id, stale by sequence). Low stock is judged at
read time against configurable reorder points, so changing them needs no rebuild.
"""

from __future__ import annotations

from collections.abc import Mapping

from shopfloor.events.envelope import Envelope
from shopfloor.events.models import InventoryAdjusted
from shopfloor.projections.frozen import frozen


@frozen
class StockLevel:
    sku: str
    location: str
    on_hand: int
    warehouse: str | None
    last_reason: str
    last_delta: int
    last_event_id: str
    correlationid: str | None
    updated_ms: int
    adjustments: int


@frozen
class SkuTotal:
    sku: str
    on_hand: int
    locations: int
    updated_ms: int


def fold_stock(current: StockLevel | None, event: Envelope) -> StockLevel:
    """Add one delta. The "last" fields follow the newest event time, so late arrivals keep them."""
    data = event.data
    assert isinstance(data, InventoryAdjusted)
    at_ms = event.event_ms
    if current is None:
        return StockLevel(
            sku=data.sku,
            location=data.location,
            on_hand=data.delta,
            warehouse=data.warehouse,
            last_reason=str(data.reason),
            last_delta=data.delta,
            last_event_id=event.id,
            correlationid=event.correlationid,
            updated_ms=at_ms,
            adjustments=1,
        )
    newest = at_ms >= current.updated_ms
    # Positional, in field order: a keyword `replace` costs as much as the rest of the fold.
    if newest:
        return StockLevel(
            current.sku,
            current.location,
            current.on_hand + data.delta,
            data.warehouse or current.warehouse,
            str(data.reason),
            data.delta,
            event.id,
            event.correlationid or current.correlationid,
            at_ms,
            current.adjustments + 1,
        )
    return StockLevel(
        current.sku,
        current.location,
        current.on_hand + data.delta,
        data.warehouse or current.warehouse,
        current.last_reason,
        current.last_delta,
        current.last_event_id,
        current.correlationid,
        current.updated_ms,
        current.adjustments + 1,
    )


def fold_total(current: SkuTotal | None, event: Envelope, new_location: bool) -> SkuTotal:
    """The SKU's total moves by the same delta; `new_location` when the SKUxlocation row is new."""
    data = event.data
    assert isinstance(data, InventoryAdjusted)
    at_ms = event.event_ms
    if current is None:
        return SkuTotal(data.sku, data.delta, 1, at_ms)
    return SkuTotal(
        current.sku,
        current.on_hand + data.delta,
        current.locations + (1 if new_location else 0),
        at_ms if at_ms > current.updated_ms else current.updated_ms,
    )


def reorder_point(sku: str, default: int, overrides: Mapping[str, int]) -> int:
    return overrides.get(sku, default)


def is_low(sku: str, total_on_hand: int, default: int, overrides: Mapping[str, int]) -> bool:
    """Low stock: the SKU's total is below its reorder point (a reorder point of 0 never alerts)."""
    point = reorder_point(sku, default, overrides)
    return point > 0 and total_on_hand < point
