"""Three `shopfloor project` workers in one consumer group on PostgreSQL; one is SIGKILLed mid-stream.

Its partitions must move to the survivors, which resume from the positions stored in the database:
nothing lost, nothing applied twice, the read model equal to a clean replay. The rebalance time is
measured from the kill to the first commit by a survivor on a moved partition.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from bench.common import fresh_postgres_database
from shopfloor.runtime import open_store
from shopfloor.transport.kafka import ensure_topics
from tests.integration.harness import count, projecting, wait_consumed, work_order_state
from tests.integration.scale import scale_settings, workers
from tests.support import event, unique_settings, wait_until, wo

PARTITIONS = 12
ORDERS = 600
EVENTS_PER_ORDER = 10
PRODUCE_SECONDS = 18.0


@pytest.fixture
def postgres_url(postgres: str) -> Iterator[str]:
    yield from fresh_postgres_database(postgres)


def order_stream(seed: int) -> list[tuple[str, dict[str, Any]]]:
    """Status changes for many orders, with redeliveries and stale events, in per-key order."""
    rng = random.Random(seed)
    statuses = ["PLANNED", "RELEASED", "IN_PROGRESS", "ON_HOLD", "IN_PROGRESS", "COMPLETED"]
    queues: dict[str, list[dict[str, Any]]] = {}
    for i in range(ORDERS):
        wid = f"WO-G{i:04d}"
        for seq in range(1, EVENTS_PER_ORDER + 1):
            evt = event(
                "WorkOrderStatusChanged",
                wo(wid, statuses[(seq - 1) % len(statuses)], line=f"L{i % 9}", quantity_done=seq),
                sequence=seq,
                offset_s=seq * 60 + i,
            )
            queue = queues.setdefault(wid, [])
            queue.append(evt)
            if rng.random() < 0.08:
                queue.append(evt)
            if seq > 3 and rng.random() < 0.04:
                stale = wo(wid, "CANCELLED", line=f"L{i % 9}")
                queue.append(
                    event("WorkOrderStatusChanged", stale, sequence=seq - 2, offset_s=seq * 60 + i + 1)
                )
    out: list[tuple[str, dict[str, Any]]] = []
    while queues:
        key = rng.choice(list(queues))
        out.append((key, queues[key].pop(0)))
        if not queues[key]:
            del queues[key]
    return out


def positions(dsn: str, group: str, topic: str) -> dict[int, int]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT partition, next_offset FROM consumer_positions WHERE group_id = %s AND topic = %s",
            (group, topic),
        ).fetchall()
    return {int(p): int(o) for p, o in rows}


async def test_killed_worker_partitions_move_without_loss(kafka, producer, postgres_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = scale_settings(
        kafka,
        postgres_url,
        kafka_topic_partitions=PARTITIONS,
        batch_max_records=40,
        kafka_session_timeout_ms=6000,
    )
    topic, group = settings.topic_work_orders, settings.kafka_group_id
    dsn = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    all_topics = settings.topics + [f"{t}.dlq" for t in settings.topics]
    await ensure_topics(kafka, all_topics, PARTITIONS, {})
    open_store(settings).dispose()
    stream = order_stream(seed=11)
    total = len(stream)

    async def produce() -> None:
        pause = PRODUCE_SECONDS / total
        for n, (key, evt) in enumerate(stream):
            await producer.sink.send(topic, json.dumps(evt).encode(), key.encode())
            if n % 50 == 49:
                await asyncio.sleep(pause * 50)
        await producer.sink.flush()

    with workers(settings, tmp_path, 3) as group_workers:

        def settled() -> bool:
            owned = [w.assignment() for w in group_workers]
            if any(not o for o in owned):
                return False
            mine = [{p for t, p in o if t == topic} for o in owned if o]
            return sum(len(m) for m in mine) == PARTITIONS and len(set().union(*mine)) == PARTITIONS

        await wait_until(settled, 60, "3 workers to share the 12 partitions")
        producing = asyncio.create_task(produce())
        await wait_until(lambda: sum(positions(dsn, group, topic).values()) > total // 5, 60, "progress")

        victim = group_workers[0]
        moved = {p for t, p in victim.assignment() or set() if t == topic}
        before = positions(dsn, group, topic)
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait()
        killed_at = time.monotonic()
        consumed_at_kill = sum(before.values())

        rebalance_s: float | None = None
        while rebalance_s is None and time.monotonic() - killed_at < 60:
            now = positions(dsn, group, topic)
            if any(now.get(p, 0) > before.get(p, 0) for p in moved):
                rebalance_s = time.monotonic() - killed_at
            await asyncio.sleep(0.025)
        assert rebalance_s is not None, "no surviving worker committed on a moved partition within 60 s"
        await producing
        await wait_until(lambda: sum(positions(dsn, group, topic).values()) >= total, 120, "end of lag")
        drained_s = time.monotonic() - killed_at
        survivors = [w.assignment() or set() for w in group_workers[1:]]

    engine = open_store(settings)
    grouped_state = work_order_state(engine)
    grouped_applied = count(engine, "applied_events")
    engine.dispose()

    replay = unique_settings(kafka, f"sqlite:///{tmp_path / 'replay.db'}", topic_work_orders=topic)
    async with projecting(replay) as runtime:
        await wait_consumed(runtime, total, timeout=120)
        clean_state = work_order_state(runtime.engine)
        clean_applied = count(runtime.engine, "applied_events")

    print(
        f"\nworker group: {total} records over {PARTITIONS} partitions, 3 workers; SIGKILL at "
        f"{consumed_at_kill} records; {len(moved)} partitions moved; rebalance (kill -> first commit "
        f"by a survivor on a moved partition) {rebalance_s:.2f}s; kill -> end of lag {drained_s:.2f}s"
    )
    assert 0 < consumed_at_kill < total, "the kill did not land mid-stream"
    assert moved, "the killed worker owned no work-order partition"
    assert moved <= {p for owned in survivors for t, p in owned if t == topic}
    assert grouped_applied == clean_applied
    assert grouped_state == clean_state
    assert len(grouped_state["orders"]) == ORDERS
