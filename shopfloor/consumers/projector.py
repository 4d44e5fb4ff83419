"""The projector loop: poll a batch, decode it, dead-letter the bad, apply the rest in one transaction."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from operator import attrgetter
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from shopfloor import metrics
from shopfloor.config import Settings
from shopfloor.consumers.dead_letters import DeadLetterWriter
from shopfloor.events.codec import Admission, InvalidEvent, decode
from shopfloor.events.envelope import Envelope
from shopfloor.events.models import event_topics
from shopfloor.observability import tracing
from shopfloor.observability.logs import correlation, set_correlation
from shopfloor.store.batch import (
    Batch,
    BatchResult,
    PositionConflict,
    Rejected,
    apply_batch,
    load_positions,
    prune_applied,
)
from shopfloor.store.changes import ChangeNotice, Handler
from shopfloor.store.faults import describe as describe_store_error
from shopfloor.store.faults import describe_failure, store_unavailable, transaction_conflict
from shopfloor.transport.base import EventSink, EventSource, Record, TopicPartition

log = logging.getLogger(__name__)
PROBE_INTERVAL = 3.0
# A batch this big (or a full one) means a backlog: decoding the next batch then overlaps its commit.
# A smaller one is decoded at once on the event loop, so its size is bounded in bytes too.
OVERLAP_FROM_RECORDS = 500
OVERLAP_FROM_BYTES = 256 * 1024
_PARTITION_OF = attrgetter("topic", "partition")  # a record's partition as a plain tuple, in C
_OFFSET_OF = attrgetter("offset")


class ProjectionFailed(RuntimeError):
    """Applying these records failed for a reason other than the store being unavailable."""


@dataclass
class ProjectorStatus:
    running: bool = False
    connected: bool = False
    store_ok: bool = True
    store_error: str | None = None
    last_batch_at: float | None = None
    progress: dict[TopicPartition, tuple[int, int]] = field(default_factory=dict)  # position, log end
    progress_at: float | None = None  # time.monotonic() of `progress`
    in_hand: deque[tuple[float, int]] = field(default_factory=deque)  # batches taken, not yet applied
    # (one that failed stays until a later one applies): when each was taken (time.monotonic()) and
    # its records, oldest first
    applied: int = 0
    duplicates: int = 0
    stale: int = 0
    dead: int = 0
    parked: int = 0  # of `dead`: in the dead-letter table only, their `.dlq` copy refused

    @property
    def lag(self) -> int:
        """Records in the log past the position reading has reached, as last read."""
        return sum(end - position for position, end in self.progress.values())

    @property
    def in_hand_records(self) -> int:
        return sum(n for _, n in tuple(self.in_hand))  # a copy: /readyz reads from a worker thread

    @property
    def consumed(self) -> int:
        """Records taken from the log, whatever became of them."""
        return self.applied + self.duplicates + self.stale + self.dead


def admission(settings: Settings) -> Admission:
    """The configured topics and clock skew every consumer (live or rebuilding) admits events by."""
    return Admission(event_topics(settings), int(settings.max_clock_skew_seconds * 1000))


def decode_records(
    records: Sequence[Record], admission: Admission | None = None, now_ms: int | None = None
) -> list[Envelope | Rejected]:
    """Every record becomes an Envelope or a Rejected with its reason; nothing a record holds raises."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    items: list[Envelope | Rejected] = []
    for record in records:
        try:
            items.append(
                decode(
                    record.value,
                    record.headers,
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                    timestamp_ms=record.timestamp_ms,
                    now_ms=now_ms,
                    admission=admission,
                )
            )
        except InvalidEvent as exc:
            items.append(Rejected(record, str(exc)))
        except Exception as exc:  # never let one record stop the line
            items.append(Rejected(record, f"undecodable: {type(exc).__name__}: {str(exc)[:300]}"))
    return items


