"""The codec's fast path (msgspec envelope, payload validated from its JSON bytes) must decide every
record exactly as the checked path does: the same Envelope for a good record, and for a bad one the
checked path's reason (the fast path declines; it never invents a reason of its own)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings

from shopfloor.events.codec import (
    Admission,
    InvalidEvent,
    _decode_checked,
    cloud_event,
    decode,
    encode_structured,
)
from tests.security.hostile import Record, classics, records

ADMISSION = Admission({"WorkOrderStatusChanged": "mes.work-orders"}, 300_000)
NOW_MS = int(datetime(2026, 6, 1, tzinfo=UTC).timestamp() * 1000)


def _outcome(decoder: object, record: Record) -> object:
    _key, value, headers = record
    try:
        return decoder(
            value, headers, topic="mes.work-orders", timestamp_ms=NOW_MS, now_ms=NOW_MS, admission=ADMISSION
        )  # type: ignore[operator]
    except InvalidEvent as exc:
        return f"rejected: {exc}"


def _checked(value, headers, *, topic, timestamp_ms, now_ms, admission):  # type: ignore[no-untyped-def]
    return _decode_checked(value, headers, topic, 0, -1, timestamp_ms, now_ms, admission)


def _assert_same(record: Record) -> None:
    assert _outcome(decode, record) == _outcome(_checked, record)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records())
def test_fast_path_agrees_with_the_checked_path_on_hostile_records(record: Record) -> None:
    _assert_same(record)


def test_fast_path_agrees_on_the_classic_attacks() -> None:
    for record in classics():
        _assert_same(record)


def _structured(time: str, **data: object) -> Record:
    event = cloud_event("WorkOrderStatusChanged", data, source="s", event_id="e1", sequence=3)
    event["time"] = time
    value, headers = encode_structured(event)
    return None, value, headers


def test_fast_path_cases_at_the_edges() -> None:
    """Records the fast path parses differently from the stdlib (or not at all) decide the same."""
    cases = [
        _structured("2026-05-31T23:00:00.000Z", work_order_id="W1", status="RELEASED", quantity_done=5),
        _structured("2026-05-31T23:00:00+02:00", work_order_id="W1", status="RELEASED"),  # offset, not Z
        _structured("2026-06-01T00:10:00.000Z", work_order_id="W1", status="RELEASED"),  # too far ahead
        _structured("1969-12-31T23:59:59Z", work_order_id="W1", status="RELEASED"),  # before 1970
        _structured("2026-05-31T23:00:00Z", work_order_id="W1", status="RELEASED", quantity_done=5.0),
        _structured("2026-05-31T23:00:00Z", work_order_id="W1", status="RELEASED", ideal_cycle_s="5"),
        _structured("2026-05-31T23:00:00Z", work_order_id="", status="RELEASED"),
        _structured("2026-05-31T23:00:00Z", work_order_id="W\u00e9", status="RELEASED"),
        _structured("not a time", work_order_id="W1", status="RELEASED"),
    ]
    good = cases[0][1]
    assert good is not None
    cases += [
        (None, good.replace(b'"data":{', b'"x":"\xff","data":{'), []),  # bad UTF-8 in an ignored member
        (None, good.replace(b'"data":{', b'"x":NaN,"data":{'), []),  # a JSON constant
        (None, good.replace(b'"W1"', b'"W1\\u0000"'), []),  # escaped NUL
        (None, good.replace(b'"sequence":"3"', b'"sequence":123456789012345678901234567890'), []),
        (None, good.replace(b'"id":"e1"', b'"id":"e1","id":"e2"'), []),  # duplicate member: last wins
        (None, good.replace(b'"RELEASED"', b'"RELEASED","status":"BOGUS"'), []),
    ]
    for record in cases:
        _assert_same(record)
    assert not isinstance(_outcome(decode, cases[0]), str)  # the good one decodes
