"""The dead-letter board of megabyte letters: the store sends only each value's first bytes."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import event, insert

from shopfloor.config import Settings
from shopfloor.runtime import open_store
from shopfloor.store import dead_letters as store
from shopfloor.store.dead_letters import DEAD, PREVIEW_CHARS

LETTERS = 20
SIZE = 1_000_000


def test_previews_of_megabyte_letters_read_kilobytes(database_url: str) -> None:
    engine = open_store(Settings(database_url=database_url))
    rows = [
        {
            "topic": "t",
            "partition": 0,
            "offset": n,
            "reason": "too big",
            "key": None,
            "value": f"<{n}>".encode() + "é".encode() * (SIZE // 2),
            "headers": "[]",
            "received_ms": n,
            "status": "NEW",
        }
        for n in range(LETTERS)
    ]
    with engine.begin() as conn:
        conn.execute(insert(DEAD), rows)
    statements: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def capture(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    listed = store.listing(engine, None)
    event.remove(engine, "before_cursor_execute", capture)
    [query] = [s for s in statements if "dead_letters" in s]
    columns = re.sub(r"\s+", " ", query.split("FROM")[0])
    assert "dead_letters.value" in columns, "the query no longer reads values at all"
    for use in re.finditer(r"dead_letters\.value", columns):  # only inside substr(...) or length(...)
        assert re.search(r"(substr|length)\($", columns[: use.start()]), columns
    assert [letter["offset"] for letter in listed] == list(range(LETTERS - 1, -1, -1))
    for letter in listed:
        prefix = f"<{letter['offset']}>"
        assert letter["size"] == len(rows[letter["offset"]]["value"])
        assert letter["preview"] == prefix + "é" * (PREVIEW_CHARS - len(prefix)) + "…"
