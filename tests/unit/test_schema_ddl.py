"""Tables declared from the folds' row classes compile to exactly the DDL the hand-written rows had.

`fixtures/schema_ddl.sql` was dumped from the SQLModel row classes before they were replaced: any
change of a recorded table's column names, types, nullability, keys or indexes shows up here as a
diff (tables added since are not in it).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.schema import CreateIndex, CreateTable

from shopfloor.auth.tables import TABLES as SIGN_IN_TABLES
from shopfloor.rebuild.progress import TABLE as REBUILD_PROGRESS
from shopfloor.store.registry import TABLES

FIXTURE = Path(__file__).parent / "fixtures" / "schema_ddl.sql"


def ddl(tables: dict[str, Table]) -> list[str]:
    out: list[str] = []
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        for name, table in sorted(tables.items()):
            out.append(f"-- {dialect.name} {name}")
            out.extend(
                line.rstrip()
                for line in str(CreateTable(table).compile(dialect=dialect)).strip().splitlines()
            )
            for index in sorted(table.indexes, key=lambda i: str(i.name)):
                out.append(str(CreateIndex(index).compile(dialect=dialect)).strip())
    return out


def recorded() -> set[str]:
    """The table names the fixture holds (a table added later is new DDL, not a change)."""
    return {line.split()[-1] for line in FIXTURE.read_text().splitlines() if line.startswith("-- ")}


def test_every_recorded_table_compiles_to_the_recorded_ddl() -> None:
    schema = {t.name: t for t in (*TABLES, *SIGN_IN_TABLES, REBUILD_PROGRESS)}
    assert len(schema) == len(TABLES) + len(SIGN_IN_TABLES) + 1  # no name declared twice
    assert recorded() <= set(schema), "a recorded table is no longer declared"
    assert ddl({name: schema[name] for name in recorded()}) == FIXTURE.read_text().splitlines()
