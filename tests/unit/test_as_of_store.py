"""An as-of store is one in-memory SQLite connection: a page and its fragments read it from several
request threads at once, and none of them may fail; a snapshot image loads back the same rows, and
the store it loads into keeps growing as the replay after it adds rows."""

from __future__ import annotations

import threading

from sqlalchemy import text

from shopfloor.history.replay import composed, memory_store
from shopfloor.history.snapshots import packed_image, unpack
from shopfloor.store.batch import current_version
from shopfloor.store.lines import LineMachineHandler
from shopfloor.store.registry import PARTS
from shopfloor.store.work_orders import WorkOrderHandler

WORK_ORDERS = next(p for p in PARTS if isinstance(p.handlers[0], WorkOrderHandler))
LINE_MACHINES = next(p for p in PARTS if isinstance(p.handlers[0], LineMachineHandler))


def test_concurrent_readers_of_one_as_of_store() -> None:
    store = memory_store()
    with store.begin() as conn:
        conn.execute(
            text("INSERT INTO work_order_counts (line_id, status, count) VALUES ('L1', 'RELEASED', 3)")
        )
    seen: list[int] = []
    errors: list[Exception] = []

    def read() -> None:
        try:
            for _ in range(100):
                with store.connect() as conn:
                    seen.append(conn.execute(text("SELECT count FROM work_order_counts")).scalar_one())
        except Exception as exc:  # collected: the assertion below names it
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and seen == [3] * 600


def test_a_snapshot_image_loads_back_the_same_rows() -> None:
    store = memory_store()
    with store.begin() as conn:
        conn.execute(
            text("INSERT INTO work_order_counts (line_id, status, count) VALUES ('L2', 'ON_HOLD', 1)")
        )
    size, packed = packed_image(store)
    image = unpack(packed)
    assert len(image) == size
    again = memory_store(image)
    with again.connect() as conn:
        assert conn.execute(text("SELECT line_id, status, count FROM work_order_counts")).all() == [
            ("L2", "ON_HOLD", 1)
        ]


def test_a_store_loaded_from_an_image_grows_past_one_gibibyte() -> None:
    """SQLite caps a database deserialized in place at 1 GiB; a plant's store outgrows that."""
    again = memory_store(unpack(packed_image(memory_store())[1]))
    blob = b"x" * 1_000_000
    try:
        with again.begin() as conn:
            conn.execute(text("CREATE TABLE ballast (b BLOB)"))
            for _ in range(1_100):
                conn.execute(text("INSERT INTO ballast VALUES (:b)"), {"b": blob})
            assert conn.execute(text("SELECT count(*) FROM ballast")).scalar_one() == 1_100
    finally:
        again.dispose()  # closes the connection: its 1.1 GB go back at once


def test_a_composed_store_reads_each_table_from_the_part_holding_it() -> None:
    orders, machines = memory_store(), memory_store()
    with orders.begin() as conn:
        conn.execute(
            text("INSERT INTO work_order_counts (line_id, status, count) VALUES ('L1', 'RELEASED', 3)")
        )
        conn.execute(text("UPDATE store_version SET version = 9, last_event_ms = 1000"))
    with machines.begin() as conn:
        conn.execute(text("INSERT INTO line_machines (equipment_id, line_id) VALUES ('M1', 'L1')"))
        conn.execute(text("UPDATE store_version SET version = 2, last_event_ms = 5000"))
    both = composed([(WORK_ORDERS.tables, orders), (LINE_MACHINES.tables, machines)])
    with both.connect() as conn:
        # each store also holds the other's table, empty: the part's own is the one read
        assert conn.execute(text("SELECT count FROM work_order_counts")).scalar_one() == 3
        assert conn.execute(text("SELECT line_id FROM line_machines")).all() == [("L1",)]
        assert current_version(conn)[:2] == (9, 5000)  # the newest event of either


def test_a_snapshot_image_leaves_out_the_pages_deleted_rows_freed() -> None:
    store = memory_store()
    with store.begin() as conn:
        conn.execute(text("CREATE TABLE ballast (b BLOB)"))
        for _ in range(100):
            conn.execute(text("INSERT INTO ballast VALUES (:b)"), {"b": b"x" * 10_000})
    full, _ = packed_image(store)
    with store.begin() as conn:
        conn.execute(text("DELETE FROM ballast"))
    emptied, _ = packed_image(store)
    empty, _ = packed_image(memory_store())
    assert full > empty + 1_000_000  # the rows were in it
    assert emptied < empty + 50_000  # their pages were not
