"""Reading and resolving dead letters: list, fetch, and mark REPROCESSED / DISCARDED with an audit row."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, func, select, update

from shopfloor.auth import audit
from shopfloor.store.bookkeeping import DeadLetter
from shopfloor.store.db import begin_write

DEAD = DeadLetter.__table__  # type: ignore[attr-defined]
STATUSES = ("NEW", "REPROCESSED", "DISCARDED")
PREVIEW_CHARS = 400


def preview(value: bytes | None) -> str:
    """Text a person can read: UTF-8 where it is, \\xNN for bytes that are not; cut to a screenful."""
    if value is None:
        return "(no value)"
    text = value[: PREVIEW_CHARS * 4].decode("utf-8", "backslashreplace")
    text = "".join(c if c.isprintable() or c in "\n\t" else f"\\x{ord(c):02x}" for c in text)
    return text[:PREVIEW_CHARS] + ("…" if len(text) > PREVIEW_CHARS or len(value) > PREVIEW_CHARS * 4 else "")


def listing(engine: Engine, status: str | None, limit: int = 200) -> list[dict[str, Any]]:
    columns = [c for c in DEAD.c if c.name not in ("value", "key", "headers")]
    query = select(*columns, DEAD.c.value).order_by(DEAD.c.id.desc()).limit(limit)
    if status:
        query = query.where(DEAD.c.status == status)
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    for row in rows:
        value = row.pop("value")
        row["size"] = 0 if value is None else len(value)
        row["preview"] = preview(value)
    return rows


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(select(DEAD.c.status, func.count()).group_by(DEAD.c.status))
        return {status: n for status, n in rows}


def get(engine: Engine, letter_id: int) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(DEAD).where(DEAD.c.id == letter_id)).first()
    if row is None:
        return None
    letter = dict(row._mapping)
    letter["header_list"] = [(name, value.encode()) for name, value in json.loads(letter["headers"] or "[]")]
    return letter


def resolve(engine: Engine, letter_id: int, status: str, actor: str, detail: str = "") -> bool:
    """Marks a NEW dead letter; False when it was already resolved (by someone else, say)."""
    with begin_write(engine) as conn:
        row = conn.execute(
            select(DEAD.c.topic, DEAD.c.partition, DEAD.c.offset).where(DEAD.c.id == letter_id)
        ).first()
        if row is None:
            return False
        changed = conn.execute(
            update(DEAD).where(DEAD.c.id == letter_id, DEAD.c.status == "NEW").values(status=status)
        ).rowcount
        if changed:
            target = f"{row.topic}[{row.partition}]@{row.offset} (#{letter_id})"
            audit.record(conn, actor, f"dead-letter.{status.lower()}", target, detail)
        return bool(changed)
