"""Consumers killed with SIGKILL at random moments, or paused past the session timeout, on SQLite and
PostgreSQL: the read models end equal to a clean replay (no loss, no double effect, per-key order).

CI runs SHOPFLOOR_KILLS=5 kills on an 8,000-record stream. The full run (20 kills, 100,000 records):
  SHOPFLOOR_KILLS=20 SHOPFLOOR_KILL_RECORDS=100000 \
    python3 -m pytest tests/faults/test_kill_and_pause.py -k sigkill -s
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
from pathlib import Path

from shopfloor.config import Settings
from shopfloor.runtime import open_store
from shopfloor.transport.kafka import ensure_topics
from tests.faults.processes import consumed, start, stop
from tests.faults.state import differences, read_models
from tests.faults.streams import mixed_stream, topic_for
from tests.integration.harness import projecting, wait_consumed
from tests.support import unique_settings, wait_until

KILLS = int(os.environ.get("SHOPFLOOR_KILLS", "5"))
RECORDS = int(os.environ.get("SHOPFLOOR_KILL_RECORDS", "8000"))


async def _produce(producer, settings: Settings, stream: list[tuple[str, str, bytes]]) -> None:  # type: ignore[no-untyped-def]
    for kind, key, value in stream:
        await producer.sink.send(topic_for(settings, kind), value, key.encode())
    await producer.sink.flush()


async def _produce_paced(
    producer, settings: Settings, stream: list[tuple[str, str, bytes]], seconds: float
) -> None:  # type: ignore[no-untyped-def]
    """Spread over `seconds`, so every kill lands while records are still arriving."""
    chunks = max(1, int(seconds * 10))
    size = max(1, len(stream) // chunks + 1)
    for start_at in range(0, len(stream), size):
        await _produce(producer, settings, stream[start_at : start_at + size])
        await asyncio.sleep(0.1)


async def _clean_replay(kafka: str, settings: Settings, tmp: Path, total: int) -> dict:  # type: ignore[type-arg]
    replay = unique_settings(
        kafka,
        f"sqlite:///{tmp / 'replay.db'}",
        topic_work_orders=settings.topic_work_orders,
        topic_inventory=settings.topic_inventory,
        topic_outbound=settings.topic_outbound,
        topic_equipment=settings.topic_equipment,
        topic_sensors=settings.topic_sensors,
    )
    async with projecting(replay) as runtime:
        await wait_consumed(runtime, total, timeout=600)
        return read_models(runtime.engine)


def _settings(kafka: str, database_url: str, **overrides: object) -> Settings:
    """Own topics for everything, alert commands included, so positions count only this stream."""
    settings = unique_settings(kafka, database_url, kafka_session_timeout_ms=6000, **overrides)
    return settings.model_copy(update={"topic_alert_commands": settings.topic_work_orders + ".alerts"})


async def _topics(kafka: str, settings: Settings) -> None:
    await ensure_topics(kafka, settings.topics, settings.kafka_topic_partitions, {})


async def test_sigkill_at_random_moments_ends_equal_to_a_clean_replay(
    kafka, producer, database_url, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    settings = _settings(kafka, database_url, batch_max_records=200)
    stream = mixed_stream(RECORDS, seed=11)
    engine = open_store(settings)
    await _topics(kafka, settings)
    log = tmp_path / "project.log"
    process = start(settings, log)
    at_kill: list[int] = []
    rng = random.Random()
    try:
        producing = asyncio.create_task(_produce_paced(producer, settings, stream, KILLS * 9))
        for _ in range(KILLS):
            floor = at_kill[-1] if at_kill else 0
            await wait_until(
                lambda floor=floor: consumed(engine, settings.kafka_group_id) > floor,
                90,
                "the restarted projector to make progress",
            )
            await asyncio.sleep(rng.uniform(0.05, 0.8))
            process.send_signal(signal.SIGKILL)
            process.wait()
            at_kill.append(consumed(engine, settings.kafka_group_id))
            process = start(settings, log)
        await producing
        await wait_until(
            lambda: consumed(engine, settings.kafka_group_id) >= len(stream),
            600,
            f"all {len(stream)} records consumed",
        )
    finally:
        stop(process)
    killed = read_models(engine)
    clean = await _clean_replay(kafka, settings, tmp_path, len(stream))
    print(
        f"\nSIGKILL x{len(at_kill)} on {len(stream)} records ({database_url.split(':')[0]}), "
        f"consumed at each kill: {at_kill}"
    )
    assert len(at_kill) == KILLS and any(0 < n < len(stream) for n in at_kill), "no kill landed mid-stream"
    assert differences(killed, clean) == []
    assert sum(len(rows) for rows in killed.values()) > 0


async def test_paused_past_session_timeout_then_resumed(kafka, producer, database_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """SIGSTOP one of two workers for longer than the session timeout: the other takes its partitions;
    on SIGCONT the paused one finds its batch's positions moved, re-seeks, and nothing doubles."""
    settings = _settings(kafka, database_url, batch_max_records=100)
    stream = mixed_stream(4000, seed=5)
    engine = open_store(settings)
    await _topics(kafka, settings)
    log = tmp_path / "project.log"
    first = start(settings, log)
    second = None
    try:
        await _produce(producer, settings, stream[: len(stream) // 2])
        await wait_until(lambda: consumed(engine, settings.kafka_group_id) > 200, 60, "progress")
        first.send_signal(signal.SIGSTOP)
        second = start(settings, log)
        await _produce(producer, settings, stream[len(stream) // 2 :])
        await asyncio.sleep(9)  # past the 6 s session timeout
        first.send_signal(signal.SIGCONT)
        await wait_until(
            lambda: consumed(engine, settings.kafka_group_id) >= len(stream),
            180,
            f"all {len(stream)} records consumed",
        )
        await asyncio.sleep(2)  # let the resumed worker finish whatever it held
        assert first.poll() is None, "the resumed worker died"
    finally:
        first.send_signal(signal.SIGCONT)
        stop(first)
        if second is not None:
            stop(second)
    paused = read_models(engine)
    clean = await _clean_replay(kafka, settings, tmp_path, len(stream))
    assert differences(paused, clean) == [], "\n".join(differences(paused, clean))
