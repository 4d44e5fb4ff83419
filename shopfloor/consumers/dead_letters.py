"""Writing dead letters so that no record can stop the consumer.

Each rejected record goes to `<topic>.dlq` with its original key, value and headers plus `dlq_*`
headers saying why. A record too large for the dead-letter topic is cut to fit (a `dlq_truncated`
header says so; the table keeps every byte). If the log still refuses it, it is *parked*: kept in the
dead-letter table as PARKED, counted and logged, so the difference between table and topic is known.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Sequence

from shopfloor import metrics
from shopfloor.store.batch import Rejected
from shopfloor.transport.base import EventSink

log = logging.getLogger(__name__)
Headers = list[tuple[str, bytes | None]]
RECORD_OVERHEAD = 512  # record and batch framing, generously
DELIVERY_TIMEOUT = 60.0


def dead_letter_headers(rejected: Rejected) -> Headers:
    record = rejected.record
    return [
        *record.headers,
        ("dlq_reason", rejected.reason.encode("utf-8", "backslashreplace")),
        ("dlq_topic", record.topic.encode("utf-8", "backslashreplace")),
        ("dlq_partition", str(record.partition).encode()),
        ("dlq_offset", str(record.offset).encode()),
    ]


def _headers_size(headers: Headers) -> int:
    return sum(len(name.encode("utf-8", "surrogatepass")) + len(value or b"") + 8 for name, value in headers)


def fitted(rejected: Rejected, max_bytes: int) -> tuple[bytes | None, bytes | None, Headers]:
    """(value, key, headers) of the dead-letter record, cut so the whole stays within `max_bytes`."""
    record = rejected.record
    headers = dead_letter_headers(rejected)
    key = record.key
    if len(key or b"") > max_bytes // 4:
        key = None
        headers.append(("dlq_key_dropped", f"key of {len(record.key or b'')} bytes dropped".encode()))
    if _headers_size(headers) > max_bytes // 2:
        headers = [h for h in headers if h[0].startswith("dlq_")]
        headers.append(("dlq_headers_dropped", f"{len(record.headers)} original headers dropped".encode()))
    value = record.value
    room = max_bytes - RECORD_OVERHEAD - len(key or b"") - _headers_size(headers) - 100
    if value is not None and len(value) > room:
        note = f"value cut from {len(value)} to {room} bytes; the dead-letter table keeps all of it"
        headers.append(("dlq_truncated", note.encode()))
        value = value[: max(0, room)]
    return value, key, headers


class DeadLetterWriter:
    """Sends rejected records to their `.dlq` topics and waits until the log has each of them."""

    def __init__(self, sink: EventSink, max_bytes: int = 1_000_000) -> None:
        self._sink = sink
        self._max_bytes = max_bytes

    async def write(self, items: Sequence[Rejected]) -> list[Rejected]:
        """The same records, those the log would not take marked parked (with why)."""
        first: list[Awaitable[object] | BaseException | None] = []
        for rejected in items:
            try:
                message = fitted(rejected, self._max_bytes)
            except Exception as exc:  # headers no client should have sent: the bare retry below
                first.append(exc)
                continue
            first.append(await self._queue(rejected, *message))
        done: list[Rejected] = []
        for rejected, pending in zip(items, first, strict=True):
            error = await _settled(pending)
            if error is not None:  # one more try with nothing but the reason
                log.warning("dead letter refused by the log (%s); retrying without its value", error)
                bare = [h for h in dead_letter_headers(rejected) if h[0].startswith("dlq_")]
                bare.append(("dlq_value_dropped", f"the log refused it: {_brief(error)}".encode()))
                error = await _settled(await self._queue(rejected, None, None, bare))
            topic = rejected.record.topic
            metrics.DEAD_LETTERS.labels(topic).inc()
            if error is None:
                done.append(rejected)
                continue
            metrics.PARKED.labels(topic).inc()
            log.error(
                "record %s[%d]@%d parked: %s.dlq refused it (%s); it stays in the dead-letter table only",
                topic,
                rejected.record.partition,
                rejected.record.offset,
                topic,
                _brief(error),
            )
            done.append(dataclasses.replace(rejected, parked=f"{topic}.dlq refused it: {_brief(error)}"))
        return done

    async def _queue(
        self, rejected: Rejected, value: bytes | None, key: bytes | None, headers: Headers
    ) -> Awaitable[object] | BaseException | None:
        if value is None and key is None:
            key = b""  # the log needs one of the two
        try:
            return await self._sink.send(f"{rejected.record.topic}.dlq", value, key, headers)
        except Exception as exc:  # e.g. over the producer's request size: never the consumer's end
            return exc


async def _settled(pending: Awaitable[object] | BaseException | None) -> BaseException | None:
    if pending is None:
        return None
    if isinstance(pending, BaseException):
        return pending
    task = asyncio.ensure_future(pending)
    finished, _ = await asyncio.wait({task}, timeout=DELIVERY_TIMEOUT)
    if not finished:
        return TimeoutError(f"no acknowledgement within {DELIVERY_TIMEOUT:.0f} s")
    if task.cancelled():
        return asyncio.CancelledError("delivery cancelled")
    return task.exception()


def _brief(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
