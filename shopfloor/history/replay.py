"""Replays the retained log into an in-memory store, stopping each partition at `at`.

The records go through the live projector's own path: `decode_records` with the same admission,
then `apply_batch` with the same handlers, one batch at a time. Each partition is read in offset
order and stops at its first record whose event time is after `at`; partitions are interleaved by
their log timestamps, the order the live consumer met them in.
"""

from __future__ import annotations

import asyncio
import heapq
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, Table, create_engine, event
from sqlalchemy.pool import QueuePool

from shopfloor.consumers.projector import decode_records
from shopfloor.events.codec import Admission
from shopfloor.events.envelope import Envelope
from shopfloor.store.batch import Batch, Rejected, apply_batch, ensure_version_row, load_positions
from shopfloor.store.bookkeeping import STORE_VERSION
from shopfloor.store.changes import Handler
from shopfloor.store.db import create_schema
from shopfloor.store.registry import TABLES
from shopfloor.transport.base import LogReader, Record, TopicPartition

GROUP = "as-of"
STALL_SECONDS = 30.0  # a broker that sends nothing for this long while records remain: give up
DECODE_SLICE = 256  # records decoded at a time while looking for the first one after `at`


class ReplayStalled(RuntimeError):
    """The log stopped answering before the replay reached `at`."""


@dataclass
class Replayed:
    """What a replay read and applied, for the page's footnote and the benchmark."""

    records: int = 0
    applied: int = 0
    seconds: float = 0.0
    positions: dict[TopicPartition, int] = field(default_factory=dict)
    first_ms: int | None = None  # the earliest event time among the partitions' first records read


def memory_store(image: bytes | None = None) -> Engine:
    """A private in-memory SQLite store (one connection); `image` is a serialized store to start from.
    Named and shared-cache, so that `composed` can attach it to another connection."""
    uri = f"file:as-of-{uuid.uuid4().hex}?mode=memory&cache=shared"
    raw = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
    if image is not None:
        try:
            _load_image(raw, image)
        except BaseException:
            raw.close()
            raise
    engine = _lent(raw, uri)
    create_schema(engine, TABLES)  # an image from an older version gains the tables added since
    ensure_version_row(engine)
    return engine


def _lent(raw: sqlite3.Connection, uri: str) -> Engine:
    """One connection, lent to one thread at a time: a page and its fragments read the same cached
    store from several request threads, and one SQLite connection holds one transaction."""
    url = URL.create("sqlite", database=uri)  # where `composed` finds it
    engine = create_engine(url, creator=lambda: raw, poolclass=QueuePool, pool_size=1, max_overflow=0)

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")

    return engine


def composed(parts: Sequence[tuple[Sequence[Table], Engine]], absent: Sequence[Table] = ()) -> Engine:
    """One read-only store over several as-of stores, each attached as it is (nothing copied): the
    tables each holds are views of it in this connection's temp schema (found before any attached
    database's), and the version row is the newest of theirs. A table in `absent` (a lean part's
    facts) is a view of nothing: reading it fails, rather than finding some part's partial copy."""
    raw = sqlite3.connect(
        "file:composed?mode=memory", uri=True, check_same_thread=False, isolation_level=None
    )
    versions = []
    for i, (tables, engine) in enumerate(parts):
        raw.execute(f"ATTACH DATABASE ? AS part{i}", (engine.url.database,))
        for table in tables:
            raw.execute(f'CREATE TEMP VIEW "{table.name}" AS SELECT * FROM part{i}."{table.name}"')
        versions.append(f"SELECT * FROM part{i}.{STORE_VERSION.name}")
    for table in absent:
        raw.execute(f'CREATE TEMP VIEW "{table.name}" AS SELECT * FROM main."{table.name}"')
    raw.execute(
        f"CREATE TEMP VIEW {STORE_VERSION.name} AS SELECT 1 AS id, max(version) AS version, "
        "max(last_event_ms) AS last_event_ms, max(last_commit_ms) AS last_commit_ms "
        f"FROM ({' UNION ALL '.join(versions)})"
    )
    return _lent(raw, "file:composed?mode=memory")


def _load_image(target: sqlite3.Connection, image: bytes) -> None:
    """Copied page by page into a plain in-memory database: one deserialized in place could never
    grow past SQLite's 1 GiB cap on such databases, and a plant's store gets there (about 0.1 s
    per 200 MB). Copied from a temporary file, not from a deserialized copy: that held the image a
    third time in memory, at the snapshotter's peak."""
    with tempfile.TemporaryDirectory(prefix="shopfloor-image-") as folder:
        path = Path(folder) / "image.sqlite"
        path.write_bytes(image)
        source = sqlite3.connect(path)
        try:
            source.backup(target)
        finally:
            source.close()


def event_ms(item: Envelope | Rejected) -> int | None:
    if isinstance(item, Envelope):
        return item.event_ms
    return item.record.timestamp_ms  # undecodable: where the log put it


