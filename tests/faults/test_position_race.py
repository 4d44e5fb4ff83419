"""Two workers that both believe they own a partition nobody has committed yet (a paused worker and
the one that took over): the one that commits second must find the position moved, never overwrite
the first's read models with what it read before. On PostgreSQL there is no position row to lock
yet, which the paused-worker test found by chance; this pins it down deterministically."""

from __future__ import annotations

import threading

from shopfloor.config import Settings
from shopfloor.runtime import open_store
from shopfloor.store.batch import Batch, PositionConflict, apply_batch, apply_in
from shopfloor.store.db import begin_write
from shopfloor.transport.base import TopicPartition

TP = TopicPartition("wms.outbound", 0)


def _batch(next_offset: int) -> Batch:
    return Batch(group_id="g", items=[], expected={TP: None}, next_offsets={TP: next_offset})


def test_a_second_worker_on_a_fresh_partition_waits_and_then_conflicts(postgres: str) -> None:
    from bench.common import fresh_postgres_database

    databases = fresh_postgres_database(postgres)
    url = next(databases)
    try:
        engine = open_store(Settings(database_url=url))
        outcome: list[str] = []
        with begin_write(engine) as conn:  # the paused worker, mid-transaction
            apply_in(conn, _batch(10), [])

            def takeover() -> None:
                try:
                    apply_batch(engine, _batch(50), [])
                    outcome.append("committed")
                except PositionConflict:
                    outcome.append("conflict")

            other = threading.Thread(target=takeover)
            other.start()
            other.join(3)  # a bounded look, not a threshold: it must still be waiting for our commit
            waiting = other.is_alive()
        other.join(30)
        assert waiting, f"the second worker did not wait for the first's transaction: {outcome}"
        assert outcome == ["conflict"]
        engine.dispose()
    finally:
        next(databases, None)
