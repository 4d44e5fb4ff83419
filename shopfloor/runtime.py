"""Wires one process together: store, event log, projector, live hub and background tasks.

`demo`, `serve`, `project` and `web` differ only in which parts run and where events come from.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, text

from shopfloor import alarm_config
from shopfloor.auth.tables import TABLES as SIGN_IN_TABLES
from shopfloor.config import Settings
from shopfloor.consumers.projector import Projector, admission
from shopfloor.history.service import History, reader_factory
from shopfloor.history.snapshots import SnapshotStore, Snapshotter
from shopfloor.live.hub import Hub
from shopfloor.observability.loop_lag import watch_loop
from shopfloor.rebuild.models import find
from shopfloor.rebuild.progress import TABLE as REBUILD_PROGRESS
from shopfloor.rebuild.progress import Progress
from shopfloor.rebuild.runner import Rebuild
from shopfloor.rebuild.shadow import open_engine
from shopfloor.store.batch import current_version, ensure_version_row, store_epoch
from shopfloor.store.db import create_schema, drop_schema, make_engine
from shopfloor.store.registry import HANDLERS, TABLES
from shopfloor.transport.base import EventSink, TopicPartition
from shopfloor.transport.memory import MemoryLog, MemoryReader, MemorySink, MemorySource

log = logging.getLogger(__name__)
BackgroundTask = Callable[[], Awaitable[Any]]
# A batch's decoded events live until it is applied, three tracked objects each (the payload model,
# its dict, its set of given fields): 15,000 for a batch of 5,000 (`batch_max_records`; at about
# 6,700 the same happens again). A lower threshold set off several young collections per batch, each
# moving the batch on to be walked again by the middle generation's collections.
GC_YOUNG_THRESHOLD = 20_000


BEHIND_SECONDS = 10.0  # as long as a page waits for a heartbeat before it counts itself stale


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


def seconds_behind(
    lags: dict[TopicPartition, int], arriving: dict[TopicPartition, float], held_seconds: float = 0.0
) -> float:
    """How far the data shown trails the plant: on the partition furthest behind, what waits in the log
    at the rate events arrive on it (one a second at the least), or as long as a batch taken has gone
    unapplied (a transaction that hangs, a consumer that fails and restarts), whichever is longer.
    Not at the pace the consumer keeps: one slowed to a third for five seconds by a burst of page
    loads would count 3.6 s of a 1,000 events/s feed as 12. Not summed over partitions: a busy
    sensor feed would hide a quiet line's orders waiting for minutes. A partition without a rate yet
    (just assigned) is left out until it has one."""
    trailing = (lags[tp] / max(arriving[tp], 1.0) for tp in lags if tp in arriving and lags[tp] > 0)
    return max(max(trailing, default=0.0), held_seconds)


@dataclass
class Arrivals:
    """Events a second arriving on each partition over about the last `window` seconds, from the log
    ends the consumer reports: a partition's rate runs from the oldest report in the window that
    holds it to the newest (the log's end grows whoever reads it, so a rebalance in between changes
    nothing); one in the newest report only has none yet. Called from the event loop and from
    `/readyz`'s worker thread alike."""

    window: float = 60.0
    _reports: deque[tuple[float, dict[TopicPartition, int]]] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def update(self, at: float | None, ends: dict[TopicPartition, int]) -> dict[TopicPartition, float]:
        with self._lock:
            reports = self._reports
            if at is not None and (not reports or at > reports[-1][0]):
                reports.append((at, ends))
                while len(reports) > 2 and at - reports[1][0] >= self.window:
                    reports.popleft()
            if not reports:
                return {}
            newest, last = reports[-1]
            rates: dict[TopicPartition, float] = {}
            for tp, end in last.items():
                since, first = next((when, report) for when, report in reports if tp in report)
                if since < newest:
                    rates[tp] = max(0, end - first[tp]) / (newest - since)
            return rates


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    hub: Hub
    projector: Projector | None = None
    sink: EventSink | None = None
    auth: bool = False
    listener: Any = None  # NotifyListener on PostgreSQL web processes
    tasks: list[BackgroundTask] = field(default_factory=list)
    on_stop: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    last_event_ms: int | None = None
    last_commit_ms: int | None = None
    clock_ms: Callable[[], int] = field(default=lambda: wall_clock_ms())  # what sessions expire by
    memory_log: MemoryLog | None = None  # the embedded event log, when this process holds it
    history: History | None = None  # past views (?at=): as-of stores replayed from the log
    arrivals: Arrivals = field(default_factory=Arrivals)  # on the projector's partitions

    def consumer_behind(self) -> float:
        """Seconds the data shown trails the plant (0 without a projector): the heartbeat and
        readiness judge by it alike."""
        if self.projector is None:
            return 0.0
        status = self.projector.status
        progress = status.progress
        arriving = self.arrivals.update(status.progress_at, {tp: end for tp, (_, end) in progress.items()})
        in_hand = tuple(status.in_hand)  # one copy: the loop may take or finish a batch meanwhile
        held = time.monotonic() - in_hand[0][0] if in_hand else 0.0
        lags = {tp: end - position for tp, (position, end) in progress.items()}
        return seconds_behind(lags, arriving, held)

    async def status(self) -> dict[str, Any]:
        """Freshness for every page: newest event time, and whether the data may be stale."""

        def read() -> tuple[int, int | None, int | None]:
            with self.engine.connect() as conn:
                return current_version(conn)

        reasons: list[str] = []
        try:
            _, self.last_event_ms, self.last_commit_ms = await asyncio.to_thread(read)
        except Exception:
            reasons.append("store unreachable")
        if self.projector is not None:
            status = self.projector.status
            if not status.connected:
                reasons.append("event log unreachable")
            if not status.store_ok:
                reasons.append("store refuses writes")
            behind = self.consumer_behind()
            if behind > BEHIND_SECONDS:
                waiting = f"{status.lag} events waiting, {status.in_hand_records} being applied"
                reasons.append(f"consumer about {behind:.0f} s behind ({waiting})")
        if self.listener is not None and not self.listener.status.connected:
            reasons.append("not hearing commits (PostgreSQL LISTEN down)")
        return {
            "healthy": not reasons,
            "reason": ", ".join(reasons),
            "last_event_ms": self.last_event_ms,
            "last_commit_ms": self.last_commit_ms,
            "server_ms": int(time.time() * 1000),
        }

    async def rebuild(self, name: str, on_progress: Callable[[Progress], None] | None = None) -> Progress:
        """Replays one read model from this process's own event log and swaps it in: with the embedded
        log, only the process holding it (`shopfloor demo`) can rebuild."""
        reader = None if self.memory_log is None else MemoryReader(self.memory_log)  # None: Kafka
        if reader is None and self.settings.embedded:
            raise RuntimeError("this process holds no event log to rebuild from")
        engine = open_engine(self.settings.database_url)
        try:
            model = find(name, HANDLERS)
            return await Rebuild(self.settings, model, engine, on_progress, reader=reader).run()
        finally:
            engine.dispose()

    @asynccontextmanager
    async def lifespan(self, _app: Any) -> AsyncIterator[None]:
        tune_gc()
        running = [asyncio.create_task(task()) for task in self.tasks]
        try:
            yield
        finally:
            if self.projector is not None:
                self.projector.stop()
            for task in running:
                task.cancel()
            for task in running:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            for stop in self.on_stop:
                with contextlib.suppress(Exception):
                    await stop()


