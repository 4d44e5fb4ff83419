"""Decoding and encoding of both CloudEvents 1.0 Kafka bindings (structured and binary mode)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
from pydantic import ValidationError

from shopfloor.events.envelope import Envelope
from shopfloor.events.models import EARLIEST, EVENT_TYPES, LATEST, plausible_instant

Headers = Sequence[tuple[str, bytes | None]]
MAX_VALUE_BYTES = 1_000_000
DEFAULT_MAX_SKEW_MS = 300_000


@dataclass(frozen=True)
class Admission:
    """What a record must satisfy beyond its schema, from configuration.

    `topics` maps each event type to the one topic it may arrive on (None: any topic); an event's
    `time` may be at most `max_skew_ms` ahead of the record's log timestamp and of the wall clock.
    """

    topics: Mapping[str, str] | None = None
    max_skew_ms: int = DEFAULT_MAX_SKEW_MS


_DEFAULT_ADMISSION = Admission()


class InvalidEvent(ValueError):
    """A record that cannot become an Envelope; its message is the dead-letter reason."""


def _reject_constant(name: str) -> float:
    raise InvalidEvent(f"JSON constant {name} is not allowed")


# One decoder for every record: json.loads builds a new JSONDecoder on each call given any option.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def _loads(raw: bytes | None, what: str) -> Any:
    if raw is None:
        raise InvalidEvent(f"{what} is empty (tombstone record)")
    if len(raw) > MAX_VALUE_BYTES:
        raise InvalidEvent(f"{what} is {len(raw)} bytes, over the {MAX_VALUE_BYTES} byte limit")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidEvent(f"{what} is not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    if "\x00" in text or "\\u0000" in text:
        raise InvalidEvent(f"{what} contains NUL characters")
    try:
        return _DECODER.decode(text)
    except RecursionError:
        raise InvalidEvent(f"{what} is nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise InvalidEvent(f"{what} is not JSON: {exc.msg} at position {exc.pos}") from None


def _parse_time(value: object) -> datetime:
    if not isinstance(value, str):
        raise InvalidEvent("attribute 'time' is required (RFC 3339 string)")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidEvent(f"attribute 'time' is not RFC 3339: {value[:60]!r}") from None
    try:
        plausible_instant(parsed)
    except ValueError as exc:
        raise InvalidEvent(f"attribute 'time' {exc}: {value[:60]!r}") from None
    return parsed.astimezone(UTC)


def _parse_utc(value: str) -> datetime:
    """A `time` in UTC ("...Z"), as producers write it: `_parse_time` without its conversions."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is not UTC or not EARLIEST <= parsed < LATEST:
        return _parse_time(value)
    return parsed


def _check_skew(time: datetime, timestamp_ms: int | None, now_ms: int | None, max_skew_ms: int) -> int:
    """A `time` far ahead of the log's timestamp or of our clock is a wrong device clock, not a fact:
    accepted, it would carry every window and retention cut-off into the future with it."""
    time_ms = int(time.timestamp() * 1000)
    for clock_ms, what in ((timestamp_ms, "the record's log timestamp"), (now_ms, "the consumer's clock")):
        if clock_ms is not None and time_ms - clock_ms > max_skew_ms:
            raise InvalidEvent(
                f"attribute 'time' is {(time_ms - clock_ms) / 1000:.0f} s ahead of {what} "
                f"(at most {max_skew_ms / 1000:.0f} s allowed)"
            )
    return time_ms


