"""Hostile records through the real broker and the real consumer: it never stops, nothing is unaccounted.

Hypothesis generates the records (the generate phase only: each batch then goes through Kafka, where
shrinking cannot follow); the named classics are always included. `SHOPFLOOR_FUZZ_BATCHES` raises the
number of generated batches (default 80) for a longer run.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.integration.harness import applied_total, count, projecting, wait_consumed, work_order_state
from tests.security.hostile import Record, classics, records
from tests.support import event, unique_settings, wo

BATCHES = int(os.environ.get("SHOPFLOOR_FUZZ_BATCHES", "80"))


def generated(batches: int) -> list[Record]:
    found: list[Record] = []

    @given(st.lists(records(), min_size=1, max_size=12))
    @settings(
        max_examples=batches,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def gather(batch: list[Record]) -> None:
        found.extend(batch)

    gather()
    return found


async def test_hostile_records_are_all_accounted_for(kafka, producer, database_url) -> None:  # type: ignore[no-untyped-def]
    settings_ = unique_settings(kafka, database_url, batch_max_records=200)
    topics = [
        settings_.topic_work_orders,
        settings_.topic_equipment,
        settings_.topic_sensors,
        settings_.topic_inventory,
        settings_.topic_outbound,
    ]
    hostile = classics() + generated(BATCHES)
    async with projecting(settings_) as runtime:
        assert runtime.projector is not None
        for n, (key, value, headers) in enumerate(hostile):
            if key is None and value is None:
                key = b"tombstone"  # Kafka needs one of the two
            await producer.sink.send(topics[n % len(topics)], value, key, headers)
        await producer.sink.flush()
        sentinel = event("WorkOrderStatusChanged", wo("WO-AFTER-FUZZ", "COMPLETED"), source="fuzz/sentinel")
        await producer.event(settings_.topic_work_orders, "WO-AFTER-FUZZ", sentinel)
        produced = len(hostile) + 1
        await wait_consumed(runtime, produced, timeout=120)
        status = runtime.projector.status
        assert status.running and status.store_ok
        assert applied_total(runtime) == produced, "a record was counted twice or not at all"
        assert count(runtime.engine, "dead_letters") == status.dead
        orders = {o["work_order_id"]: o["status"] for o in work_order_state(runtime.engine)["orders"]}
        assert orders["WO-AFTER-FUZZ"] == "COMPLETED", "the line stopped moving after hostile input"
    print(
        f"\nhostile input: produced {produced}: applied {status.applied}, duplicate {status.duplicates}, "
        f"stale {status.stale}, dead-lettered {status.dead}; lost 0"
    )
