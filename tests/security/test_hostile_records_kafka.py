"""Generated hostile records through the real broker, each with its fate known in advance.

Exact accounting: every record produced is applied or dead-lettered as the contract says (never a
duplicate, stale, parked or lost); the dead-letter table holds exactly the records that had to be
dead-lettered, by topic, partition and offset; the `.dlq` topics hold one copy of each, cut to their
limit where needed; and valid events produced after all of them are applied (the consumer goes on).

Every kind is drawn at least once (a batch of its own); `SHOPFLOOR_HOSTILE_EXAMPLES` raises the
number of mixed batches (default 80) for a longer run.
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from datetime import UTC, datetime

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from shopfloor.store.dead_letters import DEAD
from tests.integration.harness import projecting, wait_consumed
from tests.security.hostile_records import (
    DEAD_KINDS,
    DLQ_LIMIT,
    LIVE_KINDS,
    SEEN_IN,
    SKEW_S,
    TOPIC_SETTINGS,
    Spec,
    materialise,
    of_kind,
    specs,
)
from tests.security.kafka_topics import read_topic
from tests.support import event, unique_settings, wo

EXAMPLES = int(os.environ.get("SHOPFLOOR_HOSTILE_EXAMPLES", "80"))
SENTINELS = 20


def generated(examples: int, strategy: st.SearchStrategy[Spec] = specs) -> list[Spec]:
    found: list[Spec] = []

    @given(st.lists(strategy, min_size=1, max_size=8))
    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def gather(batch: list[Spec]) -> None:
        found.extend(batch)

    gather()
    return found


async def test_every_hostile_record_ends_where_the_contract_says(kafka, producer, database_url) -> None:  # type: ignore[no-untyped-def]
    config = unique_settings(
        kafka,
        database_url,
        batch_max_records=100,
        max_clock_skew_seconds=SKEW_S,
        dead_letter_max_bytes=DLQ_LIMIT,
        topic_alert_commands=f"t{uuid.uuid4().hex[:8]}.ops.alert-commands",
    )
    hostile = generated(EXAMPLES) + [
        s for kind in LIVE_KINDS + DEAD_KINDS for s in generated(1, of_kind(kind))
    ]
    async with projecting(config) as runtime:
        assert runtime.projector is not None
        pending = []
        for n, spec in enumerate(hostile):
            entity, key, value, headers = materialise(spec, n, datetime.now(UTC))
            topic = getattr(config, spec.topic_setting())
            pending.append((spec, entity, await producer.sink.send(topic, value, key, headers)))
        for n in range(SENTINELS):
            after = event("WorkOrderStatusChanged", wo(f"WO-AFTER-{n}", "RELEASED"), source="fuzz/after")
            await producer.event(config.topic_work_orders, f"WO-AFTER-{n}", after, binary=n % 2 == 1)
        placed = [(spec, entity, await future) for spec, entity, future in pending]
        produced = len(hostile) + SENTINELS
        await wait_consumed(runtime, produced, timeout=120)
        status = runtime.projector.status
        with runtime.engine.connect() as conn:
            letters = {(r.topic, r.partition, r.offset): r for r in conn.execute(select(DEAD))}
            seen = {
                kind: {v for (v,) in conn.execute(text(f"SELECT {column} FROM {table}"))}
                for kind, (table, column) in SEEN_IN.items()
            }
        assert status.running and status.store_ok

    must_die = {(m.topic, m.partition, m.offset): spec for spec, _, m in placed if spec.fate == "dead"}
    live = [(spec, entity, m) for spec, entity, m in placed if spec.fate == "live"]
    wrongly_dead = [
        (spec.why, spec.type, letters[(m.topic, m.partition, m.offset)].reason)
        for spec, _, m in live
        if (m.topic, m.partition, m.offset) in letters
    ]
    assert not wrongly_dead, f"valid records dead-lettered: {wrongly_dead[:5]}"
    assert set(letters) == set(must_die), (
        f"not dead-lettered: {[s.why for c, s in must_die.items() if c not in letters][:5]}"
    )
    assert (status.applied, status.dead, status.duplicates, status.stale, status.parked) == (
        len(live) + SENTINELS,
        len(must_die),
        0,
        0,
        0,
    )
    for spec, entity, _ in live:
        if spec.type in seen:
            assert entity in seen[spec.type], (
                f"{spec.why} {spec.type} {entity[:40]} applied but not in its table"
            )
    assert {f"WO-AFTER-{n}" for n in range(SENTINELS)} <= seen["WorkOrderStatusChanged"]

    copies = []
    for setting in TOPIC_SETTINGS:
        copies += await read_topic(kafka, f"{getattr(config, setting)}.dlq")
    origins = Counter(
        (h["dlq_topic"].decode(), int(h["dlq_partition"]), int(h["dlq_offset"]))
        for h in (dict(c.headers) for c in copies)
    )
    assert origins == Counter(set(letters)), ".dlq topics and the dead-letter table disagree"
    for copy in copies:
        headers = dict(copy.headers)
        spec = must_die[
            (headers["dlq_topic"].decode(), int(headers["dlq_partition"]), int(headers["dlq_offset"]))
        ]
        assert len(copy.value or b"") <= DLQ_LIMIT
        if spec.why == "huge":
            assert headers["dlq_truncated"].startswith(b"value cut from ")
    kinds = Counter(f"{spec.fate}:{spec.why}" for spec in hostile)
    print(
        f"\nhostile records: {len(hostile)} generated ({len(live)} valid at the limits, "
        f"{len(must_die)} breaking one rule) + {SENTINELS} after them: applied {status.applied}, "
        f"dead-lettered {status.dead}, "
        f"parked {status.parked}, duplicate {status.duplicates}, stale {status.stale}, lost 0; "
        f".dlq records {len(copies)} = table rows {len(letters)}; kinds {dict(sorted(kinds.items()))}"
    )
