"""The bulk write helpers every batch goes through: rows given as tuples in any column order land in
the right columns, numbers in float columns come back as floats, upserts replace."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, select

from shopfloor.store.db import (
    COPY_FROM_ROWS,
    begin_write,
    insert_ignore_tuples,
    make_engine,
    select_in,
    upsert_tuples,
)

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
    integers into a float column, a float and a bool into an integer one), upserts replace, insert-ignore keeps the first, and a table
    written twice in one transaction takes each lot once; checked against a plain dict of the rows."""
    engine = make_engine(database_url)
    METADATA.create_all(engine)
    awkward = ("tab\there", "new\nline", "back\\slash", "quote'\"", "ünïcødé ✓", "", "\\N", "comma,semi;")
    expected: dict[str, tuple[str, float | None, int]] = {}
    first = [(f"k{i:04}", awkward[i % len(awkward)], i, i % 7) for i in range(3 * COPY_FROM_ROWS)]
    again = [(f"k{i:04}", f"again {i}", None, -i) for i in range(0, 3 * COPY_FROM_ROWS, 2)]
    ignored = [(f"k{i:04}", 123.0, 999) for i in range(COPY_FROM_ROWS)]
    fresh = [(f"n{i:04}", 0.5, i) for i in range(COPY_FROM_ROWS)]
    fresh += [("n-float", 1.0, 3.0), ("n-bool", 2.0, True)]  # into the integer column: 3 and 1
    with begin_write(engine) as conn:
        upsert_tuples(conn, LABELLED, ("key", "label", "value", "count"), first, ["key"])
        upsert_tuples(conn, LABELLED, ("key", "label", "value", "count"), again, ["key"])
        insert_ignore_tuples(conn, LABELLED, ("key", "value", "count"), ignored + fresh)
    for key, label, value, count in first + again:
        expected[key] = (label, None if value is None else float(value), count)
    for key, value, count in fresh:
        expected[key] = ("", value, int(count))
    with engine.connect() as conn:
        stored = {r.key: (r.label, r.value, r.count) for r in conn.execute(select(LABELLED))}
    assert stored == expected
    assert all(isinstance(v, float) for _, v, _ in stored.values() if v is not None)
    assert all(type(c) is int for _, _, c in stored.values())
    engine.dispose()