def _parse_sequence(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise InvalidEvent("extension 'sequence' must be an integer")
    if isinstance(value, str) and len(value) < 30:
        text = value.strip()
        digits = text[1:] if text.startswith("-") else text
        if digits.isascii() and digits.isdecimal():  # what `int` reads, less its other scripts
            value = int(text)
    if isinstance(value, int) and -(2**63) <= value < 2**63:  # what the store's BIGINT holds
        return value
    raise InvalidEvent(f"extension 'sequence' must be an integer of 64 bits, got {str(value)[:40]!r}")


def _required_string(value: object, name: str) -> str:
    """Keep in step with `_plain_string`, the fast path's predicate."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidEvent(f"attribute '{name}' is required (non-empty string)")
    if len(value) > 500:
        raise InvalidEvent(f"attribute '{name}' is longer than 500 characters")
    return value


def _optional_string(value: object, name: str) -> str | None:
    """Keep in step with `_optional_plain`, the fast path's predicate."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 500:
        raise InvalidEvent(f"attribute '{name}' must be a string of at most 500 characters")
    return value


def _traceparent(value: object) -> str | None:
    """Tracing context is best effort: a malformed one is ignored, never a reason to reject the event."""
    return value if isinstance(value, str) and len(value) <= 256 else None


def _binary_attributes(headers: Headers) -> dict[str, Any] | None:
    attrs: dict[str, Any] = {}
    for name, raw in headers:
        if not name.startswith("ce_"):
            continue
        if raw is None:
            raise InvalidEvent(f"header '{name[:40]}' has no value")
        try:
            attrs[name[3:]] = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidEvent(f"header '{name[:40]}' is not valid UTF-8") from None
    return attrs if "specversion" in attrs else None


def decode(
    value: bytes | None,
    headers: Headers = (),
    *,
    topic: str = "",
    partition: int = 0,
    offset: int = -1,
    timestamp_ms: int | None = None,
    now_ms: int | None = None,
    admission: Admission | None = None,
) -> Envelope:
    """Turn one Kafka record into an Envelope, or raise InvalidEvent with the reason.

    `timestamp_ms` is the record's log timestamp and `now_ms` the wall clock (passed in, so decoding
    stays a pure function); each bounds how far ahead `time` may be. A structured record takes the
    fast path first; whatever it does not accept outright is decided by the checked path, whose
    reasons are the dead-letter reasons.
    """
    admission = admission or _DEFAULT_ADMISSION
    for name, _ in headers:
        if name.startswith("ce_"):
            break
    else:
        if value is not None:
            event = _decode_fast(value, topic, partition, offset, timestamp_ms, now_ms, admission)
            if event is not None:
                return event
    return _decode_checked(value, headers, topic, partition, offset, timestamp_ms, now_ms, admission)


class _Attributes(msgspec.Struct, gc=False):
    """The envelope attributes the codec reads, as JSON gave them (checked after), and `data` unparsed:
    pydantic validates it straight from its bytes, with no dict built on the way."""

    specversion: Any = None
    id: Any = None
    type: Any = None
    source: Any = None
    time: Any = None
    subject: Any = None
    correlationid: Any = None
    sequence: Any = None
    traceparent: Any = None
    data: msgspec.Raw = msgspec.Raw(b"null")


_ATTRIBUTES = msgspec.json.Decoder(_Attributes)
# Bytes sought as ints: `bytes in bytes` first tries its needle as an int, formatting a TypeError it
# then discards (about 1,900 instructions a test); `find` and an int needle go straight to the search.
_NUL = 0
_BACKSLASH = ord("\\")


def _decode_fast(
    value: bytes,
    topic: str,
    partition: int,
    offset: int,
    timestamp_ms: int | None,
    now_ms: int | None,
    admission: Admission,
) -> Envelope | None:
    """The Envelope of a well-formed structured record, or None for anything else (never a reason).

    Accepts only what `_decode_checked` accepts, with the same result: the same byte-level checks,
    the same attribute checks, and the payload model's own validator (from JSON, not a dict). The
    checks are predicates, not the checked path's raising helpers: this runs once per record on the
    ingest path, and declining costs nothing here."""
    if len(value) > MAX_VALUE_BYTES or _NUL in value or (_BACKSLASH in value and value.find(b"\\u0000") >= 0):
        return None  # (one byte is found faster than six: most events hold no escape at all)
    try:
        if not value.isascii():
            value.decode("utf-8")  # msgspec skips ignored members without checking their bytes
        attrs = _ATTRIBUTES.decode(value)
        event_type = attrs.type
        model = EVENT_TYPES.get(event_type) if type(event_type) is str else None
        if model is None or attrs.specversion != "1.0":
            return None
        home = admission.topics.get(event_type) if admission.topics is not None else None
        if home is not None and topic and topic != home:
            return None
        event_id, source, time = attrs.id, attrs.source, attrs.time
        if not (_plain_string(event_id) and _plain_string(source) and type(time) is str):
            return None
        time = _parse_utc(time) if time.endswith("Z") else _parse_time(time)
        time_ms = int(time.timestamp() * 1000)
        latest_ms = time_ms - admission.max_skew_ms
        if (timestamp_ms is not None and latest_ms > timestamp_ms) or (
            now_ms is not None and latest_ms > now_ms
        ):
            return None
        subject, correlationid, sequence = attrs.subject, attrs.correlationid, attrs.sequence
        if not (_optional_plain(subject) and _optional_plain(correlationid)):
            return None
        return Envelope(
            id=event_id,
            type=event_type,
            source=source,
            time=time,
            data=model.__pydantic_validator__.validate_json(bytes(attrs.data)),
            subject=subject,
            correlationid=correlationid,
            sequence=None if sequence is None else _parse_sequence(sequence),
            traceparent=_traceparent(attrs.traceparent),
            topic=topic,
            partition=partition,
            offset=offset,
            log_ms=timestamp_ms,
            time_ms=time_ms,
        )
    except (ValueError, msgspec.MsgspecError, RecursionError):  # InvalidEvent, ValidationError too
        return None


def _plain_string(value: object) -> bool:
    """Exactly what `_required_string` accepts: the fast path may decline, never differ
    (`tests/unit/test_codec_fast_path.py`)."""
    return type(value) is str and 0 < len(value) <= 500 and not value.isspace()


def _optional_plain(value: object) -> bool:
    """Exactly what `_optional_string` accepts (as `_plain_string`)."""
    return value is None or (type(value) is str and len(value) <= 500)


def _decode_checked(
    value: bytes | None,
    headers: Headers,
    topic: str,
    partition: int,
    offset: int,
    timestamp_ms: int | None,
    now_ms: int | None,
    admission: Admission,
) -> Envelope:
    """Every record the fast path declined: each check in turn, raising InvalidEvent with the reason."""
    attrs = _binary_attributes(headers)
    if attrs is not None:
        data = _loads(value, "record value (binary-mode data)")
    else:
        attrs = _loads(value, "record value")
        if not isinstance(attrs, dict):
            raise InvalidEvent("record value is not a JSON object (structured CloudEvent)")
        data = attrs.get("data")
    if attrs.get("specversion") != "1.0":
        raise InvalidEvent(
            f"attribute 'specversion' must be '1.0', got {str(attrs.get('specversion'))[:20]!r}"
        )
    event_id = _required_string(attrs.get("id"), "id")
    event_type = _required_string(attrs.get("type"), "type")
    source = _required_string(attrs.get("source"), "source")
    model = EVENT_TYPES.get(event_type)
    if model is None:
        raise InvalidEvent(f"unknown event type {event_type[:100]!r}")
    home = admission.topics.get(event_type) if admission.topics is not None else None
    if home is not None and topic and topic != home:
        raise InvalidEvent(f"{event_type} belongs on topic {home[:100]!r}, not {topic[:100]!r}")
    time = _parse_time(attrs.get("time"))
    time_ms = _check_skew(time, timestamp_ms, now_ms, admission.max_skew_ms)
    if not isinstance(data, dict):
        raise InvalidEvent(f"{event_type}: 'data' must be a JSON object")
    try:
        payload = model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'data'}: {err['msg']}" for err in exc.errors()[:5]
        )
        raise InvalidEvent(f"{event_type}: {problems}") from None
    return Envelope(
        id=event_id,
        type=event_type,
        source=source,
        time=time,
        data=payload,
        subject=_optional_string(attrs.get("subject"), "subject"),
        correlationid=_optional_string(attrs.get("correlationid"), "correlationid"),
        sequence=_parse_sequence(attrs.get("sequence")),
        traceparent=_traceparent(attrs.get("traceparent")),
        topic=topic,
        partition=partition,
        offset=offset,
        log_ms=timestamp_ms,
        time_ms=time_ms,
    )