def tune_gc() -> None:
    """Everything imported and built so far lives as long as the process: keep it out of the cyclic
    GC, whose full passes over it stalled the event loop for 100-200 ms at a time; and collect the
    young generation less often (batches allocate many short-lived objects)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 20)


# The store's tables, sign-in's and rebuild progress: what every process creates on opening the store.
SCHEMA = (*TABLES, *SIGN_IN_TABLES, REBUILD_PROGRESS)


def open_store(settings: Settings, *, fresh: bool = False) -> Engine:
    engine = make_engine(settings.database_url)
    with schema_lock(engine):
        if fresh:
            drop_schema(engine, SCHEMA)
        create_schema(engine, SCHEMA)
        ensure_version_row(engine)
    return engine


@contextlib.contextmanager
def schema_lock(engine: Engine) -> Iterator[None]:
    """Workers and replicas starting together must not race each other creating tables (PostgreSQL)."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(7207001)"))
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(7207001)"))
            conn.commit()


def build(settings: Settings, *, consume: bool, serve_web: bool, demo: bool = False) -> Runtime:
    """Assemble a process. `demo` uses the embedded log and starts a fresh store and simulator."""
    alarm_config.install(alarm_config.load(settings.alarm_config))  # invalid: a clear error at start
    engine = open_store(settings, fresh=demo and settings.embedded)
    with engine.connect() as conn:
        version, _, _ = current_version(conn)
        epoch = store_epoch(conn)
    hub = Hub(version, settings.push_interval_seconds, epoch=epoch)
    runtime = Runtime(settings=settings, engine=engine, hub=hub)
    runtime.hub.status_provider = runtime.status
    if serve_web:  # where /metrics is served, and where a stall holds up screens
        runtime.tasks.append(watch_loop)
        runtime.tasks.append(runtime.hub.run_ticker)
        if engine.dialect.name == "postgresql":
            from shopfloor.live.notify_listener import NotifyListener

            runtime.listener = NotifyListener(settings.database_url, runtime.hub)
            runtime.tasks.append(runtime.listener.run)
    if consume:
        _add_projector(runtime, settings, demo=demo)
        if settings.alarm_webhook_url:
            from shopfloor.alarm_notify import Notifier, Policy

            policy = Policy(
                settings.alarm_webhook_url,
                settings.alarm_notify_after_minutes * 60,
                settings.alarm_escalation_url,
                settings.alarm_escalate_after_minutes * 60,
                settings.alarm_notify_retries,
            )
            runtime.tasks.append(Notifier(engine, policy).run)
    _add_history(runtime, settings, take_snapshots=consume, started_version=version)
    return runtime


