"""The pure defences against hostile records: bounded time, types on their own topic, finite amounts,
null and binary header values stored byte for byte, dead letters cut to fit their topic."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shopfloor.config import Settings
from shopfloor.consumers.dead_letters import fitted
from shopfloor.consumers.projector import admission, decode_records
from shopfloor.events.codec import Admission, InvalidEvent, decode
from shopfloor.store.batch import Rejected
from shopfloor.store.bookkeeping import decode_headers, encode_headers
from shopfloor.transport.base import Record
from tests.support import encode, event, wo

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
MINUTE_MS = 60_000


def _sensor(at: datetime) -> dict:  # type: ignore[type-arg]
    return event("SensorReading", {"equipment_id": "M1", "sensor": "t", "value": 1.0}, at=at)


@pytest.mark.parametrize("binary", [False, True])
def test_time_ahead_of_the_log_timestamp_or_the_clock_by_more_than_the_skew_is_rejected(binary: bool) -> None:
    rules = Admission(max_skew_ms=5 * MINUTE_MS)
    ahead = encode(_sensor(NOW + timedelta(minutes=6)), binary)
    with pytest.raises(InvalidEvent, match="360 s ahead of the record's log timestamp"):
        decode(*ahead, timestamp_ms=NOW_MS, admission=rules)
    with pytest.raises(InvalidEvent, match="360 s ahead of the consumer's clock"):
        decode(*ahead, now_ms=NOW_MS, admission=rules)
    # a log timestamp from 2030 does not vouch for a 2030 event: the clock still bounds it
    with pytest.raises(InvalidEvent, match="ahead of the consumer's clock"):
        decode(*ahead, timestamp_ms=NOW_MS + 10**10, now_ms=NOW_MS, admission=rules)
    within = decode(*encode(_sensor(NOW + timedelta(minutes=4)), binary), timestamp_ms=NOW_MS, now_ms=NOW_MS)
    assert within.clock_ms == NOW_MS  # windows never run ahead of the log
    late = decode(*encode(_sensor(NOW - timedelta(days=3)), binary), timestamp_ms=NOW_MS, now_ms=NOW_MS)
    assert late.clock_ms == NOW_MS - 3 * 24 * 60 * MINUTE_MS


@pytest.mark.parametrize(
    "moment",
    [
        "9999-12-31T23:59:59-14:00",
        "0001-01-01T00:00:00+14:00",
        "2100-01-01T00:00:00Z",
        "1969-12-31T23:59:59Z",
    ],
)
def test_every_instant_outside_1970_to_2100_utc_is_a_dead_letter(moment: str) -> None:
    time_event = _sensor(NOW)
    time_event["time"] = moment
    with pytest.raises(InvalidEvent, match="'time' must lie between 1970-01-01 and 2100-01-01"):
        decode(*encode(time_event))
    due = event("OrderCreated", {"order_id": "SO-1", "due_at": moment})
    with pytest.raises(InvalidEvent, match=r"due_at: .*1970-01-01 and 2100-01-01"):
        decode(*encode(due))
    shelve = event("AlertShelved", {"alert_id": "A1", "until": moment})
    with pytest.raises(InvalidEvent, match=r"until: .*1970-01-01 and 2100-01-01"):
        decode(*encode(shelve))


def test_instants_inside_the_range_keep_their_offset() -> None:
    due = decode(*encode(event("OrderCreated", {"order_id": "SO-1", "due_at": "2099-12-31T23:59:59+01:00"})))
    assert due.data.due_at == datetime(2099, 12, 31, 22, 59, 59, tzinfo=UTC)


@pytest.mark.parametrize("amount", ["1e400", '"NaN"', '"Infinity"', "-1e400"])
def test_a_payment_amount_must_be_finite(amount: str) -> None:
    value, headers = encode(event("PaymentProcessed", {"order_id": "SO-1", "amount": 0}))
    value = value.replace(b'"amount":0', b'"amount":' + amount.encode())
    with pytest.raises(InvalidEvent, match=r"amount: .*finite"):
        decode(value, headers)
    assert (
        decode(*encode(event("PaymentProcessed", {"order_id": "SO-1", "amount": 12.5}))).data.amount == 12.5
    )


def test_an_event_type_is_accepted_only_on_its_configured_topic() -> None:
    settings = Settings(topic_sensors="plant.iot", topic_work_orders="plant.mes")
    rules = admission(settings)
    reading = encode(_sensor(NOW))
    assert decode(*reading, topic="plant.iot", admission=rules).type == "SensorReading"
    with pytest.raises(InvalidEvent, match=r"SensorReading belongs on topic 'plant.iot', not 'plant.mes'"):
        decode(*reading, topic="plant.mes", admission=rules)
    order = encode(event("WorkOrderStatusChanged", wo("WO-1", "RELEASED")), binary=True)
    with pytest.raises(InvalidEvent, match=r"belongs on topic 'plant.mes'"):
        decode(*order, topic="iot.sensors", admission=rules)


def test_null_and_binary_header_values_never_escape_decoding() -> None:
    value, headers = encode(_sensor(NOW), binary=True)
    nulls = [(name, None if name == "ce_source" else raw) for name, raw in headers]
    with pytest.raises(InvalidEvent, match="header 'ce_source' has no value"):
        decode(value, nulls)
    records = [
        Record("t", 0, 0, None, b"\xff{", (("x", None), ("ce_id", None))),
        Record("t", 0, 1, None, None, (("ce_specversion", b"\xff\xfe"),)),
        Record("t", 0, 2, None, value, ((None, b"1"),)),  # type: ignore[arg-type]  # what a broken client sends
    ]
    items = decode_records(records, Admission(), now_ms=NOW_MS)
    assert [type(i).__name__ for i in items] == ["Rejected", "Rejected", "Rejected"]


header_values = st.one_of(st.none(), st.binary(max_size=40), st.text(max_size=20).map(str.encode))


@given(st.lists(st.tuples(st.text(max_size=12), header_values), max_size=8))
def test_dead_letter_headers_come_back_byte_for_byte(headers: list[tuple[str, bytes | None]]) -> None:
    column = encode_headers(headers)
    json.loads(column)  # stored as plain JSON text
    assert decode_headers(column) == headers


def test_text_headers_are_stored_as_text_as_before() -> None:
    column = encode_headers([("origin", b"fuzz"), ("n", None), ("b", b"\xff\x00")])
    assert json.loads(column) == [["origin", "fuzz"], ["n", None], ["b", {"base64": "/wA="}]]


def test_a_record_over_the_dead_letter_limit_is_cut_with_a_note() -> None:
    big = Record("t", 3, 9, b"k", b"x" * 3_000_000, (("h", None), ("b", b"\xff")))
    value, key, headers = fitted(Rejected(big, "too big"), 100_000)
    size = len(value or b"") + len(key or b"") + sum(len(n) + len(v or b"") for n, v in headers)
    assert size <= 100_000 and key == b"k"
    names = dict(headers)
    assert names["dlq_truncated"].startswith(b"value cut from 3000000 to ")
    assert (names["dlq_reason"], names["dlq_topic"], names["dlq_offset"]) == (b"too big", b"t", b"9")
    assert ("h", None) in headers and ("b", b"\xff") in headers  # the original headers ride along
    small = Record("t", 0, 1, None, b"{}", ())
    value, key, headers = fitted(Rejected(small, "why"), 100_000)
    assert value == b"{}" and "dlq_truncated" not in dict(headers)


@pytest.mark.parametrize("sequence", [2**63, -(2**63) - 1, 10**20])
def test_a_sequence_must_fit_the_stores_64_bit_column(sequence: int) -> None:
    evt = event("WorkOrderStatusChanged", wo("WO-1", "RELEASED"))
    evt["sequence"] = sequence
    with pytest.raises(InvalidEvent, match="'sequence' must be an integer of 64 bits"):
        decode(*encode(evt))
    evt["sequence"] = 2**63 - 1
    assert decode(*encode(evt)).sequence == 2**63 - 1