def cloud_event(
    event_type: str,
    data: Mapping[str, Any],
    *,
    source: str,
    time: datetime | None = None,
    event_id: str | None = None,
    subject: str | None = None,
    correlationid: str | None = None,
    sequence: int | None = None,
) -> dict[str, Any]:
    """Build a structured-mode CloudEvent as a dict (what producers and the simulator send)."""
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": event_id or uuid.uuid4().hex,
        "type": event_type,
        "source": source,
        "time": format_time(time or datetime.now(UTC)),
        "datacontenttype": "application/json",
        "data": dict(data),
    }
    if subject is not None:
        event["subject"] = subject
    if correlationid is not None:
        event["correlationid"] = correlationid
    if sequence is not None:
        event["sequence"] = str(sequence)
    return event


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def encode_structured(event: Mapping[str, Any]) -> tuple[bytes, list[tuple[str, bytes]]]:
    value = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
    return value, [("content-type", b"application/cloudevents+json")]


def encode_binary(event: Mapping[str, Any]) -> tuple[bytes, list[tuple[str, bytes]]]:
    headers = [
        (f"ce_{name}", str(value).encode())
        for name, value in event.items()
        if name not in ("data", "datacontenttype")
    ]
    headers.append(("content-type", b"application/json"))
    return json.dumps(event["data"], separators=(",", ":")).encode(), headers
