"""Hypothesis strategies for hostile records whose fate is known in advance.

Each drawn Spec says what it must end as, decided here from the contract and not by the code under
test: `live` records are valid (at the edge of every limit, with null and binary headers, skewed
within the allowance, in either CloudEvents binding) and must be applied; `dead` records break
exactly one rule (a null `ce_` header, a payload over the dead-letter topic's limit, nesting too
deep, a time too far ahead or outside 1970..2100, a type on another type's topic, a field one past
its limit, a non-finite amount) and must be dead-lettered. Ids are unique, so nothing is a duplicate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from shopfloor.events.codec import encode_binary, encode_structured, format_time
from shopfloor.events.models import INT32

SKEW_S = 300  # the test's SHOPFLOOR_MAX_CLOCK_SKEW_SECONDS
DLQ_LIMIT = 20_000  # the test's SHOPFLOOR_DEAD_LETTER_MAX_BYTES: "huge" means more than this

# event type -> (topic setting, entity field, a valid payload without its entity id)
TYPES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "WorkOrderStatusChanged": ("topic_work_orders", "work_order_id", {"status": "RELEASED", "line_id": "L1"}),
    "EquipmentStatusChanged": ("topic_equipment", "equipment_id", {"status": "RUNNING"}),
    "SensorReading": ("topic_sensors", "equipment_id", {"sensor": "temperature", "value": 21.5}),
    "InventoryAdjusted": ("topic_inventory", "sku", {"location": "A-1", "delta": 3, "reason": "RECEIPT"}),
    "OrderCreated": ("topic_outbound", "order_id", {"customer": "C", "due_at": "2099-01-01T00:00:00Z"}),
    "PaymentProcessed": ("topic_outbound", "order_id", {"amount": 12.5}),
    "InspectionRecorded": (
        "topic_quality",
        "inspection_id",
        {"result": "FAIL", "work_order_id": "WO-1", "defects": [{"code": "DENT", "count": 2}]},
    ),
}
# where a live record of each type can be seen afterwards: (table, entity column)
SEEN_IN = {
    "WorkOrderStatusChanged": ("work_orders", "work_order_id"),
    "EquipmentStatusChanged": ("equipment", "equipment_id"),
    "SensorReading": ("sensor_latest", "equipment_id"),
    "InventoryAdjusted": ("inventory_stock", "sku"),
    "OrderCreated": ("outbound_orders", "order_id"),
    "InspectionRecorded": ("quality_inspections", "inspection_id"),
}
TOPIC_SETTINGS = sorted({topic for topic, _, _ in TYPES.values()})


@dataclass
class Spec:
    fate: str  # "live" or "dead"
    why: str
    type: str
    binary: bool
    data: dict[str, Any] = field(default_factory=dict)  # overrides of the valid payload
    topic: str | None = None  # a topic setting other than the type's own
    time: str | None = None  # absolute `time` text
    ahead_s: float = 0.0  # or: seconds ahead of the moment it is produced
    headers: list[tuple[str, bytes | None]] = field(default_factory=list)  # extra record headers
    null_ce: str | None = None  # a ce_ header sent with a null value
    id_length: int | None = None  # entity id of exactly this many characters
    raw: bytes | None = None  # the record value, replacing the encoded event
    value_text: tuple[str, str] | None = None  # (placeholder, JSON text) swapped into the value

    def topic_setting(self) -> str:
        return self.topic or TYPES[self.type][0]


def materialise(
    spec: Spec, n: int, now: datetime
) -> tuple[str, bytes, bytes | None, list[tuple[str, bytes | None]]]:
    """(entity id, key, value, headers) of spec number `n`, its times relative to `now`."""
    _, entity_field, valid = TYPES[spec.type]
    entity = f"h{n}-{spec.type[:3]}"
    if spec.id_length is not None:
        entity = (entity + "x" * spec.id_length)[: spec.id_length]
    data = {entity_field: entity, **valid, **spec.data}
    moment = spec.time or format_time(now + timedelta(seconds=spec.ahead_s))
    envelope = {
        "specversion": "1.0",
        "id": f"hostile-{n}",
        "type": spec.type,
        "source": "fuzz/hostile",
        "time": moment,
        "data": data,
    }
    value, headers = (encode_binary if spec.binary else encode_structured)(envelope)
    out: list[tuple[str, bytes | None]] = list(headers)
    if spec.null_ce is not None:
        out = [(name, None if name == spec.null_ce else raw) for name, raw in out]
    if spec.value_text is not None:
        placeholder, text = spec.value_text
        value = value.replace(json.dumps(placeholder).encode(), text.encode())
    if spec.raw is not None:
        value = spec.raw
    return entity, entity.encode()[:100], value, out + spec.headers


header_values = st.one_of(
    st.none(), st.binary(max_size=30), st.sampled_from([b"", b"\x00", b"\xff\xfe", b"ok"])
)
extra_headers = st.lists(
    st.tuples(st.sampled_from(["x-null", "x-bin", "traceparent", "ce-ish", "origin"]), header_values),
    max_size=4,
)
types = st.sampled_from(sorted(TYPES))
bindings = st.booleans()


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for level in range(depth):
        value = [value] if level % 2 else {"n": value}
    return value


LIVE_KINDS = ["plain", "headers", "skew-within", "old", "id-limit", "text-limit", "int-limits"]
LIVE_KINDS += ["float-limits", "dates", "nest-ok"]
DEAD_KINDS = ["null-ce", "huge", "deep", "future", "out-of-range", "wrong-topic", "id-over"]
DEAD_KINDS += ["text-over", "int-over", "amount", "due-over", "inspection"]
# An inspection broken one way: a result outside the enum or missing, a negative or missing defect
# count, defects not a list.
BAD_INSPECTIONS = [
    {"result": "MAYBE"},
    {"result": None},
    {"defects": [{"code": "DENT", "count": -1}]},
    {"defects": [{"code": "DENT"}]},
    {"defects": [{"code": "", "count": 1}]},
    {"defects": "DENT"},
]


@st.composite
def live_specs(draw: st.DrawFn, kind: str | None = None) -> Spec:
    """Valid records at the edges: every one of them must be applied."""
    kind = kind or draw(st.sampled_from(LIVE_KINDS))
    spec = Spec("live", kind, draw(types), draw(bindings), headers=draw(extra_headers))
    if kind == "skew-within":
        spec.ahead_s = draw(st.floats(0, SKEW_S - 120))
    elif kind == "old":
        spec.time = draw(
            st.sampled_from(
                ["1970-01-01T00:00:00Z", "1999-12-31T23:59:59.999-12:00", "2026-11-27T08:00:00+14:00"]
            )
        )
    elif kind == "id-limit":
        spec.id_length = 200
    elif kind == "text-limit":
        spec.type = "WorkOrderStatusChanged"
        spec.data = {
            "product": draw(st.sampled_from(["p" * 10_000, "é" * 10_000, ("<b>&amp;</b>" * 834)[:10_000]]))
        }
    elif kind == "int-limits":
        spec.type = draw(st.sampled_from(["WorkOrderStatusChanged", "InventoryAdjusted"]))
        if spec.type == "InventoryAdjusted":
            spec.data = {"delta": draw(st.sampled_from([INT32, -INT32, 0]))}
        else:
            spec.data = {"quantity_planned": INT32, "quantity_done": draw(st.sampled_from([0, INT32]))}
    elif kind == "float-limits":
        spec.type = draw(st.sampled_from(["SensorReading", "PaymentProcessed"]))
        number = draw(st.sampled_from([1.7976931348623157e308, -1.7976931348623157e308, 5e-324, -0.0, 0.0]))
        spec.data = {"value": number} if spec.type == "SensorReading" else {"amount": number}
    elif kind == "dates":
        spec.type = "OrderCreated"
        spec.data = {
            "due_at": draw(
                st.sampled_from(["1970-01-01T00:00:00Z", "2099-12-31T23:59:59Z", "2099-12-31T23:00:00-00:59"])
            )
        }
    elif kind == "nest-ok":
        spec.data = {"extension": _nested(draw(st.integers(1, 200)))}  # unknown fields are ignored
    return spec


@st.composite
def dead_specs(draw: st.DrawFn, kind: str | None = None) -> Spec:
    """Records that break one rule each: every one of them must be dead-lettered."""
    kind = kind or draw(st.sampled_from(DEAD_KINDS))
    spec = Spec("dead", kind, draw(types), draw(bindings), headers=draw(extra_headers))
    if kind == "null-ce":
        spec.binary = True
        spec.null_ce = draw(st.sampled_from(["ce_id", "ce_source", "ce_time", "ce_type", "ce_specversion"]))
    elif kind == "huge":
        size = draw(st.integers(DLQ_LIMIT + 1, 10 * DLQ_LIMIT))
        spec.raw = draw(st.sampled_from([b"{", b"[", b'{"specversion":"1.0","data":"'])) + b"x" * size
        spec.headers += [("x-null", None), ("x-bin", b"\xff" * 40)]
    elif kind == "deep":
        depth = draw(st.integers(2_000, 20_000))
        spec.value_text = ("DEEP", "[" * depth + "]" * depth)
        spec.data = {"extension": "DEEP"}
    elif kind == "future":
        spec.ahead_s = draw(st.one_of(st.floats(SKEW_S + 120, 10 * 365 * 86_400), st.just(SKEW_S + 600.0)))
    elif kind == "out-of-range":
        spec.time = draw(
            st.sampled_from(
                [
                    "9999-12-31T23:59:59-14:00",
                    "0001-01-01T00:00:00+14:00",
                    "2100-01-01T00:00:00Z",
                    "1969-12-31T23:59:59Z",
                ]
            )
        )
    elif kind == "wrong-topic":
        own = TYPES[spec.type][0]
        spec.topic = draw(st.sampled_from([t for t in TOPIC_SETTINGS if t != own]))
    elif kind == "id-over":
        spec.id_length = 201
    elif kind == "text-over":
        spec.type = "WorkOrderStatusChanged"
        spec.data = {"product": "p" * 10_001}
    elif kind == "int-over":
        spec.type = draw(st.sampled_from(["WorkOrderStatusChanged", "InventoryAdjusted"]))
        over = draw(st.sampled_from([INT32 + 1, 2**63, -(2**63)]))
        spec.data = {"delta": over} if spec.type == "InventoryAdjusted" else {"quantity_done": abs(over)}
    elif kind == "amount":
        spec.type = "PaymentProcessed"
        spec.data = {"amount": "AMOUNT"}
        spec.value_text = (
            "AMOUNT",
            draw(st.sampled_from(["1e400", "-1e400", '"NaN"', '"Infinity"', '"-inf"'])),
        )
    elif kind == "inspection":
        spec.type = "InspectionRecorded"
        spec.data = draw(st.sampled_from(BAD_INSPECTIONS))
    elif kind == "due-over":
        spec.type = "OrderCreated"
        spec.data = {
            "due_at": draw(
                st.sampled_from(["9999-12-31T23:59:59-14:00", "2100-01-01T00:00:00Z", "0001-01-01T00:00:00Z"])
            )
        }
    return spec


specs = st.one_of(live_specs(), dead_specs())


def of_kind(kind: str) -> st.SearchStrategy[Spec]:
    return live_specs(kind) if kind in LIVE_KINDS else dead_specs(kind)
