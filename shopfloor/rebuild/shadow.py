"""The shadow store a rebuild writes into, and the swap that puts it live.

The same table definitions, in another namespace: a PostgreSQL schema `shopfloor_rebuild`, or on
SQLite a database file attached as `shopfloor_rebuild`. SQLAlchemy's `schema_translate_map` sends the
unchanged handlers there, bookkeeping (positions, applied ids, sequences, store version) included,
so the rebuild keeps consumer positions of its own.

Swap, in one transaction with the live tables and the live positions locked:
- PostgreSQL: each live table moves to `shopfloor_retired`, each shadow table to the live schema
  (`ALTER TABLE ... SET SCHEMA`, a rename: indexes and sequences move with it), then the retired
  ones are dropped;
- SQLite cannot move a table between database files, so the live tables' rows are replaced by the
  shadow's (`DELETE` + `INSERT ... SELECT`) in one transaction; readers keep their WAL snapshot.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, event, text
from sqlalchemy.engine import make_url

from shopfloor.store.bookkeeping import APPLIED, POSITIONS, STORE_VERSION, VERSIONS
from shopfloor.store.db import begin_write, make_engine

SHADOW = "shopfloor_rebuild"
RETIRED = "shopfloor_retired"
BOOKKEEPING: tuple[Table, ...] = (POSITIONS, APPLIED, VERSIONS, STORE_VERSION)


def shadow_file(database_url: str) -> Path:
    database = make_url(database_url).database or "shopfloor.db"
    return Path(f"{database}.rebuild")


def open_engine(database_url: str) -> Engine:
    """An engine whose connections can reach the shadow (SQLite: the file is attached on connect)."""
    engine = make_engine(database_url)
    if engine.dialect.name == "sqlite":
        path = str(shadow_file(database_url))

        @event.listens_for(engine, "connect")
        def _attach(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute(f"ATTACH DATABASE '{path.replace(chr(39), chr(39) * 2)}' AS {SHADOW}")

    return engine


def shadow(engine: Engine) -> Engine:
    """The same engine, every table name sent to the shadow namespace."""
    return engine.execution_options(schema_translate_map={None: SHADOW})


def reset(engine: Engine, tables: Sequence[Table]) -> None:
    """A fresh, empty shadow with the model's tables and bookkeeping of its own."""
    everything = [*tables, *BOOKKEEPING]
    with begin_write(engine) as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"DROP SCHEMA IF EXISTS {SHADOW} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {SHADOW}"))
    with begin_write(shadow(engine)) as conn:
        for table in reversed(everything):
            table.drop(conn, checkfirst=True)
        for table in everything:
            table.create(conn, checkfirst=True)
        conn.execute(STORE_VERSION.insert().values(id=1, version=0))


def discard(engine: Engine) -> None:
    """Drops whatever a finished or failed rebuild left behind."""
    with begin_write(engine) as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"DROP SCHEMA IF EXISTS {SHADOW} CASCADE"))
            conn.execute(text(f"DROP SCHEMA IF EXISTS {RETIRED} CASCADE"))
            return
        names = [
            r[0] for r in conn.execute(text(f"SELECT name FROM {SHADOW}.sqlite_master WHERE type='table'"))
        ]
        for name in names:
            conn.execute(text(f'DROP TABLE IF EXISTS {SHADOW}."{name}"'))


def lock_live(conn: Connection, tables: Sequence[Table], positions: Table) -> None:
    """Stops the live projector touching this model or moving positions until the swap commits.

    PostgreSQL, positions first: a batch locks its position rows before it touches a table, so once
    the swap holds positions no batch holds the model's tables or can start, and page reads (which
    positions' lock lets through) are all that may still hold them. A page's read takes the tables in
    whatever order its queries name them and holds each until it ends; one holding a table the swap
    still waits for while waiting for one the swap holds is a deadlock, and PostgreSQL ends whichever
    waited first, often the page (a 500). So the swap gives up before any waiter's deadlock check:
    it waits at most half of `deadlock_timeout` for the tables, then fails, and the rebuild replays
    on and tries again. SQLite: one writer at a time, so taking the write lock is enough.
    """
    if conn.dialect.name != "postgresql":
        conn.execute(text("UPDATE store_version SET version = version WHERE id = 1"))
        return
    conn.execute(text("SET LOCAL lock_timeout = '10s'"))
    conn.execute(text(f'LOCK TABLE "{positions.name}" IN EXCLUSIVE MODE'))
    settings = text(
        "SELECT current_setting('statement_timeout'), "
        "(SELECT setting::int FROM pg_settings WHERE name = 'deadlock_timeout')"
    )
    statement_timeout, deadlock_ms = conn.execute(settings).one()
    conn.execute(text(f"SET LOCAL statement_timeout = {max(1, deadlock_ms // 2)}"))
    names = ", ".join(f'"{t.name}"' for t in sorted(tables, key=lambda t: t.name))
    conn.execute(text(f"LOCK TABLE {names} IN ACCESS EXCLUSIVE MODE"))
    conn.execute(text("SELECT set_config('statement_timeout', :value, true)"), {"value": statement_timeout})


def swap(conn: Connection, tables: Sequence[Table]) -> None:
    """Puts the shadow tables live, inside the caller's transaction (which holds `lock_live`)."""
    if conn.dialect.name == "postgresql":
        live = conn.execute(text("SELECT current_schema()")).scalar_one()
        conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {RETIRED}"))
        for table in tables:
            conn.execute(text(f'DROP TABLE IF EXISTS {RETIRED}."{table.name}" CASCADE'))
            conn.execute(text(f'ALTER TABLE "{live}"."{table.name}" SET SCHEMA {RETIRED}'))
            conn.execute(text(f'ALTER TABLE {SHADOW}."{table.name}" SET SCHEMA "{live}"'))
        for table in tables:
            conn.execute(text(f'DROP TABLE {RETIRED}."{table.name}" CASCADE'))
        return
    for table in tables:
        columns = ", ".join(f'"{c.name}"' for c in table.columns)
        conn.execute(text(f'DELETE FROM main."{table.name}"'))
        conn.execute(
            text(f'INSERT INTO main."{table.name}" ({columns}) SELECT {columns} FROM {SHADOW}."{table.name}"')
        )