def _add_history(runtime: Runtime, settings: Settings, *, take_snapshots: bool, started_version: int) -> None:
    """Past views wherever the log can be read; the projecting process also takes the snapshots."""
    open_reader = reader_factory(settings, runtime.memory_log)
    if open_reader is None:
        return
    snapshots = None
    if settings.history_snapshot_minutes > 0:
        with schema_lock(runtime.engine):
            snapshots = SnapshotStore(runtime.engine)
        if settings.embedded:
            snapshots.clear()  # taken from an embedded log that ended with its process
    incomplete = None
    if settings.embedded and started_version > 0:
        incomplete = (
            "the embedded event log starts empty with each process, and this store holds older events"
        )
    runtime.history = History(settings, open_reader, HANDLERS, snapshots, incomplete)
    if snapshots is not None and take_snapshots:
        snapshotter = Snapshotter(
            runtime.history,
            snapshots,
            runtime.engine,
            settings.history_snapshot_minutes,
            settings.history_snapshot_retention_hours,
            busy_records=settings.history_snapshot_records,
        )
        runtime.tasks.append(snapshotter.run)


def _add_projector(runtime: Runtime, settings: Settings, *, demo: bool) -> None:
    prepare: Callable[[], Awaitable[None]] | None = None
    if settings.embedded:
        memory_log = runtime.memory_log = MemoryLog()
        source: Any = MemorySource(memory_log)
        sink: Any = MemorySink(memory_log)
    else:
        from shopfloor.transport.kafka import KafkaSink, KafkaSource, ensure_topics

        servers = settings.kafka_bootstrap_servers or ""
        options = settings.kafka_client_options()
        source = KafkaSource(servers, settings.kafka_group_id, options, settings.kafka_session_timeout_ms)
        sink = KafkaSink(servers, options)
        runtime.on_stop.append(sink.stop)

        async def prepare() -> None:
            topics = settings.topics + [f"{t}.dlq" for t in settings.topics]
            created = await ensure_topics(
                servers, topics, settings.kafka_topic_partitions, options, settings.kafka_replication_factor
            )
            if created:
                log.info("created topics: %s", ", ".join(created))
            await sink.start()

    projector = Projector(
        source,
        sink,
        runtime.engine,
        settings.kafka_group_id,
        settings.topics,
        HANDLERS,
        on_commit=runtime.hub.publish,
        max_records=settings.batch_max_records,
        dedup_window_seconds=settings.dedup_window_seconds,
        admission=admission(settings),
        dead_letter_max_bytes=settings.dead_letter_max_bytes,
    )
    runtime.projector = projector
    runtime.sink = sink

    async def run_projector() -> None:
        """Kafka may be down at start: keep trying to prepare, then keep the projector running."""
        while prepare is not None:
            try:
                await prepare()
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                projector.status.connected = False
                log.error("cannot reach Kafka yet (%s); retrying in 2 s", exc)
                await asyncio.sleep(2)
        while True:
            try:
                await projector.run()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("projector stopped unexpectedly; restarting in 2 s")
                await asyncio.sleep(2)

    runtime.tasks.append(run_projector)
