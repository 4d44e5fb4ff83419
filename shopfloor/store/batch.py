"""One batch, one transaction: read-model changes, consumer positions, applied ids, dead letters."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, String, and_, any_, bindparam, delete, select, text, tuple_, update
from sqlalchemy.dialects import postgresql

from shopfloor.events.envelope import Envelope
from shopfloor.store.bookkeeping import (
    APPLIED,
    DEAD,
    POSITIONS,
    STORE_IDENTITY,
    STORE_VERSION,
    VERSIONS,
    encode_headers,
)
from shopfloor.store.changes import EVERYTHING, ChangeNotice, Changes, Handler
from shopfloor.store.db import (
    begin_write,
    insert_ignore,
    insert_ignore_tuples,
    insert_new,
    upsert,
    upsert_tuples,
)
from shopfloor.store.entity import load
from shopfloor.transport.base import Record, TopicPartition

NOTIFY_CHANNEL = "shopfloor_changes"
APPLIED_COLUMNS = ("event_key", "event_ms")
VERSION_COLUMNS = ("stream", "entity_id", "sequence")
CLAIMED = -1  # a position row held by an open transaction that starts its partition


class PositionConflict(RuntimeError):
    """The stored position is not where this consumer expected: another worker moved it."""


@dataclass(frozen=True)
class Rejected:
    """A record that cannot be applied. `parked` says why its `.dlq` copy failed (then it is in the
    table only); `bare` stores only where it was and why, for a record whose full row failed."""

    record: Record
    reason: str
    parked: str | None = None
    bare: bool = False


@dataclass
class Batch:
    group_id: str
    items: list[Envelope | Rejected]
    expected: dict[TopicPartition, int | None]
    next_offsets: dict[TopicPartition, int]
    trace: str | None = None  # traceparent of the span applying it, handed on in the notice


@dataclass
class BatchResult:
    notice: ChangeNotice | None
    applied: int = 0
    duplicates: int = 0
    stale: int = 0
    dead: int = 0
    parked: int = 0
    commit_seconds: float = 0.0
    event_times_ms: list[int] = field(default_factory=list)
    clock_ms: int | None = None  # newest Envelope.clock_ms applied: what pruning may advance to


def load_positions(engine: Engine, group_id: str) -> dict[TopicPartition, int]:
    with engine.connect() as conn:
        rows = conn.execute(select(POSITIONS).where(POSITIONS.c.group_id == group_id))
        return {TopicPartition(r.topic, r.partition): r.next_offset for r in rows}


def _check_positions(conn: Connection, batch: Batch) -> None:
    """The batch's partitions must be where this worker left them; on PostgreSQL their rows stay
    locked until commit, so a worker that lost the partition in a rebalance cannot slip past."""
    query = select(POSITIONS).where(POSITIONS.c.group_id == batch.group_id)
    if conn.dialect.name == "postgresql":
        mine = [(tp.topic, tp.partition) for tp in sorted(batch.next_offsets)]
        _claim_new_partitions(conn, batch)
        query = query.where(tuple_(POSITIONS.c.topic, POSITIONS.c.partition).in_(mine)).with_for_update()
    stored = {
        TopicPartition(r.topic, r.partition): None if r.next_offset == CLAIMED else r.next_offset
        for r in conn.execute(query)
    }
    for tp in batch.next_offsets:
        if stored.get(tp) != batch.expected.get(tp):
            raise PositionConflict(
                f"{tp.topic}[{tp.partition}] is at {stored.get(tp)}, expected {batch.expected.get(tp)}"
            )


def _claim_new_partitions(conn: Connection, batch: Batch) -> None:
    """A partition with no position yet has no row to lock: insert a placeholder (never committed,
    the batch's own position replaces it), so a second worker starting the same partition waits for
    this transaction and then finds the position taken."""
    rows = [
        {"group_id": batch.group_id, "topic": tp.topic, "partition": tp.partition, "next_offset": CLAIMED}
        for tp in sorted(batch.next_offsets)
        if batch.expected.get(tp) is None
    ]
    insert_ignore(conn, POSITIONS, rows)


def _record_new(conn: Connection, events: Sequence[Envelope], keys: Sequence[str]) -> set[str] | None:
    """PostgreSQL: records the keys not applied before (each with its first event's time) and returns
    them, one statement instead of a lookup now and an insert after the folds, which cost as much
    again. None on SQLite, where the lookup and the insert are cheaper apart."""
    if conn.dialect.name != "postgresql":
        return None
    first = dict(zip(reversed(keys), [e.event_ms for e in reversed(events)], strict=True))
    return insert_new(conn, APPLIED, APPLIED_COLUMNS, list(first.items()), "event_key")


def _already_applied(conn: Connection, keys: Sequence[str]) -> set[str]:
    if conn.dialect.name == "postgresql":  # one statement, one array parameter
        wanted = bindparam("keys", list(keys), type_=postgresql.ARRAY(String))
        return set(
            conn.execute(select(APPLIED.c.event_key).where(APPLIED.c.event_key == any_(wanted))).scalars()
        )
    return {k for (k,) in load(conn, APPLIED, ("event_key",), "event_key", keys)}


def _stored_sequences(conn: Connection, entities: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Per stream, `entity_id IN (...)`: row-value IN lists make SQLite scan the whole table."""
    by_stream: dict[str, list[str]] = {}
    for stream, entity_id in entities:
        by_stream.setdefault(stream, []).append(entity_id)
    found: dict[tuple[str, str], int] = {}
    for stream, ids in by_stream.items():
        rows = load(conn, VERSIONS, ("entity_id", "sequence"), "entity_id", ids, {"stream": stream})
        found.update({(stream, entity_id): sequence for entity_id, sequence in rows})
    return found


def _bump_version(conn: Connection, last_event_ms: int | None) -> int:
    values: dict[str, object] = {
        "version": STORE_VERSION.c.version + 1,
        "last_commit_ms": int(time.time() * 1000),
    }
    if last_event_ms is not None:
        values["last_event_ms"] = last_event_ms
    bump = update(STORE_VERSION).where(STORE_VERSION.c.id == 1).values(**values)
    if conn.dialect.update_returning:  # one round trip instead of two (not on SQLite before 3.35)
        return conn.execute(bump.returning(STORE_VERSION.c.version)).scalar_one()
    conn.execute(bump)
    return conn.execute(select(STORE_VERSION.c.version).where(STORE_VERSION.c.id == 1)).scalar_one()


def ensure_version_row(engine: Engine) -> None:
    with begin_write(engine) as conn:
        insert_ignore(conn, STORE_VERSION, [{"id": 1, "version": 0}])
        insert_ignore(conn, STORE_IDENTITY, [{"id": 1, "epoch": uuid.uuid4().hex}])


def store_epoch(conn: Connection) -> str:
    """The store's identity (made once with it; a recreated store has a new one)."""
    return conn.execute(select(STORE_IDENTITY.c.epoch).where(STORE_IDENTITY.c.id == 1)).scalar_one()


def current_version(conn: Connection) -> tuple[int, int | None, int | None]:
    row = conn.execute(select(STORE_VERSION).where(STORE_VERSION.c.id == 1)).first()
    return (0, None, None) if row is None else (row.version, row.last_event_ms, row.last_commit_ms)


def newest_event_ms(engine: Engine) -> int | None:
    with engine.connect() as conn:
        return current_version(conn)[1]


def apply_batch(
    engine: Engine, batch: Batch, handlers: Sequence[Handler], *, notify: bool = True
) -> BatchResult:
    """One transaction. `notify=False` is for shadow stores (rebuilds) whose versions pages must not see."""
    started = time.perf_counter()
    with begin_write(engine) as conn:
        result = apply_in(conn, batch, handlers, notify=notify)
    result.commit_seconds = time.perf_counter() - started
    return result


def apply_in(
    conn: Connection, batch: Batch, handlers: Sequence[Handler], *, notify: bool = True
) -> BatchResult:
    """The batch inside a transaction the caller owns."""
    result = BatchResult(notice=None)
    _check_positions(conn, batch)
    envelopes = [item for item in batch.items if isinstance(item, Envelope)]
    dedup_keys = [e.dedup_key for e in envelopes]
    entities = [None if e.sequence is None else e.entity for e in envelopes]
    recorded = _record_new(conn, envelopes, dedup_keys)
    seen = _already_applied(conn, list(set(dedup_keys))) if recorded is None else set(dedup_keys) - recorded
    unrecord: list[str] = []  # recorded, then found stale: not applied after all
    sequences = _stored_sequences(conn, list({entity for entity in entities if entity is not None}))
    touched_sequences: set[tuple[str, str]] = set()
    fresh: list[Envelope] = []
    by_type: dict[str, list[Envelope]] = {}
    applied_rows: list[tuple[str, int]] = []
    for event, key, entity in zip(envelopes, dedup_keys, entities, strict=True):
        if key in seen:
            result.duplicates += 1
            continue
        seen.add(key)
        if entity is not None:
            stored = sequences.get(entity)
            if stored is not None and event.sequence < stored:
                result.stale += 1
                unrecord.append(key)
                continue
            sequences[entity] = event.sequence
            touched_sequences.add(entity)
        fresh.append(event)
        by_type.setdefault(event.type, []).append(event)
        applied_rows.append((key, event.event_ms))
    changes = Changes()
    for handler in handlers:
        present = [name for name in handler.event_types if name in by_type]
        if len(present) == 1:  # the common case: its one type's events, in log order, copied once
            handler.apply(conn, list(by_type[present[0]]), changes)
        elif present:
            handler.apply(conn, [e for e in fresh if e.type in handler.event_types], changes)
    result.applied = len(fresh)
    result.event_times_ms = [ms for _, ms in applied_rows]
    result.clock_ms = max((e.clock_ms for e in fresh), default=None)
    if recorded is None:
        insert_ignore_tuples(conn, APPLIED, APPLIED_COLUMNS, applied_rows)
    elif unrecord:
        conn.execute(delete(APPLIED).where(APPLIED.c.event_key.in_(unrecord)))
    upsert_tuples(
        conn,
        VERSIONS,
        VERSION_COLUMNS,
        [(s, i, sequences[(s, i)]) for s, i in sorted(touched_sequences)],
        ["stream", "entity_id"],
    )
    rejected = [item for item in batch.items if isinstance(item, Rejected)]
    result.dead = len(rejected)
    result.parked = sum(1 for r in rejected if r.parked is not None)
    now_ms = int(time.time() * 1000)
    insert_ignore(conn, DEAD, [_dead_letter_row(r, now_ms) for r in rejected])
    if rejected:
        changes.mark("dead-letters", EVERYTHING, now_ms)
    upsert(
        conn,
        POSITIONS,
        [
            {
                "group_id": batch.group_id,
                "topic": tp.topic,
                "partition": tp.partition,
                "next_offset": off,
            }
            for tp, off in sorted(batch.next_offsets.items())
        ],
        ["group_id", "topic", "partition"],
    )
    version = _bump_version(conn, max(result.event_times_ms, default=None))
    notice = ChangeNotice(
        version=version,
        keys={view: frozenset(keys) for view, keys in changes.keys.items()},
        oldest_event_ms=dict(changes.oldest_event_ms),
        trace=batch.trace,
    )
    if notify and conn.dialect.name == "postgresql":
        conn.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": NOTIFY_CHANNEL, "payload": encode_notice(notice)},
        )
    result.notice = notice
    return result


def _dead_letter_row(rejected: Rejected, now_ms: int) -> dict[str, object]:
    record = rejected.record
    reason = rejected.reason if rejected.parked is None else f"{rejected.reason} [parked: {rejected.parked}]"
    return {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "reason": _storable(reason[:2000]),
        "key": None if rejected.bare else record.key,
        "value": None if rejected.bare else record.value,
        "headers": "[]" if rejected.bare else encode_headers(record.headers),
        "received_ms": now_ms,
        "status": "NEW" if rejected.parked is None else "PARKED",
    }


def _storable(text: str) -> str:
    """Text every store accepts: no NUL (PostgreSQL refuses it), no lone surrogates (not UTF-8)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def encode_notice(notice: ChangeNotice, limit: int = 7000) -> str:
    """JSON for NOTIFY (8000-byte cap): views with too many keys collapse to EVERYTHING.

    The trace context rides as an optional "p" key (older readers ignore it).
    """
    keys = {view: sorted(ks) for view, ks in notice.keys.items()}
    raw: dict[str, object] = {"v": notice.version, "k": keys, "t": notice.oldest_event_ms}
    if notice.trace:
        raw["p"] = notice.trace
    payload = json.dumps(raw)
    if len(payload) > limit:
        raw["k"] = {view: [EVERYTHING] for view in keys}
        payload = json.dumps(raw)
    return payload


def decode_notice(payload: str) -> ChangeNotice:
    raw = json.loads(payload)
    return ChangeNotice(
        version=raw["v"],
        keys={view: frozenset(ks) for view, ks in raw["k"].items()},
        oldest_event_ms=raw["t"],
        trace=raw.get("p"),
    )


def prune_applied(engine: Engine, older_than_ms: int) -> int:
    with begin_write(engine) as conn:
        return conn.execute(APPLIED.delete().where(and_(APPLIED.c.event_ms < older_than_ms))).rowcount
