"""Consumers killed with SIGKILL at random moments, or paused past the session timeout, on SQLite and
PostgreSQL: the read models end equal to what a plain reference model computes from the distinct
events (`reference.py`; not a replay through the same projector), for every read model: work orders,
inventory, outbound, equipment, sensors and alerts. No loss, no double effect, per-key order.

CI runs SHOPFLOOR_KILLS=5 kills on an 8,000-record stream. The full run (20 kills, 100,000 records):
  SHOPFLOOR_KILLS=20 SHOPFLOOR_KILL_RECORDS=100000 \
    python3 -m pytest tests/faults/test_kill_and_pause.py -k sigkill -s
`test_mutation_check.py` proves this comparison fails when dedup or the batch transaction is broken.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import Engine

from shopfloor.config import Settings
from shopfloor.runtime import open_store
from shopfloor.transport.kafka import ensure_topics
from tests.faults import reference
from tests.faults.processes import consumed, start, stop
from tests.faults.streams import mixed_stream, topic_for
from tests.support import unique_settings, wait_until

pytestmark = pytest.mark.alone  # kills paced to land while records arrive, on a quiet machine
KILLS = int(os.environ.get("SHOPFLOOR_KILLS", "5"))
RECORDS = int(os.environ.get("SHOPFLOOR_KILL_RECORDS", "8000"))
Stream = list[tuple[str, str, bytes]]


async def _produce(producer, settings: Settings, stream: Stream) -> None:  # type: ignore[no-untyped-def]
    for kind, key, value in stream:
        await producer.sink.send(topic_for(settings, kind), value, key.encode())
    await producer.sink.flush()


async def _produce_paced(producer, settings: Settings, stream: Stream, seconds: float) -> None:  # type: ignore[no-untyped-def]
    """Spread over `seconds`, so every kill lands while records are still arriving."""
    chunks = max(1, int(seconds * 10))
    size = max(1, len(stream) // chunks + 1)
    for start_at in range(0, len(stream), size):
        await _produce(producer, settings, stream[start_at : start_at + size])
        await asyncio.sleep(0.1)


def _settings(kafka: str, database_url: str, **overrides: object) -> Settings:
    """Own topics for everything, alert commands included, so positions count only this stream."""
    settings = unique_settings(kafka, database_url, kafka_session_timeout_ms=6000, **overrides)
    return settings.model_copy(update={"topic_alert_commands": settings.topic_work_orders + ".alerts"})


async def _topics(kafka: str, settings: Settings) -> None:
    await ensure_topics(kafka, settings.topics, settings.kafka_topic_partitions, {})


class Worker:
    """A projector process, started again whenever it has died (killed here, or crashed on its own)."""

    def __init__(self, settings: Settings, log: Path, module: Sequence[str], env: dict[str, str]) -> None:
        self._args = (settings, log)
        self._module, self._env = module, env
        self.process = self._start()
        self.starts = 1

    def _start(self) -> subprocess.Popen[bytes]:
        return start(*self._args, module=self._module, **self._env)

    def revive(self) -> None:
        if self.process.poll() is not None:
            self.process = self._start()
            self.starts += 1

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        stop(self.process)


async def run_with_kills(
    kafka: str,
    producer,  # type: ignore[no-untyped-def]
    settings: Settings,
    stream: Stream,
    kills: int,
    log: Path,
    module: Sequence[str] = ("shopfloor",),
    env: dict[str, str] | None = None,
) -> tuple[Engine, list[int]]:
    """Produce `stream` while SIGKILLing the projector `kills` times at random moments; returns the
    store once every record is consumed and the last worker has exited, and where each kill landed."""
    engine = open_store(settings)
    await _topics(kafka, settings)
    worker = Worker(settings, log, module, env or {})
    at_kill: list[int] = []
    rng = random.Random()

    def progressed(floor: int) -> bool:
        worker.revive()
        return consumed(engine, settings.kafka_group_id) > floor

    try:
        producing = asyncio.create_task(_produce_paced(producer, settings, stream, max(3, kills * 9)))
        for _ in range(kills):
            floor = at_kill[-1] if at_kill else 0
            await wait_until(lambda floor=floor: progressed(floor), 90, "the restarted projector to progress")
            await asyncio.sleep(rng.uniform(0.05, 0.8))  # a random instant to kill at, not a wait
            worker.kill()
            at_kill.append(consumed(engine, settings.kafka_group_id))
            worker.revive()
        await producing
        await wait_until(lambda: progressed(len(stream) - 1), 600, f"all {len(stream)} records consumed")
    finally:
        worker.stop()
    return engine, at_kill


def assert_matches_reference(engine: Engine, stream: Stream) -> None:
    problems = reference.check(engine, stream)
    assert problems == [], "\n".join(problems)
    rows = reference.coverage(reference.expected(stream))
    empty = sorted(name for name, n in rows.items() if n == 0)
    assert empty == [], f"the stream left these read models empty, so they were not tested: {empty}"
    print(f"reference rows compared: {sum(rows.values())} in {len(rows)} tables; {rows}")


async def test_sigkill_at_random_moments_ends_equal_to_the_reference(
    kafka, producer, database_url, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    settings = _settings(kafka, database_url, batch_max_records=200)
    stream = mixed_stream(RECORDS, seed=11)
    engine, at_kill = await run_with_kills(kafka, producer, settings, stream, KILLS, tmp_path / "project.log")
    print(
        f"\nSIGKILL x{len(at_kill)} on {len(stream)} records ({database_url.split(':')[0]}), "
        f"consumed at each kill: {at_kill}"
    )
    assert len(at_kill) == KILLS and any(0 < n < len(stream) for n in at_kill), "no kill landed mid-stream"
    assert_matches_reference(engine, stream)


def _assignments(log: Path) -> int:
    return log.read_text(errors="replace").count("resuming from stored positions") if log.exists() else 0


async def test_paused_past_session_timeout_then_resumed(kafka, producer, database_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """SIGSTOP one of two workers for longer than the session timeout: the other takes its partitions;
    on SIGCONT the paused one finds its batch's positions moved, re-seeks, and nothing doubles."""
    settings = _settings(kafka, database_url, batch_max_records=100)
    stream = mixed_stream(4000, seed=5)
    engine = open_store(settings)
    await _topics(kafka, settings)
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    first = start(settings, first_log)
    second = None
    try:
        await _produce(producer, settings, stream[: len(stream) // 2])
        await wait_until(lambda: consumed(engine, settings.kafka_group_id) > 200, 60, "progress")
        first.send_signal(signal.SIGSTOP)
        second = start(settings, second_log)
        await _produce(producer, settings, stream[len(stream) // 2 :])
        await asyncio.sleep(9)  # the pause itself: past the 6 s session timeout
        assigned_before = _assignments(first_log)
        first.send_signal(signal.SIGCONT)
        await wait_until(
            lambda: consumed(engine, settings.kafka_group_id) >= len(stream),
            180,
            f"all {len(stream)} records consumed",
        )
        # The resumed worker is done with what it held once it has been given partitions again
        # (after a rejoin, or after re-seeking on a position conflict): both end in a new assignment.
        await wait_until(
            lambda: _assignments(first_log) > assigned_before, 120, "the resumed worker to rejoin"
        )
        assert first.poll() is None, "the resumed worker died"
    finally:
        first.send_signal(signal.SIGCONT)
        stop(first)
        if second is not None:
            stop(second)
    assert_matches_reference(engine, stream)
