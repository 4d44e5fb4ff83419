"""Tables that make batches effectively-once: positions, applied ids, entity sequences, dead letters."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence

from sqlalchemy import BigInteger, Column, Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel


class ConsumerPosition(SQLModel, table=True):
    __tablename__ = "consumer_positions"
    group_id: str = Field(primary_key=True)
    topic: str = Field(primary_key=True)
    partition: int = Field(primary_key=True)
    next_offset: int = Field(sa_column_kwargs={}, sa_type=BigInteger)


class AppliedEvent(SQLModel, table=True):
    """(source, id) of every applied event; pruned by event time after the dedup window."""

    __tablename__ = "applied_events"
    event_key: str = Field(primary_key=True)
    event_ms: int = Field(sa_type=BigInteger, index=True)


class EntityVersion(SQLModel, table=True):
    __tablename__ = "entity_versions"
    stream: str = Field(primary_key=True)
    entity_id: str = Field(primary_key=True)
    sequence: int = Field(sa_type=BigInteger)


class DeadLetter(SQLModel, table=True):
    __tablename__ = "dead_letters"
    __table_args__ = (UniqueConstraint("topic", "partition", "offset"),)
    id: int | None = Field(default=None, primary_key=True)
    topic: str
    partition: int
    offset: int = Field(sa_type=BigInteger)
    reason: str
    key: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    value: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    headers: str = "[]"
    received_ms: int = Field(sa_type=BigInteger)
    status: str = Field(default="NEW", index=True)


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


class StoreVersion(SQLModel, table=True):
    """One row: bumped by every batch commit; SSE event ids are these versions."""

    __tablename__ = "store_version"
    id: int = Field(default=1, primary_key=True)
    version: int = Field(default=0, sa_type=BigInteger)
    last_event_ms: int | None = Field(default=None, sa_type=BigInteger)
    last_commit_ms: int | None = Field(default=None, sa_type=BigInteger)


class StoreIdentity(SQLModel, table=True):
    """One row: a random id made with the store. Pages compare it across reconnects, so a page that
    reconnects to a different store (recreated, restored) reloads instead of showing ghost rows."""

    __tablename__ = "store_identity"
    id: int = Field(default=1, primary_key=True)
    epoch: str = Field(max_length=64)


Index("ix_dead_letters_received", DeadLetter.__table__.c.received_ms)  # type: ignore[attr-defined]
