"""The spine against the real broker, on SQLite and PostgreSQL: produce -> read model, effectively once."""

from __future__ import annotations

import asyncio
import json
import random
import signal
import subprocess
import sys

from aiokafka import AIOKafkaConsumer

from shopfloor.runtime import open_store
from shopfloor.transport.kafka import ensure_topics
from tests.integration.harness import count, projecting, wait_consumed, work_order_state
from tests.support import REPO, event, settings_env, unique_settings, wait_until, wo


async def test_events_become_read_models(kafka, producer, database_url) -> None:  # type: ignore[no-untyped-def]
    settings = unique_settings(kafka, database_url)
    topic = settings.topic_work_orders
    async with projecting(settings) as runtime:
        await producer.event(
            topic,
            "WO-1",
            event("WorkOrderStatusChanged", wo("WO-1", "PLANNED", line="L1", product="pump"), sequence=1),
        )
        await producer.event(
            topic,
            "WO-1",
            event("WorkOrderStatusChanged", wo("WO-1", "RELEASED"), sequence=2, offset_s=10),
            binary=True,
        )
        await producer.event(
            topic, "WO-2", event("WorkOrderStatusChanged", wo("WO-2", "IN_PROGRESS", line="L2"))
        )
        await wait_consumed(runtime, 3)
        state = work_order_state(runtime.engine)
    orders = {o["work_order_id"]: o for o in state["orders"]}
    assert orders["WO-1"]["status"] == "RELEASED"
    assert orders["WO-1"]["product"] == "pump"
    assert orders["WO-2"]["line_id"] == "L2"
    assert [h["status"] for h in state["history"] if h["work_order_id"] == "WO-1"] == ["PLANNED", "RELEASED"]
    assert {(c["line_id"], c["status"]): c["count"] for c in state["counts"]} == {
        ("L1", "RELEASED"): 1,
        ("L2", "IN_PROGRESS"): 1,
    }


async def test_duplicates_and_stale_events_change_nothing(kafka, producer, database_url) -> None:  # type: ignore[no-untyped-def]
    settings = unique_settings(kafka, database_url)
    topic = settings.topic_work_orders
    first = event("WorkOrderStatusChanged", wo("WO-7", "RELEASED"), sequence=1, event_id="e-1")
    second = event(
        "WorkOrderStatusChanged", wo("WO-7", "IN_PROGRESS"), sequence=2, offset_s=5, event_id="e-2"
    )
    stale = event("WorkOrderStatusChanged", wo("WO-7", "CANCELLED"), sequence=1, offset_s=9, event_id="e-3")
    async with projecting(settings) as runtime:
        for evt in (first, second, first, second, stale):
            await producer.event(topic, "WO-7", evt)
        await wait_consumed(runtime, 5)
        state = work_order_state(runtime.engine)
        assert runtime.projector is not None
        status = runtime.projector.status
    assert (status.applied, status.duplicates, status.stale) == (2, 2, 1)
    assert state["orders"][0]["status"] == "IN_PROGRESS"
    assert len(state["history"]) == 2
    assert {(c["line_id"], c["status"]): c["count"] for c in state["counts"]} == {("L1", "IN_PROGRESS"): 1}


