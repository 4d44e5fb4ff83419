"""Tables that make batches effectively-once: positions, applied ids, entity sequences, dead letters."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import BigInteger, String

from shopfloor.store.schema import table_of


@dataclass(frozen=True, slots=True)
class ConsumerPosition:
    group_id: str
    topic: str
    partition: int
    next_offset: int


@dataclass(frozen=True, slots=True)
class AppliedEvent:
    """(source, id) of every applied event; pruned by event time after the dedup window."""

    event_key: str
    event_ms: int


@dataclass(frozen=True, slots=True)
class EntityVersion:
    stream: str
    entity_id: str
    sequence: int


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: int | None  # assigned by the database
    topic: str
    partition: int
    offset: int
    reason: str
    key: bytes | None
    value: bytes | None
    headers: str
    received_ms: int
    status: str


@dataclass(frozen=True, slots=True)
class StoreVersion:
    """One row: bumped by every batch commit; SSE event ids are these versions."""

    id: int
    version: int
    last_event_ms: int | None
    last_commit_ms: int | None


@dataclass(frozen=True, slots=True)
class StoreIdentity:
    """One row: a random id made with the store. Pages compare it across reconnects, so a page that
    reconnects to a different store (recreated, restored) reloads instead of showing ghost rows."""

    id: int
    epoch: str


POSITIONS = table_of(
    ConsumerPosition,
    "consumer_positions",
    key=("group_id", "topic", "partition"),
    types={"next_offset": BigInteger},
)
APPLIED = table_of(
    AppliedEvent, "applied_events", key=("event_key",), index=("event_ms",), without_rowid=True
)
VERSIONS = table_of(
    EntityVersion, "entity_versions", key=("stream", "entity_id"), types={"sequence": BigInteger}
)
DEAD = table_of(
    DeadLetter,
    "dead_letters",
    key=("id",),
    index=("status",),
    indexes={"ix_dead_letters_received": ("received_ms",)},
    unique=[("topic", "partition", "offset")],
    types={"offset": BigInteger},
)
STORE_VERSION = table_of(StoreVersion, "store_version", key=("id",), types={"version": BigInteger})
STORE_IDENTITY = table_of(StoreIdentity, "store_identity", key=("id",), types={"epoch": String(64)})
TABLES = (POSITIONS, APPLIED, VERSIONS, DEAD, STORE_VERSION, STORE_IDENTITY)


def encode_headers(headers: Sequence[tuple[str, bytes | None]]) -> str:
    """The `headers` column: JSON [[name, value]] where a value is its UTF-8 text, null for a null
    header, or {"base64": ...} for bytes that are not UTF-8, so every original byte comes back."""
    encoded: list[list[object]] = []
    for name, value in headers:
        if value is None:
            encoded.append([name, None])
            continue
        try:
            encoded.append([name, value.decode("utf-8")])
        except UnicodeDecodeError:
            encoded.append([name, {"base64": base64.b64encode(value).decode("ascii")}])
    return json.dumps(encoded)


def decode_headers(column: str | None) -> list[tuple[str, bytes | None]]:
    """The original header bytes from the `headers` column (inverse of encode_headers)."""
    decoded: list[tuple[str, bytes | None]] = []
    for name, value in json.loads(column or "[]"):
        if value is None:
            decoded.append((name, None))
        elif isinstance(value, dict):
            decoded.append((name, base64.b64decode(value["base64"])))
        else:
            decoded.append((name, value.encode("utf-8", "surrogatepass")))
    return decoded