class Projector:
    def __init__(
        self,
        source: EventSource,
        dead_letters: EventSink,
        engine: Engine,
        group_id: str,
        topics: Sequence[str],
        handlers: Sequence[Handler],
        on_commit: Callable[[ChangeNotice], None],
        max_records: int = 5000,
        dedup_window_seconds: float = 3600.0,
        admission: Admission | None = None,
        dead_letter_max_bytes: int = 1_000_000,
        prune_interval_seconds: float = 30.0,
    ) -> None:
        self._source = source
        self._dead_letters = DeadLetterWriter(dead_letters, dead_letter_max_bytes)
        self._admission = admission
        self._prune_interval = prune_interval_seconds
        self._engine = engine
        self._group_id = group_id
        self._topics = list(topics)
        self._handlers = list(handlers)
        self._on_commit = on_commit
        self._max_records = max_records
        self._dedup_window_ms = int(dedup_window_seconds * 1000)
        self._watermark_ms = 0
        self._last_prune = time.monotonic()
        self._expected: dict[TopicPartition, int | None] = {}
        self._seeks: dict[TopicPartition, int] = {}  # per partition: how often it was (re)positioned
        self._stopping = asyncio.Event()
        self._last_probe = 0.0
        self._last_kafka_commit = 0.0
        self.status = ProjectorStatus()
        self._unassigned_since = time.monotonic()

    async def _on_assign(self, partitions: set[TopicPartition]) -> None:
        """A rebalance (or the start) ends here: measured, since screens go stale meanwhile."""
        await self._assigned(partitions)
        metrics.REBALANCES.inc()
        metrics.REBALANCE_SECONDS.observe(time.monotonic() - self._unassigned_since)
        metrics.ASSIGNED_PARTITIONS.set(len(self._expected))

    async def _assigned(self, partitions: set[TopicPartition]) -> None:
        stored = await asyncio.to_thread(load_positions, self._engine, self._group_id)
        for tp in partitions:
            self._expected[tp] = stored.get(tp)
            self._source.seek(tp, stored.get(tp, 0))
            self._seeks[tp] = self._seeks.get(tp, 0) + 1
        log.info(
            "assigned %d partitions; resuming from stored positions: %s",
            len(partitions),
            " ".join(f"{tp.topic}[{tp.partition}]@{stored.get(tp, 0)}" for tp in sorted(partitions)),
        )

    async def _revoked(self, partitions: set[TopicPartition]) -> None:
        self._unassigned_since = time.monotonic()
        for tp in partitions:
            self._expected.pop(tp, None)
            with contextlib.suppress(KeyError):  # another worker reports its lag now
                metrics.CONSUMER_LAG.remove(tp.topic, str(tp.partition))

    async def run(self) -> None:
        self._unassigned_since = time.monotonic()
        await self._source.start(self._topics, self._on_assign, self._revoked)
        self.status.running = True
        self.status.connected = True
        committing: asyncio.Task[None] | None = None  # the previous batch, applying meanwhile
        try:
            while not self._stopping.is_set():
                batch = await self._source.getmany(timeout_ms=200, max_records=self._max_records)
                if not batch:
                    if committing is not None:
                        committing, previous = None, committing
                        await previous
                    await self._idle()
                    continue
                self.status.connected = True
                taken = time.monotonic()
                self.status.in_hand.append((taken, sum(map(len, batch.values()))))
                self._read_progress()  # the lag now leaves out what was just taken
                mine = [tp for tp in sorted(batch) if tp in self._expected]
                seeks = {tp: self._seeks.get(tp, 0) for tp in mine}  # as fetched
                records = [r for tp in mine for r in batch[tp]]
                # A backlog's decoding overlaps the previous batch's transaction (its SQL runs
                # without the GIL). Without one, overlapping would make each event wait for the
                # batch ahead of it as well as its own: a small batch is decoded at once and applied
                # before the next fetch, which then takes all that came meanwhile. Either way batches
                # commit one after the other, in log order.
                small = self._small(records)
                if small:
                    items = decode_records(records, self._admission)
                else:
                    items = await asyncio.to_thread(decode_records, records, self._admission)
                if committing is not None:
                    committing, previous = None, committing
                    await previous
                records, items = self._still_current(records, items, seeks)
                if not records:
                    self.status.in_hand.pop()  # this batch: the one before it has been applied
                    continue
                if small:
                    await self._process(records, items, taken)
                else:
                    committing = asyncio.create_task(self._process(records, items, taken))
        finally:
            self.status.running = False
            try:
                if committing is not None:
                    await committing
            finally:
                await self._source.stop()

    def _small(self, records: list[Record]) -> bool:
        """No backlog: fewer records than a full batch or the overlap threshold, and few bytes."""
        if len(records) >= min(OVERLAP_FROM_RECORDS, self._max_records):
            return False
        return sum(len(r.value or b"") for r in records) < OVERLAP_FROM_BYTES

    def _still_current(
        self, records: list[Record], items: list[Envelope | Rejected], seeks: dict[TopicPartition, int]
    ) -> tuple[list[Record], list[Envelope | Rejected]]:
        """What a batch fetched while the previous one committed may still apply: not records of a
        partition revoked since, nor of one re-seeked since (its fetch restarts at the stored position)."""
        current = {tp for tp, n in seeks.items() if tp in self._expected and self._seeks.get(tp) == n}
        if len(current) == len(seeks):
            return records, items
        kept = [
            (record, item)
            for record, item in zip(records, items, strict=True)
            if TopicPartition(record.topic, record.partition) in current
        ]
        return [r for r, _ in kept], [i for _, i in kept]

    def stop(self) -> None:
        self._stopping.set()

    async def _idle(self) -> None:
        now = time.monotonic()
        if now - self._last_probe < PROBE_INTERVAL:
            return
        self._last_probe = now
        probe = getattr(self._source, "probe", None)
        self.status.connected = await probe() if probe is not None else self._source.connected()
        self._update_lag()

    def _read_progress(self) -> dict[TopicPartition, tuple[int, int]]:
        progress = self._source.progress()
        self.status.progress, self.status.progress_at = progress, time.monotonic()
        return progress

    def _update_lag(self) -> None:
        for tp, (position, end) in self._read_progress().items():
            metrics.CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(end - position)

    async def _process(self, records: list[Record], items: list[Envelope | Rejected], taken: float) -> None:
        """Dead-letter a decoded batch's rejects and apply it in one transaction. Once applied, it and
        any batch taken before it are no longer in hand (one that failed was taken again since)."""
        await self._apply(records, items)
        in_hand = self.status.in_hand
        while in_hand and in_hand[0][0] <= taken:
            in_hand.popleft()

    async def _apply(self, records: list[Record], items: list[Envelope | Rejected]) -> None:
        with tracing.consume_span(records, self._group_id) as span:
            set_correlation(getattr(item, "correlationid", None) for item in items)  # logs and pushes after
            tracing.decoded(span, records, items, correlation.get())
            items = await self._send_dead_letters(items)
            try:
                await self._commit(records, items)
            except ProjectionFailed as exc:
                log.error("batch failed (%s); applying its records one by one to isolate the cause", exc)
                for record, item in zip(records, items, strict=True):
                    try:
                        await self._commit([record], [item])
                    except ProjectionFailed as single:
                        await self._dead_letter_alone(record, item, single)

    async def _dead_letter_alone(
        self, record: Record, item: Envelope | Rejected, failure: ProjectionFailed
    ) -> None:
        """The last word on a record that failed alone: a dead letter, else a row without its bytes."""
        rejected = item
        if not isinstance(rejected, Rejected):
            [rejected] = await self._dead_letters.write([Rejected(record, f"projection failed: {failure}")])
        try:
            await self._commit([record], [rejected])
            return
        except ProjectionFailed as error:
            again = error
            log.error(
                "dead-letter row for %s[%d]@%d failed (%s); keeping only where it was and why",
                record.topic,
                record.partition,
                record.offset,
                again,
            )
        # Its key, value and headers stay on the `.dlq` topic (unless parked): the row says where and why.
        reason = f"{rejected.reason[:1000]} [row kept without its bytes: {again}]"
        await self._commit([record], [replace(rejected, reason=reason, bare=True)])

    async def _send_dead_letters(self, items: list[Envelope | Rejected]) -> list[Envelope | Rejected]:
        rejected = [item for item in items if isinstance(item, Rejected)]
        if not rejected:
            return items
        written = iter(await self._dead_letters.write(rejected))
        return [next(written) if isinstance(item, Rejected) else item for item in items]

    async def _commit(self, records: Sequence[Record], items: list[Envelope | Rejected]) -> None:
        # each partition's last record (a loop in C: this runs on the event loop, per record)
        last = dict(zip(map(_PARTITION_OF, records), map(_OFFSET_OF, records), strict=True))
        next_offsets = {TopicPartition(*tp): offset + 1 for tp, offset in last.items()}
        expected = {tp: self._expected.get(tp) for tp in next_offsets}
        with tracing.apply_span(len(records)) as span:
            batch = Batch(self._group_id, items, expected, next_offsets, trace=tracing.traceparent(span))
            result = await self._commit_with_retry(batch)
            tracing.applied(span, result)
        if result is None:
            self._copies_without_rows(items)
            return
        for tp, offset in next_offsets.items():
            self._expected[tp] = offset
        self._record(result)
        if result.notice is not None:
            self._on_commit(result.notice)
        await self._prune_dedup_ids(result)
        if time.monotonic() - self._last_kafka_commit > 5:
            self._last_kafka_commit = time.monotonic()
            await self._source.commit(next_offsets)
            self._update_lag()

    def _copies_without_rows(self, items: Sequence[Envelope | Rejected]) -> None:
        """A batch not committed (its partition moved, or we are stopping) leaves `.dlq` copies with
        no table row; whoever applies the records dead-letters them again. Said and counted."""
        extra = [item for item in items if isinstance(item, Rejected) and item.parked is None]
        for item in extra:
            metrics.DEAD_LETTER_EXTRA_COPIES.labels(item.record.topic).inc()
        if extra:
            log.warning("%d dead-letter copies sent for a batch that was not committed", len(extra))

    async def _prune_dedup_ids(self, result: BatchResult) -> None:
        """Applied ids are kept for the dedup window, so the table stays bounded. The window moves with
        a watermark of applied events' clocks that never passes the wall clock: no record's `time`
        (a device set to 2030, say) can push it ahead and forget the ids of events still redelivered."""
        if result.clock_ms is not None:
            self._watermark_ms = max(self._watermark_ms, min(result.clock_ms, int(time.time() * 1000)))
        if time.monotonic() - self._last_prune < self._prune_interval or not self._watermark_ms:
            return
        self._last_prune = time.monotonic()
        cutoff = self._watermark_ms - self._dedup_window_ms
        try:
            removed = await asyncio.to_thread(prune_applied, self._engine, cutoff)
        except OperationalError as exc:
            log.warning("pruning applied ids failed (will retry): %s", exc)
            return
        if removed:
            log.info(
                "pruned %d applied ids older than the %ds dedup window",
                removed,
                self._dedup_window_ms // 1000,
            )

    async def _commit_with_retry(self, batch: Batch) -> BatchResult | None:
        """Retries while the store is unavailable; a failure caused by the records raises ProjectionFailed."""
        delay = 0.5
        while not self._stopping.is_set():
            try:
                result = await asyncio.to_thread(apply_batch, self._engine, batch, self._handlers)
            except PositionConflict as exc:
                log.warning("position conflict, re-seeking from the store: %s", exc)
                await self._assigned(set(self._expected))
                return None
            except DBAPIError as exc:
                if transaction_conflict(exc):  # another worker's batch: not the store, not the records
                    log.warning(
                        "batch met another worker's, applying it again: %s", describe_store_error(exc)
                    )
                    continue
                if not store_unavailable(exc):  # e.g. a constraint a record broke: isolate it
                    raise ProjectionFailed(describe_failure(exc)) from exc
                self.status.store_ok = False
                self.status.store_error = describe_store_error(exc)
                log.error("store refused the batch, retrying in %.1fs: %s", delay, self.status.store_error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            except Exception as exc:
                raise ProjectionFailed(describe_failure(exc)) from exc
            self.status.store_ok = True
            self.status.store_error = None
            return result
        return None

    def _record(self, result: BatchResult) -> None:
        status = self.status
        status.last_batch_at = time.time()
        status.applied += result.applied
        status.duplicates += result.duplicates
        status.stale += result.stale
        status.dead += result.dead
        status.parked += result.parked
        for outcome, count in (
            ("applied", result.applied),
            ("duplicate", result.duplicates),
            ("stale", result.stale),
            ("dead_letter", result.dead),
        ):
            if count:
                metrics.EVENTS.labels(outcome).inc(count)
        metrics.BATCH_SIZE.observe(result.applied + result.duplicates + result.stale + result.dead)
        metrics.COMMIT_SECONDS.observe(result.commit_seconds)
        now_ms = time.time() * 1000
        for event_ms in result.event_times_ms[:: max(1, len(result.event_times_ms) // 100)]:
            metrics.EVENT_TO_COMMIT.observe(max(0.0, (now_ms - event_ms) / 1000))

    def describe(self) -> dict[str, Any]:
        s = self.status
        return {
            "running": s.running,
            "connected": s.connected,
            "store_ok": s.store_ok,
            "store_error": s.store_error,
            "lag": s.lag,
            "in_hand": s.in_hand_records,
            "last_batch_at": s.last_batch_at,
            "applied": s.applied,
            "duplicates": s.duplicates,
            "stale": s.stale,
            "dead_letters": s.dead,
            "parked": s.parked,
        }