async def test_poison_events_are_dead_lettered_and_later_events_applied(
    kafka, producer, database_url
) -> None:  # type: ignore[no-untyped-def]
    settings = unique_settings(kafka, database_url)
    topic = settings.topic_work_orders
    async with projecting(settings) as runtime:
        await producer.raw(topic, "WO-1", b"\x00\xffgarbage", [("origin", b"fuzz")])
        await producer.event(
            topic, "WO-1", event("WorkOrderStatusChanged", {"work_order_id": "WO-1", "status": "NOPE"})
        )
        await producer.event(topic, "WO-1", event("Unheard", {"work_order_id": "WO-1"}))
        await producer.event(topic, "WO-1", event("WorkOrderStatusChanged", wo("WO-1", "COMPLETED")))
        await wait_consumed(runtime, 4)
        state = work_order_state(runtime.engine)
        assert count(runtime.engine, "dead_letters") == 3
        with runtime.engine.connect() as conn:
            from sqlalchemy import text

            letters = [
                dict(r._mapping)
                for r in conn.execute(
                    text('SELECT topic, "partition", "offset", reason, value FROM dead_letters ORDER BY 3')
                )
            ]
    assert state["orders"][0]["status"] == "COMPLETED"
    assert all(letter["topic"] == topic for letter in letters)
    assert [letter["offset"] for letter in letters] == [0, 1, 2]
    assert "UTF-8" in letters[0]["reason"] and letters[0]["value"] == b"\x00\xffgarbage"
    assert "status" in letters[1]["reason"]
    assert "unknown event type" in letters[2]["reason"]

    consumer = AIOKafkaConsumer(
        f"{topic}.dlq",
        bootstrap_servers=kafka,
        auto_offset_reset="earliest",
        group_id=None,
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        records = []
        async with asyncio.timeout(20):
            while len(records) < 3:
                batch = await consumer.getmany(timeout_ms=500)
                records += [r for rs in batch.values() for r in rs]
    finally:
        await consumer.stop()
    reasons = sorted(dict(r.headers)["dlq_reason"].decode() for r in records)
    assert any("unknown event type" in r for r in reasons)
    original = next(r for r in records if dict(r.headers).get("origin") == b"fuzz")
    assert original.value == b"\x00\xffgarbage"
    assert dict(original.headers)["dlq_offset"] == b"0"


def _stream(orders: int, events_per_order: int, seed: int) -> list[tuple[str, dict]]:
    """A mixed stream with duplicates and out-of-order (stale) sequences; per-key order as Kafka keeps it."""
    rng = random.Random(seed)
    statuses = ["PLANNED", "RELEASED", "IN_PROGRESS", "ON_HOLD", "IN_PROGRESS", "COMPLETED"]
    queues: dict[str, list[dict]] = {}
    for i in range(orders):
        wid = f"WO-{i:05d}"
        line = f"L{i % 7}"
        queue = queues.setdefault(wid, [])
        for seq in range(1, events_per_order + 1):
            evt = event(
                "WorkOrderStatusChanged",
                wo(wid, statuses[(seq - 1) % len(statuses)], line=line, quantity_done=seq),
                sequence=seq,
                offset_s=seq * 60 + i,
            )
            queue.append(evt)
            if rng.random() < 0.1:
                queue.append(evt)
            if seq > 2 and rng.random() < 0.05:
                queue.append(
                    event(
                        "WorkOrderStatusChanged",
                        wo(wid, "CANCELLED", line=line),
                        sequence=seq - 2,
                        offset_s=seq * 60 + i + 1,
                    )
                )
    out: list[tuple[str, dict]] = []
    while queues:
        key = rng.choice(list(queues))
        out.append((key, queues[key].pop(0)))
        if not queues[key]:
            del queues[key]
    return out


async def test_killed_consumer_resumes_without_loss_or_double_effect(
    kafka, producer, database_url, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    settings = unique_settings(kafka, database_url, batch_max_records=50, kafka_session_timeout_ms=6000)
    stream = _stream(orders=300, events_per_order=15, seed=7)
    total = len(stream)
    at_kill: list[int] = []
    env = settings_env(settings)
    log = (tmp_path / "project.log").open("w")

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "shopfloor", "project"],
            env=env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    engine = open_store(settings)
    await ensure_topics(kafka, [settings.topic_work_orders], 3, {})
    process = start()
    kills = 0
    try:
        # A third of the stream before each kill: the first kill lands before the rest exists, so
        # mid-stream however fast the worker consumes.
        thirds = [stream[i * total // 3 : (i + 1) * total // 3] for i in range(3)]
        for third in thirds:
            for key, evt in third:
                await producer.sink.send(settings.topic_work_orders, json.dumps(evt).encode(), key.encode())
            await producer.sink.flush()
            floor = at_kill[-1] if at_kill else 0
            await wait_until(
                lambda floor=floor: _consumed(engine) > floor, 60, "the restarted projector to progress"
            )
            await asyncio.sleep(random.uniform(0.1, 0.5))
            process.send_signal(signal.SIGKILL)
            process.wait()
            kills += 1
            at_kill.append(_consumed(engine))
            process = start()
        await wait_until(lambda: _consumed(engine) >= total, 120, f"all {total} records consumed")
    except AssertionError as exc:  # a stuck worker: show what it logged, for the next one to read
        log.flush()
        tail = (tmp_path / "project.log").read_text(errors="replace")[-6000:]
        raise AssertionError(
            f"{exc} (kills so far at {at_kill})\n--- projector log, tail ---\n{tail}"
        ) from None
    finally:
        process.terminate()
        process.wait(10)
    killed_state = work_order_state(engine)

    replay = unique_settings(
        kafka, f"sqlite:///{tmp_path / 'replay.db'}", topic_work_orders=settings.topic_work_orders
    )
    async with projecting(replay) as runtime:
        await wait_consumed(runtime, total, timeout=120)
        clean_state = work_order_state(runtime.engine)
    print(
        f"\nkill test: {total} records, SIGKILL after {at_kill} records, {len(killed_state['orders'])} orders"
    )
    assert any(0 < consumed < total for consumed in at_kill), "no kill landed mid-stream"
    assert killed_state == clean_state
    assert len(killed_state["orders"]) == 300


def _applied(engine) -> int:  # type: ignore[no-untyped-def]
    return count(engine, "applied_events")


def _consumed(engine) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    with engine.connect() as conn:
        value = conn.execute(
            text("SELECT COALESCE(SUM(next_offset), 0) FROM consumer_positions")
        ).scalar_one()
    return int(value)
