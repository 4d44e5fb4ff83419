"""Reading and resolving dead letters: list, fetch, and mark REPROCESSED / DISCARDED with an audit row."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, LargeBinary, func, select, type_coerce, update

from shopfloor.store import audit
from shopfloor.store.bookkeeping import DEAD, decode_headers
from shopfloor.store.db import begin_write

STATUSES = ("NEW", "REPROCESSED", "DISCARDED", "PARKED")
PREVIEW_CHARS = 400
PREVIEW_BYTES = PREVIEW_CHARS * 4  # at most 4 UTF-8 bytes a character
CLAIMED = "REPROCESSING"  # held by one reprocess while it re-produces the record


def preview(value: bytes | None, size: int | None = None) -> str:
    """Text a person can read: UTF-8 where it is, \\xNN for bytes that are not; cut to a screenful.
    `value` may be only the first bytes of a value of `size` bytes."""
    if value is None:
        return "(no value)"
    size = len(value) if size is None else size
    text = value[:PREVIEW_BYTES].decode("utf-8", "backslashreplace")
    text = "".join(c if c.isprintable() or c in "\n\t" else f"\\x{ord(c):02x}" for c in text)
    return text[:PREVIEW_CHARS] + ("…" if len(text) > PREVIEW_CHARS or size > PREVIEW_BYTES else "")


def listing(engine: Engine, status: str | None, limit: int = 200) -> list[dict[str, Any]]:
    """The newest letters with a preview: the database sends only each value's first bytes and its
    length, so a page of megabyte letters costs kilobytes."""
    columns = [c for c in DEAD.c if c.name not in ("value", "key", "headers")]
    head = type_coerce(func.substr(DEAD.c.value, 1, PREVIEW_BYTES + 1), LargeBinary).label("head")
    size = func.length(DEAD.c.value).label("size")
    query = select(*columns, head, size).order_by(DEAD.c.id.desc()).limit(limit)
    if status:
        query = query.where(DEAD.c.status == status)
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    for row in rows:
        head = row.pop("head")
        row["size"] = row["size"] or 0
        row["preview"] = preview(None if head is None else bytes(head), row["size"])
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
    letter["header_list"] = decode_headers(letter["headers"])
    return letter


def claim(engine: Engine, letter_id: int) -> bool:
    """Takes a NEW or PARKED letter for reprocessing; of parallel clicks exactly one gets True."""
    with begin_write(engine) as conn:
        return bool(
            conn.execute(
                update(DEAD)
                .where(DEAD.c.id == letter_id, DEAD.c.status.in_(("NEW", "PARKED")))
                .values(status=CLAIMED)
            ).rowcount
        )


def release(engine: Engine, letter_id: int) -> None:
    """Gives a claimed letter back (re-producing it failed) so it can be tried again."""
    with begin_write(engine) as conn:
        conn.execute(
            update(DEAD).where(DEAD.c.id == letter_id, DEAD.c.status == CLAIMED).values(status="NEW")
        )


def resolve(
    engine: Engine, letter_id: int, status: str, actor: str, detail: str = "", *, claimed: bool = False
) -> bool:
    """Marks a NEW (or PARKED) dead letter, or one this caller `claimed`; False when it was already
    resolved (by someone else, say)."""
    with begin_write(engine) as conn:
        row = conn.execute(
            select(DEAD.c.topic, DEAD.c.partition, DEAD.c.offset).where(DEAD.c.id == letter_id)
        ).first()
        if row is None:
            return False
        changed = conn.execute(
            update(DEAD)
            .where(DEAD.c.id == letter_id, DEAD.c.status.in_((CLAIMED,) if claimed else ("NEW", "PARKED")))
            .values(status=status)
        ).rowcount
        if changed:
            target = f"{row.topic}[{row.partition}]@{row.offset} (#{letter_id})"
            audit.record(conn, actor, f"dead-letter.{status.lower()}", target, detail)
        return bool(changed)
