"""Hypothesis strategies for hostile Kafka records: broken envelopes, wrong data, raw garbage."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from shopfloor.events.models import EVENT_TYPES

KNOWN_TYPES = sorted(EVENT_TYPES)
Record = tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(["", " ", "\u0000", "\ud7ff\uffff", "<script>x</script>", "NaN", "1e999", "-0"]),
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = [
    "work_order_id",
    "status",
    "line_id",
    "quantity_planned",
    "quantity_done",
    "equipment_id",
    "sensor",
    "value",
    "unit",
    "sku",
    "location",
    "delta",
    "reason",
    "order_id",
    "lines",
    "due_at",
    "alert_id",
    "inspection_id",
    "result",
    "defects",
]
STATUSES = ["PLANNED", "RELEASED", "IN_PROGRESS", "RUNNING", "DOWN", "RECEIPT", "PICK", "bogus", ""]


@st.composite
def data_objects(draw: st.DrawFn) -> Any:
    """Mostly plausible `data` with wrong types and missing fields mixed in; sometimes not an object."""
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values)
    fields = draw(st.lists(st.sampled_from(FIELDS), max_size=8, unique=True))
    plausible = st.one_of(
        st.text(min_size=1, max_size=12),
        st.sampled_from(STATUSES),
        st.integers(-5, 50),
        st.floats(allow_nan=True, allow_infinity=True),
    )
    return {name: draw(st.one_of(plausible, json_values)) for name in fields}


@st.composite
def envelopes(draw: st.DrawFn) -> dict[str, Any]:
    envelope: dict[str, Any] = {
        "specversion": draw(st.sampled_from(["1.0", "1.0", "0.3", 1.0, None])),
        "id": draw(st.one_of(st.text(min_size=1, max_size=8), st.integers(), st.just(""), st.none())),
        "type": draw(st.one_of(st.sampled_from(KNOWN_TYPES), st.text(max_size=20), st.integers())),
        "source": draw(st.one_of(st.just("fuzz/src"), st.text(max_size=8), st.none(), st.lists(st.text()))),
        "time": draw(
            st.one_of(
                st.just("2026-11-27T08:00:00Z"),
                st.just("2026-11-27T08:00:00"),
                st.text(max_size=30),
                st.integers(),
                st.floats(),
            )
        ),
        "data": draw(data_objects()),
    }
    if draw(st.booleans()):
        envelope["sequence"] = draw(st.one_of(st.integers(-3, 10**20), st.text(max_size=25), json_values))
    for name in draw(
        st.lists(st.sampled_from(["id", "type", "source", "time", "data", "specversion"]), max_size=2)
    ):
        envelope.pop(name, None)
    return envelope


def _json(value: Any) -> bytes:
    """NaN and Infinity written as JSON tokens; lone surrogates become invalid UTF-8 on purpose."""
    return json.dumps(value, allow_nan=True, ensure_ascii=False).encode("utf-8", "surrogatepass")


@st.composite
def valid_envelopes(draw: st.DrawFn) -> dict[str, Any]:
    """Well-formed events with hostile text; ids and sequences drawn from small sets, so duplicates
    and stale (lower-sequence) events occur."""
    text = st.text(min_size=1, max_size=draw(st.sampled_from([20, 2_000])))
    kind = draw(st.sampled_from(["wo", "sensor", "stock"]))
    if kind == "wo":
        data: dict[str, Any] = {
            "work_order_id": f"WO-F{draw(st.integers(0, 5))}",
            "status": draw(st.sampled_from(STATUSES[:3])),
            "product": draw(text),
        }
        event_type = "WorkOrderStatusChanged"
    elif kind == "sensor":
        data = {
            "equipment_id": f"M-F{draw(st.integers(0, 3))}",
            "sensor": "temperature",
            "value": draw(st.floats(-1e300, 1e300)),
            "unit": draw(text),
        }
        event_type = "SensorReading"
    else:
        data = {
            "sku": draw(text),
            "location": "B1",
            "delta": draw(st.integers(-1000, 1000)),
            "reason": "COUNT_CORRECTION",
        }
        event_type = "InventoryAdjusted"
    envelope = {
        "specversion": "1.0",
        "id": f"f-{draw(st.integers(0, 40))}",
        "type": event_type,
        "source": "fuzz/valid",
        "time": "2026-11-27T08:00:00Z",
        "data": data,
    }
    if kind == "wo":
        envelope["sequence"] = draw(st.integers(1, 6))
    return envelope


@st.composite
def records(draw: st.DrawFn) -> Record:
    """One Kafka record (key, value, headers) of one hostile kind."""
    kind = draw(
        st.sampled_from(
            ["structured", "structured", "binary", "garbage", "bad-utf8", "deep", "valid", "valid", "valid"]
        )
    )
    key = draw(st.one_of(st.none(), st.binary(max_size=16)))
    if kind == "structured":
        return key, _json(draw(envelopes())), []
    if kind == "valid":
        return key, _json(draw(valid_envelopes())), []
    if kind == "binary":
        envelope = draw(envelopes())
        data = envelope.pop("data", None)
        headers = [(f"ce_{k}", str(v).encode("utf-8", "surrogatepass")) for k, v in envelope.items()]
        headers += draw(st.lists(st.tuples(st.text(max_size=10), st.binary(max_size=20)), max_size=2))
        return key, _json(data), headers
    if kind == "garbage":
        return key, draw(st.one_of(st.none(), st.binary(max_size=300))), []
    if kind == "bad-utf8":
        inner = _json(draw(envelopes()))
        cut = draw(st.integers(0, len(inner)))
        return (
            key,
            inner[:cut]
            + draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90"]))
            + inner[cut:],
            [],
        )
    return key, b"[" * draw(st.sampled_from([200, 5_000, 100_000])), []


def _huge(size: int) -> bytes:
    envelope = {
        "specversion": "1.0",
        "id": f"huge-{size}",
        "type": "WorkOrderStatusChanged",
        "source": "fuzz/huge",
        "time": "2026-11-27T08:00:00Z",
        "data": {"work_order_id": f"WO-H{size}", "status": "PLANNED", "product": ""},
    }
    value = _json(envelope)
    return value.replace(b'"product": ""', b'"product": "' + b"x" * (size - len(value)) + b'"')


def _event(**override: Any) -> dict[str, Any]:
    base = {
        "specversion": "1.0",
        "id": "c",
        "type": "SensorReading",
        "source": "fuzz/classic",
        "time": "2026-11-27T08:00:00Z",
        "data": {"equipment_id": "M1", "sensor": "t", "value": 1.0},
    }
    return {**base, **override}


def classics() -> list[Record]:
    """The named cases, always sent: 1 MB values (one just under, one just over the limit), deep
    nesting, NaN / Infinity, invalid UTF-8, NUL, an empty value, unknown types, wrong types."""
    deep = b'{"specversion":"1.0","data":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    return [
        (b"k", _huge(1_000_000 - 100), []),
        (b"k", _huge(1_000_001), []),
        (None, deep, []),
        (
            None,
            _json(_event(id="nan", data={"equipment_id": "M1", "sensor": "t", "value": float("nan")})),
            [],
        ),
        (
            None,
            _json(_event(id="inf", data={"equipment_id": "M1", "sensor": "t", "value": float("inf")})),
            [],
        ),
        (None, b'{"specversion":"1.0","id":"x\xff"}', []),
        (None, _json(_event(id="nul", source="a\u0000b")), []),
        (None, b"", []),
        (None, None, []),
        (None, _json(_event(id="unknown", type="Nope")), []),
        (None, _json(_event(id="wrong", data={"equipment_id": 5, "sensor": ["t"], "value": "hot"})), []),
        (None, _json(_event(id="seq", sequence={"a": 1})), []),
        (None, _json([1, 2, 3]), []),
        (b"\xff", b"\x00" * 64, [("ce_id", b"\xff\xfe"), ("", b"")]),
    ]
