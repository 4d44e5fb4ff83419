"""The bulk write helpers every batch goes through (SQLite): rows given as tuples in any column order
land in the right columns, numbers in float columns come back as floats, upserts replace."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, select

from shopfloor.store.db import begin_write, insert_ignore_tuples, make_engine, select_in, upsert_tuples

METADATA = MetaData()
READINGS = Table(
    "bulk_readings",
    METADATA,
    Column("key", String, primary_key=True),
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