def _cut(
    records: Sequence[Record], at_ms: int, admission: Admission | None
) -> tuple[list[tuple[Record, Envelope | Rejected]], bool, int | None]:
    """The records up to `at` (decoded), whether a later one ended the partition's part, and the
    first record's event time. Decoded a slice at a time: the records after `at` in the last chunk
    read are never decoded."""
    kept: list[tuple[Record, Envelope | Rejected]] = []
    first_ms: int | None = None
    for begin in range(0, len(records), DECODE_SLICE):
        part = records[begin : begin + DECODE_SLICE]
        items = decode_records(part, admission)
        if begin == 0 and items:
            first_ms = event_ms(items[0])
        for record, item in zip(part, items, strict=True):
            moment = event_ms(item)
            if moment is not None and moment > at_ms:
                return kept, True, first_ms
            kept.append((record, item))
    return kept, False, first_ms


def _merged(
    parts: list[list[tuple[Record, Envelope | Rejected]]],
) -> list[tuple[Record, Envelope | Rejected]]:
    """Interleaved by log timestamp; each partition keeps its own order (heapq.merge compares heads)."""
    return list(heapq.merge(*parts, key=lambda pair: pair[0].timestamp_ms or 0))


async def replay(
    reader: LogReader,
    engine: Engine,
    starts: dict[TopicPartition, int],
    ends: dict[TopicPartition, int],
    at_ms: int,
    handlers: Sequence[Handler],
    admission: Admission | None,
    max_records: int = 5000,
) -> Replayed:
    """Applies to `engine` each partition's records from its stored position (else from `starts`) up
    to `at` or the end offset; returns what it did."""
    started = time.perf_counter()
    stored: dict[TopicPartition, int | None] = dict.fromkeys(ends)
    stored.update(await asyncio.to_thread(load_positions, engine, GROUP))
    result = Replayed()
    pending = set()
    for tp, end in ends.items():
        start = stored[tp] if stored.get(tp) is not None else starts[tp]
        if start < end:
            pending.add(tp)
            reader.seek(tp, start)
    quiet_since = time.monotonic()
    while pending:
        fetched = await reader.read(timeout_ms=200, max_records=max_records)
        chunks = [(tp, [r for r in rs if r.offset < ends[tp]]) for tp, rs in fetched.items() if tp in pending]
        if not any(rs for _, rs in chunks):
            if time.monotonic() - quiet_since > STALL_SECONDS:
                raise ReplayStalled(
                    f"the log sent nothing for {STALL_SECONDS:.0f} s; {len(pending)} partitions unread"
                )
            continue
        quiet_since = time.monotonic()
        parts = []
        for tp, records in sorted(chunks):
            kept, done, first_ms = await asyncio.to_thread(_cut, records, at_ms, admission)
            if records and records[0].offset == starts.get(tp) and first_ms is not None:
                result.first_ms = first_ms if result.first_ms is None else min(result.first_ms, first_ms)
            if done or (records and records[-1].offset + 1 >= ends[tp]):
                pending.discard(tp)
                reader.pause(tp)
            if kept:
                parts.append(kept)
        if parts:
            pairs = _merged(parts)
            result.records += len(pairs)
            result.applied += await asyncio.to_thread(_apply, engine, pairs, stored, handlers)
    result.positions = {tp: offset for tp, offset in stored.items() if offset is not None}
    result.seconds = time.perf_counter() - started
    return result


def _apply(
    engine: Engine,
    pairs: list[tuple[Record, Envelope | Rejected]],
    stored: dict[TopicPartition, int | None],
    handlers: Sequence[Handler],
) -> int:
    next_offsets: dict[TopicPartition, int] = {}
    for record, _ in pairs:
        next_offsets[TopicPartition(record.topic, record.partition)] = record.offset + 1
    batch = Batch(
        GROUP, [item for _, item in pairs], {tp: stored.get(tp) for tp in next_offsets}, next_offsets
    )
    outcome = apply_batch(engine, batch, handlers, notify=False)
    stored.update(next_offsets)
    return outcome.applied


async def collect(
    reader: LogReader,
    starts: dict[TopicPartition, int],
    ends: dict[TopicPartition, int],
    since_ms: int,
    at_ms: int,
    admission: Admission | None,
    max_records: int = 5000,
) -> list[Envelope]:
    """The valid events with `since` < time <= `at`, each partition read from `starts` to its first
    record later than `at` (the same cut a replay makes)."""
    found: list[Envelope] = []
    pending = {tp for tp in ends if starts[tp] < ends[tp]}
    for tp in pending:
        reader.seek(tp, starts[tp])
    quiet_since = time.monotonic()
    while pending:
        fetched = await reader.read(timeout_ms=200, max_records=max_records)
        chunks = [(tp, [r for r in rs if r.offset < ends[tp]]) for tp, rs in fetched.items() if tp in pending]
        if not any(rs for _, rs in chunks):
            if time.monotonic() - quiet_since > STALL_SECONDS:
                raise ReplayStalled(f"the log sent nothing for {STALL_SECONDS:.0f} s")
            continue
        quiet_since = time.monotonic()
        for tp, records in chunks:
            kept, done, _ = await asyncio.to_thread(_cut, records, at_ms, admission)
            if done or (records and records[-1].offset + 1 >= ends[tp]):
                pending.discard(tp)
                reader.pause(tp)
            found += [item for _, item in kept if isinstance(item, Envelope) and item.event_ms > since_ms]
    return found
