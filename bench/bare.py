"""shopfloor with its dedup and history switched off, for the ingest benchmark only.

The bare variant answers "what do dedup and history cost": the projector runs unchanged except
that it neither looks up nor records applied event ids and writes no work-order status history.
There is deliberately no such setting in shopfloor (it would break effectively-once); the switch is
this context manager, which swaps two store functions in this process and restores them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from shopfloor.store import batch as batch_store
from shopfloor.store import entity as entity_store
from shopfloor.store import work_orders as work_order_store


@contextmanager
def dedup_and_history_off() -> Iterator[None]:
    saved = (
        batch_store._record_new,
        batch_store._already_applied,
        batch_store.insert_ignore_tuples,
        entity_store.insert_ignore_tuples,
    )
    skipped = {batch_store.APPLIED, work_order_store.HISTORY}

    def insert_ignore_tuples(conn: Any, table: Any, columns: Any, rows: Sequence[Any]) -> None:
        if table not in skipped:
            saved[2](conn, table, columns, rows)

    batch_store._record_new = lambda conn, events, keys: None  # the lookup, then the insert
    batch_store._already_applied = lambda conn, keys: set()
    batch_store.insert_ignore_tuples = insert_ignore_tuples
    entity_store.insert_ignore_tuples = insert_ignore_tuples  # appends of every EntityHandler
    try:
        yield
    finally:
        (
            batch_store._record_new,
            batch_store._already_applied,
            batch_store.insert_ignore_tuples,
            entity_store.insert_ignore_tuples,
        ) = saved
