"""Engine creation and the few dialect differences (pragmas, upsert)."""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import zlib
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, TypeVar

from sqlalchemy import (
    Boolean,
    Connection,
    Engine,
    Enum,
    Float,
    Integer,
    String,
    Table,
    bindparam,
    create_engine,
    event,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, IntegrityError

from shopfloor.store.schema import METADATA

T = TypeVar("T")


def _null(_value: None) -> None:
    return None


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # The driver binds None through its adapter protocol: a registry miss, then a failed lookup
        # whose AttributeError it formats and discards, about 2,000 instructions a None (a work-order
        # event binds about four). Registered, None is found at once and binds NULL as before.
        sqlite3.register_adapter(type(None), _null)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=8,
            max_overflow=8,
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            # pysqlite would start a transaction only at the first write, so a batch's reads (positions,
            # applied ids, current rows) ran outside it and could be stale by the time it wrote: two
            # workers could both apply one batch. We issue BEGIN ourselves.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            # A batch of thousands of events touches more pages than SQLite's default 2 MiB cache
            # holds, so it evicted pages mid-batch and read them back. Each connection may now cache
            # more; the process-wide heap limit caps them together (past it SQLite reuses its least
            # recently used pages instead of allocating), so memory stays bounded however many
            # connections the pool opens.
            cursor.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            cursor.execute(f"PRAGMA soft_heap_limit={HEAP_LIMIT_BYTES}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            immediate = conn.get_execution_options().get(WRITE_OPTION)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    # Connections are renewed hourly: each keeps its temporary COPY stages (below) while it lives, and
    # a temporary table's frozen-transaction horizon moves only in its own session, so a connection
    # held for months would stop the database's from advancing (towards wraparound's forced stop).
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True, pool_recycle=3600)


WRITE_OPTION = "shopfloor_write"
CACHE_KIB = 16 * 1024
HEAP_LIMIT_BYTES = 64 * 1024 * 1024


def begin_write(engine: Engine) -> AbstractContextManager[Connection]:
    """A write transaction. On SQLite it begins IMMEDIATE: a deferred one that has read first fails
    at once ("database is locked") when another connection committed in between."""
    return engine.execution_options(**{WRITE_OPTION: True}).begin()


# One transaction-scoped advisory lock per key, taken in the order of the keys' hashes (the target
# list is evaluated after the sort).
_LOCK_KEYS = text(
    "SELECT pg_advisory_xact_lock(h) FROM"
    " (SELECT DISTINCT hashtextextended(k, 0) AS h FROM unnest(CAST(:keys AS text[])) AS k) AS wanted"
    " ORDER BY h"
)


def lock_keys(conn: Connection, table: Table, keys: Iterable[str]) -> bool:
    """Holds rows `keys` of `table` until the transaction ends, for a row that events of different
    partitions fold into (a work order's quality summary, an alert both detectors and supervisors
    change): two workers own different partitions and would otherwise both read it, each fold their
    own events in and the later write lose the earlier. Read such rows after locking them.

    One call takes its keys in one global order; a batch that locks twice (detector, then commands)
    can meet another in the crossed order, which PostgreSQL ends as a deadlock and the projector
    retries (`faults.transaction_conflict`). The lock is per schema, so a rebuild's shadow tables
    never wait for the live ones. True when it locked (PostgreSQL); SQLite write transactions run
    one at a time, so there it does nothing."""
    if conn.dialect.name != "postgresql":
        return False
    schema = (conn.get_execution_options().get("schema_translate_map") or {}).get(table.schema, table.schema)
    namespace = f"{schema or ''}.{table.name}:"
    wanted = sorted({namespace + key for key in keys})
    if wanted:
        conn.execute(_LOCK_KEYS, {"keys": wanted})
    return bool(wanted)


_TRY_LOCK = text("SELECT pg_try_advisory_lock(hashtextextended(:name, 0))")
_UNLOCK = text("SELECT pg_advisory_unlock(hashtextextended(:name, 0))")


@contextmanager
def exclusive(engine: Engine, name: str) -> Iterator[bool]:
    """True in one process at a time of those sharing the store, until the block ends; False at once
    in the others. For work one process does for all (sending alarm notifications), so every worker
    can be configured alike and another takes over once the one doing it has gone: PostgreSQL holds
    a session advisory lock on a connection of its own (in autocommit, never idle in a transaction;
    dropped if it cannot be let go, which ends the session and the lock); a SQLite file an flock
    beside it (its processes share one machine); an in-memory store has one process anyway."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            held = bool(conn.execute(_TRY_LOCK, {"name": name}).scalar_one())
            try:
                yield held
            finally:
                if held:
                    try:
                        conn.execute(_UNLOCK, {"name": name})
                    except Exception:
                        conn.invalidate()
                        raise
        return
    path = engine.url.database
    if not path or path == ":memory:":
        yield True
        return
    fd = os.open(f"{os.path.realpath(path)}.{name}.lock", os.O_RDONLY | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # closing it releases the lock


async def run_exclusive(engine: Engine, name: str, work: Callable[[], Awaitable[T]]) -> T | None:
    """`work()` while this process holds `name` (`exclusive`); None at once when another does. A
    cancel, wherever it lands, still lets the lock go once taken."""
    held = ExitStack()
    taking = asyncio.ensure_future(asyncio.to_thread(held.enter_context, exclusive(engine, name)))
    try:
        return await work() if await asyncio.shield(taking) else None
    finally:
        await asyncio.shield(_let_go(taking, held))


async def _let_go(taking: asyncio.Future[bool], held: ExitStack) -> None:
    with suppress(Exception):
        await taking
    await asyncio.to_thread(held.close)


def create_schema(engine: Engine, tables: Iterable[Table]) -> None:
    """Creates the tables (and their indexes) that do not exist yet. The caller says which: the
    store's registry, and whatever else it wires in (sign-in)."""
    METADATA.create_all(engine, tables=list(tables))


def drop_schema(engine: Engine, tables: Iterable[Table]) -> None:
    METADATA.drop_all(engine, tables=list(tables))


ConflictUpdates = Callable[[Any, str], dict[str, Any]]


def upsert(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    keys: Iterable[str],
    set_: ConflictUpdates | None = None,
) -> None:
    """Insert rows, replacing the non-key columns of rows that already exist; or, given `set_`
    (insert statement, dialect name -> column updates, e.g. adding `stmt.excluded.n`), merging them."""
    if rows:
        _insert_many(conn, table, rows, tuple(keys), set_)


def insert_ignore(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    if rows:
        _insert_many(conn, table, rows, None, None)


def upsert_tuples(
    conn: Connection,
    table: Table,
    columns: tuple[str, ...],
    rows: Sequence[tuple[Any, ...]],
    keys: Iterable[str],
    set_: ConflictUpdates | None = None,
) -> None:
    """`upsert` of rows given as tuples in `columns` order: the hot path builds no dict per row."""
    if rows:
        _insert_tuples(conn, table, columns, rows, tuple(keys), set_)


def insert_ignore_tuples(
    conn: Connection, table: Table, columns: tuple[str, ...], rows: Sequence[tuple[Any, ...]]
) -> None:
    if rows:
        _insert_tuples(conn, table, columns, rows, None, None)


def _statement(
    dialect: str,
    table: Table,
    keys: tuple[str, ...] | None,
    columns: Sequence[str],
    set_: ConflictUpdates | None,
) -> Any:
    stmt = (sqlite_insert if dialect == "sqlite" else pg_insert)(table)
    if columns:
        stmt = stmt.values({name: bindparam(name) for name in columns})
    if keys is None:
        return stmt.on_conflict_do_nothing()
    if set_ is not None:
        updates = set_(stmt, dialect)
    else:
        updates = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
    return stmt.on_conflict_do_update(index_elements=list(keys), set_=updates)


@dataclass(frozen=True)
class _Bulk:
    sql: str
    order: tuple[int, ...] | None  # qmark drivers (SQLite): row indexes in parameter order; None: arrays
    casts: tuple[type | None, ...] = ()  # per column (PostgreSQL) or per parameter (SQLite)
    staged: tuple[str, str, str, str] | None = None  # PostgreSQL: make the stage, COPY, move, empty it
    plain_move: str | None = None  # PostgreSQL, ON CONFLICT DO NOTHING: the move without that clause


# From this many rows PostgreSQL gets them by COPY into a session-local stage, then one INSERT .. SELECT
# with the same ON CONFLICT: arrays for unnest() cost the client about 4 µs a row to build and the
# server as much again to take apart; COPY costs a fraction of either (four round trips instead
# of one, so small live batches keep the single statement).
COPY_FROM_ROWS = 200


_COMPILED: dict[tuple[Any, ...], _Bulk | None] = {}
_FALLBACK: dict[tuple[Any, ...], Any] = {}


def _compile_bulk(
    dialect: Any,
    table: Table,
    keys: tuple[str, ...] | None,
    columns: tuple[str, ...],
    set_: ConflictUpdates | None,
) -> _Bulk | None:
    statement = _statement(dialect.name, table, keys, columns, set_).compile(dialect=dialect)
    if set(statement.params) != set(columns):
        return None
    casts = {name: _array_cast(table.c[name].type) for name in columns}
    if dialect.name == "sqlite":
        # Float columns' only bind processing is float(), which a column of REAL affinity does itself
        # on storing (integers become floating point): then no per-value work is left for Python.
        processed = statement._bind_processors
        if any(casts[name] is not float for name in processed):
            return None
        positions = tuple(statement.positiontup or ())
        order = tuple(columns.index(name) for name in positions)
        if all(_real_affinity(table.c[name].type.compile(dialect=dialect)) for name in processed):
            return _Bulk(statement.string, order)
        wanted = tuple(float if name in processed else None for name in positions)
        return _Bulk(statement.string, order, wanted if any(wanted) else ())
    if dialect.name != "postgresql" or statement._bind_processors:
        return None
    # PostgreSQL: one INSERT .. SELECT FROM unnest(array per column): a single statement per batch.
    conflict = statement.string[statement.string.index(" ON CONFLICT") :]
    if any(cast is None for cast in casts.values()) or "%" in conflict:
        return None
    arrays = ", ".join(f"%s::{table.c[name].type.compile(dialect=dialect)}[]" for name in columns)
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(name) for name in columns)
    target = dialect.identifier_preparer.format_table(table)
    sql = f"INSERT INTO {target} ({names}) SELECT * FROM unnest({arrays}){conflict}"
    staged = plain_move = None
    if dialect.driver == "psycopg":  # COPY from Python objects is psycopg 3's
        stage = quote(f"stage_{table.name}_{zlib.crc32(names.encode()):08x}")  # one per table and columns
        staged = (
            f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS "
            f"SELECT {names} FROM {target} WITH NO DATA",
            f"COPY {stage} ({names}) FROM STDIN",
            f"INSERT INTO {target} ({names}) SELECT {names} FROM {stage}{conflict}",
            f"DELETE FROM {stage}",  # a table written twice in one transaction moves each lot once
        )
        if keys is None:
            plain_move = f"INSERT INTO {target} ({names}) SELECT {names} FROM {stage}"
    return _Bulk(sql, None, tuple(casts[name] for name in columns), staged, plain_move)


def _real_affinity(type_name: str) -> bool:
    """SQLite's column affinity rules (datatype3.html §3.1): REAL for FLOA/REAL/DOUB unless INT,
    CHAR, CLOB, TEXT or BLOB come first in the rules."""
    name = type_name.upper()
    if any(word in name for word in ("INT", "CHAR", "CLOB", "TEXT", "BLOB")):
        return False
    return any(word in name for word in ("REAL", "FLOA", "DOUB"))


def _array_cast(sql_type: Any) -> type | None:
    """The Python type a column's values are normalised to (psycopg refuses mixed-type lists)."""
    sql_type = getattr(sql_type, "impl_instance", sql_type)  # TypeDecorators (sqlmodel's AutoString)
    if isinstance(sql_type, Enum | Boolean):
        return None
    for base, cast in ((String, str), (Integer, int), (Float, float)):
        if isinstance(sql_type, base):
            return cast
    return None


def _insert_many(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    keys: tuple[str, ...] | None,
    set_: ConflictUpdates | None,
) -> None:
    """Rows as dicts of one shape become tuples; rows of mixed shapes take SQLAlchemy's usual path."""
    columns = tuple(rows[0])
    if all(len(r) == len(columns) for r in rows):
        if len(columns) == 1:
            [name] = columns
            _insert_tuples(conn, table, columns, [(r[name],) for r in rows], keys, set_)
        else:
            getter = itemgetter(*columns)
            _insert_tuples(conn, table, columns, [getter(r) for r in rows], keys, set_)
        return
    statement = _fallback(conn, table, columns, keys, set_)
    conn.execute(statement, list(rows))


def _fallback(
    conn: Connection,
    table: Table,
    columns: tuple[str, ...],
    keys: tuple[str, ...] | None,
    set_: ConflictUpdates | None,
) -> Any:
    cache_key = (conn.dialect.name, table, columns, keys, set_)
    statement = _FALLBACK.get(cache_key)
    if statement is None:
        statement = _FALLBACK[cache_key] = _statement(conn.dialect.name, table, keys, (), set_)
    return statement


def _insert_tuples(
    conn: Connection,
    table: Table,
    columns: tuple[str, ...],
    rows: Sequence[tuple[Any, ...]],
    keys: tuple[str, ...] | None,
    set_: ConflictUpdates | None,
) -> None:
    """INSERT .. ON CONFLICT for a batch of rows, the hot path of every batch. Compiled once per table and
    row shape; SQLite gets the driver's executemany, PostgreSQL one statement over unnest()ed arrays
    (from COPY_FROM_ROWS rows: COPY into a stage, then that statement's INSERT from it). Shadow
    schemas (rebuilds), types that need bind processing and rows an upsert would touch twice take
    SQLAlchemy's usual path."""
    bulk = _bulk(conn, table, columns, keys, set_)
    if bulk is not None and bulk.order is None and keys is not None:
        at = [columns.index(k) for k in keys]
        if len({tuple(r[i] for i in at) for r in rows}) != len(rows):
            bulk = None  # ON CONFLICT DO UPDATE may not touch a row twice in one statement
    if bulk is None:
        statement = _fallback(conn, table, columns, keys, set_)
        conn.execute(statement, [dict(zip(columns, r, strict=True)) for r in rows])
    elif bulk.order is not None:
        order = bulk.order
        params: Sequence[tuple[Any, ...]] = rows
        if len(order) == 1 and len(columns) > 1:
            [at] = order
            params = [(r[at],) for r in rows]
        elif order != tuple(range(len(columns))):
            params = list(map(itemgetter(*order), rows))
        if bulk.casts:
            casts = bulk.casts
            params = [
                tuple(v if c is None or v is None else c(v) for v, c in zip(p, casts, strict=True))
                for p in params
            ]
        conn.exec_driver_sql(bulk.sql, params if isinstance(params, list) else list(params))
    elif bulk.staged is not None and len(rows) >= COPY_FROM_ROWS and _may_stage(conn):
        _copy_staged(conn, bulk.staged, bulk.casts, rows, plain_move=bulk.plain_move)
    else:
        conn.exec_driver_sql(bulk.sql, _arrays(rows, bulk.casts))


def insert_new(
    conn: Connection, table: Table, columns: tuple[str, ...], rows: Sequence[tuple[Any, ...]], key: str
) -> set[Any] | None:
    """PostgreSQL: inserts the rows whose `key` is not stored yet and returns those keys, in one
    statement that is both the lookup and the insert. None where that path is not taken (SQLite,
    shadow schemas): the caller looks the keys up first, then inserts."""
    bulk = _bulk(conn, table, columns, None, None) if conn.dialect.name == "postgresql" else None
    if bulk is None or bulk.order is not None:
        return None
    if not rows:
        return set()
    returning = f" RETURNING {conn.dialect.identifier_preparer.quote(key)}"
    if bulk.staged is not None and len(rows) >= COPY_FROM_ROWS and _may_stage(conn):
        found = _copy_staged(conn, bulk.staged, bulk.casts, rows, returning, bulk.plain_move)
        if found is None:  # every key was new
            at = columns.index(key)
            return {row[at] for row in rows}
    else:
        found = conn.exec_driver_sql(bulk.sql + returning, _arrays(rows, bulk.casts)).fetchall()
    return {k for (k,) in found}


def _bulk(
    conn: Connection,
    table: Table,
    columns: tuple[str, ...],
    keys: tuple[str, ...] | None,
    set_: ConflictUpdates | None,
) -> _Bulk | None:
    """The statement compiled once per table, row shape and conflict rule; None for shadow schemas."""
    if conn.get_execution_options().get("schema_translate_map"):
        return None
    dialect = conn.dialect
    cache_key = (dialect.name, dialect.driver, table, columns, keys, set_)
    if cache_key not in _COMPILED:
        _COMPILED[cache_key] = _compile_bulk(dialect, table, keys, columns, set_)
    return _COMPILED[cache_key]


def _arrays(rows: Sequence[tuple[Any, ...]], casts: tuple[type | None, ...]) -> tuple[list[Any], ...]:
    """One list per column for unnest(), each value of its column's one type."""
    arrays = []
    for values, cast in zip(zip(*rows, strict=True), casts, strict=True):
        if cast is str:
            arrays.append(list(values))
        else:
            arrays.append([v if v is None else cast(v) for v in values])  # type: ignore[misc]
    return tuple(arrays)


# What text COPY reads into a column as the arrays' conversion would make it; anything else (a
# float or a bool for an integer, a bool for a float) takes that conversion first.
_AS_IS: dict[type | None, tuple[type, ...]] = {int: (int, type(None)), float: (int, float, type(None))}


def _may_stage(conn: Connection) -> bool:
    """Whether this session may create the temporary stage (a role can be denied TEMP): asked once
    per connection; without it every batch keeps the single statement."""
    info = conn.connection.info
    if "shopfloor_may_stage" not in info:
        query = "SELECT has_database_privilege(current_database(), 'TEMP')"
        info["shopfloor_may_stage"] = bool(conn.exec_driver_sql(query).scalar())
    return bool(info["shopfloor_may_stage"])


def _copy_staged(
    conn: Connection,
    staged: tuple[str, str, str, str],
    casts: tuple[type | None, ...],
    rows: Sequence[tuple[Any, ...]],
    returning: str = "",
    plain_move: str | None = None,
) -> list[Any] | None:
    """COPY the rows into a stage (a temporary table made once per session, emptied at commit and
    after each use), then move them on with the statement's own ON CONFLICT: the rows land as they
    would through unnest(). A `plain_move` (the move without its ON CONFLICT DO NOTHING) is tried
    first: None when it took every row; else the move's rows if `returning` asks for them. Errors come
    wrapped as SQLAlchemy's, so a deadlock or a read-only store is told apart from a bad record as on
    the single-statement path."""
    create, copy, move, empty = staged
    checked = [(at, _AS_IS[cast]) for at, cast in enumerate(casts) if cast in _AS_IS]
    if any(type(row[at]) not in allowed for row in rows for at, allowed in checked):
        rows = [
            tuple(v if v is None or c is str else c(v) for v, c in zip(row, casts, strict=True))
            for row in rows
        ]
    conn.exec_driver_sql(create)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(copy) as stream:
            for row in rows:
                stream.write_row(row)
    except conn.dialect.loaded_dbapi.Error as error:
        lost = conn.dialect.is_disconnect(error, conn.connection.dbapi_connection, cursor)
        if lost:
            conn.invalidate(error)
        raise DBAPIError.instance(
            copy,
            None,
            error,
            conn.dialect.loaded_dbapi.Error,
            connection_invalidated=lost,
            dialect=conn.dialect,
        ) from error
    finally:
        cursor.close()
    found: list[Any] | None = None
    if plain_move is None or not _insert_plainly(conn, plain_move):
        moved = conn.exec_driver_sql(move + returning)
        found = list(moved.fetchall()) if returning else []
    conn.exec_driver_sql(empty)
    return found


def _insert_plainly(conn: Connection, insert: str) -> bool:
    """Rows with new keys, as an insert-or-ignore's nearly always are, go in without ON CONFLICT,
    whose speculative insertion costs PostgreSQL as much again a row; inside a savepoint, so that a
    key already stored costs only the retry with the clause. False when it must be retried."""
    try:
        with conn.begin_nested():
            conn.exec_driver_sql(insert)
    except IntegrityError:
        return False
    return True


def select_in(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    equal: Mapping[str, Any],
    in_column: str,
    values: Sequence[Any],
) -> Sequence[Any]:
    """`SELECT columns FROM table WHERE equal.. AND in_column IN (values)` as rows of tuples. On SQLite
    the SQL is written here (placeholders only, names from the table), not compiled per call by
    SQLAlchemy, whose expanding-IN handling costs more than the lookup. Shadow schemas take the usual path."""
    if not values:
        return []
    dialect = conn.dialect.name
    translated = conn.get_execution_options().get("schema_translate_map")
    if dialect == "postgresql" and not translated and all(type(v) is str for v in values):
        # One array parameter (`= ANY(%s)`): the statement is the same for any number of values.
        quote = conn.dialect.identifier_preparer.quote
        conditions = "".join(f"{quote(name)} = %s AND " for name in equal)
        sql = (
            f"SELECT {', '.join(quote(c) for c in columns)} "
            f"FROM {conn.dialect.identifier_preparer.format_table(table)} "
            f"WHERE {conditions}{quote(in_column)} = ANY(%s)"
        )
        return conn.exec_driver_sql(sql, (*equal.values(), list(values))).fetchall()
    if dialect != "sqlite" or translated:
        query = select(*(table.c[c] for c in columns)).where(
            *(table.c[name] == value for name, value in equal.items()), table.c[in_column].in_(list(values))
        )
        return [tuple(r) for r in conn.execute(query)]
    quote = conn.dialect.identifier_preparer.quote
    conditions = "".join(f"{quote(name)} = ? AND " for name in equal)
    sql = (
        f"SELECT {', '.join(quote(c) for c in columns)} FROM {quote(table.name)} "
        f"WHERE {conditions}{quote(in_column)} IN ({', '.join('?' * len(values))})"
    )
    return conn.exec_driver_sql(sql, (*equal.values(), *values)).fetchall()


def execute_cached(conn: Connection, statement: Any, params: dict[str, Any]) -> Any:
    """Executes a long-lived statement (kept by the caller) from its SQL compiled once: for statements
    with hundreds of parameters, SQLAlchemy's per-call cache-key walk costs more than the query.
    Shadow schemas (rebuilds) and types that need bind processing take the usual path."""
    if conn.get_execution_options().get("schema_translate_map"):
        return conn.execute(statement, params)
    key = (id(statement), conn.dialect.name)
    compiled = _RAW_SQL.get(key)
    if compiled is None:
        done = statement.compile(dialect=conn.dialect)
        positions = tuple(done.positiontup) if done.positiontup is not None else None
        compiled = _RAW_SQL[key] = (done.string, positions, bool(done._bind_processors), statement)
    sql, positions, processed, _ = compiled
    if processed:
        return conn.execute(statement, params)
    return conn.exec_driver_sql(sql, tuple(params[name] for name in positions) if positions else params)


_RAW_SQL: dict[tuple[int, str], tuple[str, tuple[str, ...] | None, bool, Any]] = {}


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def from_ms(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


def iso(ms: int | None) -> str | None:
    moment = from_ms(ms)
    return None if moment is None else moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
