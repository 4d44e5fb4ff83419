"""Decoding both CloudEvents Kafka bindings, and the reasons bad records are dead-lettered with."""

from __future__ import annotations

import json

import pytest

from shopfloor.events.codec import InvalidEvent, decode, encode_binary
from shopfloor.events.models import WorkOrderStatusChanged
from tests.support import encode, event, wo


def test_structured_mode_decodes_envelope_and_data() -> None:
    evt = event(
        "WorkOrderStatusChanged",
        wo("WO-1", "RELEASED", quantity_planned=10),
        sequence=3,
        correlationid="corr-9",
        source="mes/line-3",
    )
    value, headers = encode(evt)
    decoded = decode(value, headers, topic="mes.work-orders", partition=2, offset=41)
    assert isinstance(decoded.data, WorkOrderStatusChanged)
    assert decoded.data.status == "RELEASED"
    assert decoded.data.quantity_planned == 10
    assert (decoded.source, decoded.sequence, decoded.correlationid) == ("mes/line-3", 3, "corr-9")
    assert (decoded.topic, decoded.partition, decoded.offset) == ("mes.work-orders", 2, 41)
    assert decoded.time.tzinfo is not None


def test_binary_mode_reads_ce_headers() -> None:
    evt = event("WorkOrderStatusChanged", wo("WO-2", "IN_PROGRESS"), sequence=7)
    value, headers = encode(evt, binary=True)
    assert json.loads(value) == evt["data"]
    decoded = decode(value, headers)
    assert decoded.id == evt["id"]
    assert decoded.sequence == 7
    assert decoded.data.entity_id() == "WO-2"


def test_a_sequence_string_may_carry_surrounding_whitespace_and_a_bad_traceparent_is_ignored() -> None:
    evt = event("WorkOrderStatusChanged", wo("WO-5", "PLANNED"))
    evt.update(sequence=" -12 ", traceparent=["not", "a", "trace"])
    decoded = decode(*encode(evt))
    assert (decoded.sequence, decoded.traceparent) == (-12, None)


def test_a_binary_mode_attribute_header_must_carry_utf8() -> None:
    value, headers = encode_binary(event("WorkOrderStatusChanged", wo("WO-6", "PLANNED")))
    for bad in (None, b"\xff"):
        with pytest.raises(InvalidEvent, match="ce_subject"):
            decode(value, [*headers, ("ce_subject", bad)])
    assert decode(value, [*headers, ("x-other", None), ("x-bytes", b"\xff")]).data.entity_id() == "WO-6"


def test_unknown_extra_fields_are_ignored() -> None:
    evt = event("WorkOrderStatusChanged", {**wo("WO-3", "PLANNED"), "future_field": {"x": 1}})
    evt["someextension"] = "kept out of the way"
    assert decode(*encode(evt)).data.entity_id() == "WO-3"


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda e: e.pop("id"), "'id' is required"),
        (lambda e: e.update(id=""), "'id' is required"),
        (lambda e: e.update(type="Nope"), "unknown event type"),
        (lambda e: e.pop("source"), "'source' is required"),
        (lambda e: e.pop("time"), "'time' is required"),
        (lambda e: e.update(time="yesterday"), "not RFC 3339"),
        (lambda e: e.update(time="2026-11-27T08:00:00"), "UTC offset"),
        (lambda e: e.update(specversion="0.3"), "specversion"),
        (lambda e: e.update(sequence="abc"), "'sequence' must be an integer"),
        (lambda e: e.update(sequence="--3"), "'sequence' must be an integer"),
        (lambda e: e.update(sequence="\u00b2"), "'sequence' must be an integer"),  # a superscript two
        (lambda e: e.update(sequence="\u0663"), "'sequence' must be an integer"),  # an Arabic-Indic three
        (lambda e: e.update(sequence="+3"), "'sequence' must be an integer"),
        (lambda e: e.update(sequence=3.0), "'sequence' must be an integer"),
        (lambda e: e.update(sequence=2**63), "'sequence' must be an integer of 64 bits"),
        (lambda e: e.update(id="   "), "'id' is required"),
        (lambda e: e.update(source="x" * 501), "'source' is longer than 500 characters"),
        (lambda e: e.update(subject="x" * 501), "'subject' must be a string of at most 500 characters"),
        (lambda e: e.update(correlationid=7), "'correlationid' must be a string"),
        (lambda e: e["data"].pop("work_order_id"), "work_order_id: Field required"),
        (lambda e: e["data"].update(status="DONE"), "status"),
        (lambda e: e["data"].update(quantity_done=-1), "quantity_done"),
        (lambda e: e["data"].update(quantity_done="5"), "quantity_done"),
        (lambda e: e.update(data=[1, 2]), "'data' must be a JSON object"),
    ],
)
def test_invalid_envelopes_give_a_reason(mutate, reason: str) -> None:  # type: ignore[no-untyped-def]
    evt = event("WorkOrderStatusChanged", wo("WO-4", "PLANNED"))
    mutate(evt)
    with pytest.raises(InvalidEvent, match=reason):
        decode(*encode(evt))


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe not utf-8", "not valid UTF-8"),
        (b"{not json", "not JSON"),
        (b"[1,2,3]", "not a JSON object"),
        (None, "tombstone"),
        (
            b'{"specversion":"1.0","id":"x","type":"SensorReading","source":"s","time":"2026-11-27T08:00:00Z",'
            b'"data":{"equipment_id":"M1","sensor":"t","value":NaN}}',
            "NaN is not allowed",
        ),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b"x" * 1_000_001, "byte limit"),
    ],
)
def test_garbage_records_give_a_reason(raw: bytes | None, reason: str) -> None:
    with pytest.raises(InvalidEvent, match=reason):
        decode(raw, [])


def test_sensor_value_must_be_a_finite_number() -> None:
    evt = event("SensorReading", {"equipment_id": "M1", "sensor": "temperature", "value": "hot"})
    with pytest.raises(InvalidEvent, match="value"):
        decode(*encode(evt))
    evt["data"]["value"] = 1e400
    value = json.dumps(evt).replace("Infinity", "1e400").encode()
    with pytest.raises(InvalidEvent):
        decode(value, [])
