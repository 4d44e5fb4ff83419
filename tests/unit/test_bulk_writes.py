"""The bulk write helpers every batch goes through: rows given as tuples in any column order land in
the right columns, numbers in float columns come back as floats, upserts replace."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Float, Integer, MetaData, String, Table, func, select
from sqlalchemy.exc import DataError, DBAPIError

from bench.common import fresh_postgres_database
from shopfloor.store.db import (
    COPY_FROM_ROWS,
    begin_write,
    insert_ignore_tuples,
    make_engine,
    select_in,
    upsert_tuples,
)
from shopfloor.store.faults import store_unavailable, transaction_conflict

METADATA = MetaData()
READINGS = Table(
    "bulk_readings",
    METADATA,
    Column("key", String, primary_key=True),
    Column("value", Float),
    Column("count", Integer),
)
LABELLED = Table(
    "bulk_labelled",
    METADATA,
    Column("key", String, primary_key=True),
    Column("label", String, nullable=False, server_default=""),
    Column("value", Float),
    Column("count", Integer),
)


def test_tuples_in_any_column_order_land_in_their_columns(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'bulk.db'}")
    METADATA.create_all(engine)
    with begin_write(engine) as conn:
        # columns named in another order than the table's; ints into a float column
        upsert_tuples(conn, READINGS, ("count", "value", "key"), [(1, 5, "a"), (2, 2.5, "b")], ["key"])
        upsert_tuples(conn, READINGS, ("value", "key", "count"), [(7, "a", 3)], ["key"])
        insert_ignore_tuples(conn, READINGS, ("key", "value", "count"), [("b", 99.0, 99), ("c", None, 0)])
    with engine.connect() as conn:
        rows = conn.execute(select(READINGS).order_by(READINGS.c.key)).all()
        found = select_in(conn, READINGS, ("key", "count"), {}, "key", ["a", "c", "z"])
    assert [tuple(r) for r in rows] == [("a", 7.0, 3), ("b", 2.5, 2), ("c", None, 0)]
    assert all(isinstance(r.value, float) for r in rows if r.value is not None)
    assert sorted(found) == [("a", 3), ("c", 0)]
    engine.dispose()


def test_large_batches_land_as_small_ones_do(database_url: str) -> None:
    """Batches big enough for PostgreSQL's COPY path: every row as written (awkward text, NULLs,
    integers and a bool into a float column, a float and a bool into an integer one), upserts
    replace, insert-ignore keeps the first, and a table written twice in one transaction takes each
    lot once; checked against a plain dict of the rows."""
    engine = make_engine(database_url)
    METADATA.create_all(engine)
    awkward = ("tab\there", "new\nline", "back\\slash", "quote'\"", "ünïcødé ✓", "", "\\N", "comma,semi;")
    expected: dict[str, tuple[str, float | None, int]] = {}
    first = [(f"k{i:04}", awkward[i % len(awkward)], i, i % 7) for i in range(3 * COPY_FROM_ROWS)]
    first[5] = ("k0005", "bool", True, 5)  # into the float column: 1.0
    again = [(f"k{i:04}", f"again {i}", None, -i) for i in range(0, 3 * COPY_FROM_ROWS, 2)]
    ignored = [(f"k{i:04}", 123.0, 999) for i in range(COPY_FROM_ROWS)]
    fresh = [(f"n{i:04}", 0.5, i) for i in range(COPY_FROM_ROWS)]
    fresh += [("n-float", 1.0, 3.0), ("n-bool", 2.0, True)]  # into the integer column: 3 and 1
    with begin_write(engine) as conn:
        upsert_tuples(conn, LABELLED, ("key", "label", "value", "count"), first, ["key"])
        upsert_tuples(conn, LABELLED, ("key", "label", "value", "count"), again, ["key"])
        insert_ignore_tuples(conn, LABELLED, ("key", "value", "count"), ignored + fresh)
        if conn.dialect.name == "postgresql":  # the rows went by COPY, through the session's stage
            stages = (
                "SELECT count(*) FROM pg_class WHERE relnamespace = pg_my_temp_schema() "
                "AND starts_with(relname, 'stage_bulk_labelled_')"
            )
            assert conn.exec_driver_sql(stages).scalar() == 2  # one per column set written
    for key, label, value, count in first + again:
        expected[key] = (label, None if value is None else float(value), count)
    for key, value, count in fresh:
        expected[key] = ("", float(value), int(count))
    with engine.connect() as conn:
        stored = {r.key: (r.label, r.value, r.count) for r in conn.execute(select(LABELLED))}
    assert stored == expected
    assert all(isinstance(v, float) for _, v, _ in stored.values() if v is not None)
    assert all(type(c) is int for _, _, c in stored.values())
    engine.dispose()


@pytest.fixture
def postgres_url(postgres: str) -> Iterator[str]:
    yield from fresh_postgres_database(postgres)


def test_a_read_only_store_fails_a_large_batch_as_unavailable_not_as_a_bad_record(postgres_url: str) -> None:
    """The projector waits out an unavailable store but splits a batch hunting for a bad record:
    the COPY path must fail the way the single statement does."""
    engine = make_engine(postgres_url)
    METADATA.create_all(engine)
    rows = [(f"k{i:04}", float(i), i) for i in range(COPY_FROM_ROWS)]
    with pytest.raises(DBAPIError) as caught, begin_write(engine) as conn:
        conn.exec_driver_sql("SET TRANSACTION READ ONLY")
        insert_ignore_tuples(conn, READINGS, ("key", "value", "count"), rows)
    assert store_unavailable(caught.value) and not transaction_conflict(caught.value)
    engine.dispose()


def test_a_bad_value_fails_a_large_batch_as_it_fails_a_small_one(postgres_url: str) -> None:
    """PostgreSQL refuses NUL in text. Through COPY as through the single statement that is a bad
    record (the projector splits the batch to find it), not a store gone away, and nothing lands."""
    engine = make_engine(postgres_url)
    METADATA.create_all(engine)
    for size in (2, COPY_FROM_ROWS):
        rows = [(f"k{i:04}", float(i), i) for i in range(size)]
        rows[-1] = ("bad\x00key", 1.0, 1)
        with pytest.raises(DBAPIError) as caught, begin_write(engine) as conn:
            insert_ignore_tuples(conn, READINGS, ("key", "value", "count"), rows)
        assert isinstance(caught.value, DataError), size
        assert not store_unavailable(caught.value) and not transaction_conflict(caught.value)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(READINGS)).scalar() == 0
    engine.dispose()


def test_a_role_without_temporary_tables_still_writes_large_batches(postgres_url: str) -> None:
    """Hardened databases may deny TEMP: then every batch takes the single statement."""
    name = postgres_url.rpartition("/")[2]
    engine = make_engine(postgres_url)
    METADATA.create_all(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'REVOKE TEMPORARY ON DATABASE "{name}" FROM PUBLIC, CURRENT_USER')
    engine.dispose()
    rows = [(f"k{i:04}", float(i), i) for i in range(2 * COPY_FROM_ROWS)]
    with begin_write(engine) as conn:
        assert not conn.exec_driver_sql("SELECT has_database_privilege(current_database(), 'TEMP')").scalar()
        insert_ignore_tuples(conn, READINGS, ("key", "value", "count"), rows)
    with engine.connect() as conn:
        stored = sorted(tuple(r) for r in conn.execute(select(READINGS)))
    assert stored == sorted(rows)
    engine.dispose()
