"""As-of stores on demand: which part of the log is still retained, and the store for a moment.

A moment is answered part by part (handlers writing no table in common, registry.Part), each from
its newest snapshot at or before the moment (when snapshots are kept) plus a replay of its topics
from the snapshot's positions; without one, from the beginning of the log. A board reading several
parts reads their stores as one. When
the broker's retention has dropped records that the answer needs, it says so instead of answering
with a partial past.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Engine

from shopfloor.config import Settings
from shopfloor.consumers.projector import admission, decode_records
from shopfloor.events.envelope import Envelope
from shopfloor.history.moment import local_label, parse_moment
from shopfloor.history.replay import Replayed, collect, composed, event_ms, memory_store, replay
from shopfloor.store.changes import Handler
from shopfloor.store.registry import Part, parts_of
from shopfloor.transport.base import LogReader, Record, TopicPartition

CACHED = 4  # as-of stores kept (a page and its fragments ask for the same moment together)
CACHE_SECONDS = 60.0


class PastUnavailable(LookupError):
    """The log no longer (or does not yet) hold what this moment needs; the message says why."""


@dataclass(frozen=True)
class AsOf:
    at_ms: int
    engine: Engine
    replayed: Replayed
    snapshot_ms: int | None  # the snapshot it started from, if any (the oldest, over several parts)


class SnapshotSource(Protocol):
    """What the service needs from a snapshot store (history/snapshots.py): a part's newest snapshot
    at or before a moment, as (its moment, its image, the log positions it reached)."""

    def latest_before(self, at_ms: int, part: str) -> tuple[int, bytes, dict[TopicPartition, int]] | None: ...

    def oldest_usable(self, begins: dict[TopicPartition, int], part: str) -> int | None:
        """The oldest moment of a part's snapshot whose positions the log still holds."""
        ...


class NoSnapshots:
    def latest_before(self, at_ms: int, part: str) -> tuple[int, bytes, dict[TopicPartition, int]] | None:
        return None

    def oldest_usable(self, begins: dict[TopicPartition, int], part: str) -> int | None:
        return None


def carries(positions: dict[TopicPartition, int], begins: dict[TopicPartition, int]) -> bool:
    """Whether a snapshot at `positions` can be carried forward: no record after it has been dropped."""
    return all(positions.get(tp, 0) >= begin for tp, begin in begins.items())


class History:
    def __init__(
        self,
        settings: Settings,
        open_reader: Callable[[], LogReader],
        handlers: Sequence[Handler],
        snapshots: SnapshotSource | None = None,
        incomplete: str | None = None,
    ) -> None:
        """`incomplete` says why the log lacks events the live store holds (then no past is shown)."""
        self.settings = settings
        self.zone = settings.calendar().zone
        self._open_reader = open_reader
        self.parts = parts_of(handlers)
        self._admission = admission(settings)
        self.snapshots: SnapshotSource = snapshots or NoSnapshots()
        self._cache: OrderedDict[tuple[int, tuple[str, ...]], tuple[float, AsOf]] = OrderedDict()
        self._lock = asyncio.Lock()
        self._incomplete = incomplete

    async def as_of(self, at_ms: int, parts: Sequence[Part] | None = None) -> AsOf:
        """The store as it stood at `at_ms` (event time), with the tables of `parts` (all by default);
        PastUnavailable when that cannot be known."""
        chosen = tuple(parts or self.parts)
        key = (at_ms, tuple(p.name for p in chosen))
        async with self._lock:  # one replay at a time: each holds a store in memory
            hit = self._cache.get(key)
            if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS:
                self._cache.move_to_end(key)
                return hit[1]
            built: list[AsOf] = []
            found: AsOf | None = None
            try:
                for part in chosen:
                    built.append(await self.build(at_ms, part))
                if all(b.snapshot_ms is None and b.replayed.records == 0 for b in built):
                    firsts = [b.replayed.first_ms for b in built if b.replayed.first_ms is not None]
                    if not firsts:
                        raise PastUnavailable("the event log holds no events yet")
                    raise PastUnavailable(
                        f"the retained event log begins later, at {self.label(min(firsts))}"
                    )
                found = built[0] if len(built) == 1 else await asyncio.to_thread(_composed, chosen, built)
            finally:
                # A part's in-memory store lives while a connection holds it: once composed, the
                # composed connection's; closed now rather than at a garbage collection.
                for one in built:
                    if one is not found:
                        one.engine.dispose()
            assert found is not None
            self._cache[key] = (time.monotonic(), found)
            while len(self._cache) > CACHED:
                self._cache.popitem(last=False)
            return found

    async def build(self, at_ms: int, part: Part) -> AsOf:
        """A fresh as-of store of one part for `at_ms`, not cached (snapshots are taken with this):
        its snapshot plus its topics' log after it, folded by its handlers only. Empty when the
        log holds none of its events up to `at`."""
        if self._incomplete:
            raise PastUnavailable(self._incomplete)
        async with self._log(part.topics(self.settings)) as (reader, partitions, begins, ends):
            snapshot = await asyncio.to_thread(self.snapshots.latest_before, at_ms, part.name)
            if snapshot is not None and not carries(snapshot[2], begins):
                snapshot = None  # records after it are gone: it cannot be carried forward
            if snapshot is None:
                dropped = sorted(tp for tp in partitions if begins[tp] > 0)
                if dropped:
                    tp = dropped[0]
                    raise PastUnavailable(
                        f"the broker's retention has dropped the oldest events ({tp.topic}[{tp.partition}] "
                        f"now begins at offset {begins[tp]}) and no snapshot is kept from before this moment"
                    )
            try:
                engine = await asyncio.to_thread(memory_store, None if snapshot is None else snapshot[1])
            except OSError as exc:  # the image goes through a temporary file (TMPDIR)
                raise PastUnavailable(
                    f"the snapshot this moment needs cannot be loaded here ({exc})"
                ) from exc
            done = await replay(reader, engine, begins, ends, at_ms, part.handlers, self._admission)
        return AsOf(at_ms, engine, done, None if snapshot is None else snapshot[0])

    async def events(self, since_ms: int, at_ms: int, part: Part) -> list[Envelope]:
        """The events of a part's topics between two moments (what changed its tables in between)."""
        async with self._log(part.topics(self.settings)) as (reader, partitions, begins, ends):
            snapshot = await asyncio.to_thread(self.snapshots.latest_before, since_ms, part.name)
            starts = dict(begins)
            if snapshot is not None and carries(snapshot[2], begins):
                starts = {tp: snapshot[2].get(tp, begins[tp]) for tp in partitions}
            elif any(begins[tp] > 0 for tp in partitions):
                raise PastUnavailable("the broker's retention has dropped events of that time")
            return await collect(reader, starts, ends, since_ms, at_ms, self._admission)

    async def earliest(self, parts: Sequence[Part] | None = None) -> int | None:
        """The oldest moment a past view of `parts` can show (None: none): the first retained event
        of the parts whose log was never cut, and no earlier than the oldest snapshot each cut one
        can carry forward."""
        chosen = tuple(parts or self.parts)
        topics = {part.name: set(part.topics(self.settings)) for part in chosen}
        async with self._log(sorted(set().union(*topics.values()))) as (reader, partitions, begins, ends):
            bounds: list[int] = []
            whole: list[TopicPartition] = []
            for part in chosen:
                mine = {tp: begins[tp] for tp in partitions if tp.topic in topics[part.name]}
                if not any(mine.values()):
                    whole += mine
                    continue
                usable = await asyncio.to_thread(self.snapshots.oldest_usable, mine, part.name)
                if usable is None:
                    return None
                bounds.append(usable)
            first = await self._first_event(reader, [tp for tp in set(whole) if ends[tp] > 0])
        return max([*bounds, *([] if first is None else [first])], default=None)

    async def _first_event(self, reader: LogReader, partitions: Sequence[TopicPartition]) -> int | None:
        """The earliest event time among these partitions' first records."""
        waiting = set(partitions)
        for tp in waiting:
            reader.seek(tp, 0)
        first: list[Record] = []
        for _ in range(20):
            if not waiting:
                break
            for tp, records in (await reader.read(timeout_ms=200, max_records=len(waiting) * 50)).items():
                if tp in waiting and records:
                    first.append(records[0])
                    waiting.discard(tp)
                    reader.pause(tp)
        times = [event_ms(item) for item in decode_records(first, self._admission)]
        return min((t for t in times if t is not None), default=None)

    @contextlib.asynccontextmanager
    async def _log(
        self, topics: Sequence[str]
    ) -> AsyncIterator[
        tuple[LogReader, list[TopicPartition], dict[TopicPartition, int], dict[TopicPartition, int]]
    ]:
        """The log of `topics` open for reading: its partitions, and where each begins and ends."""
        reader = self._open_reader()
        await reader.start()
        try:
            partitions = await reader.partitions_for(list(topics))
            begins = await reader.beginning_offsets(partitions)
            ends = await reader.end_offsets(partitions)
            yield reader, partitions, begins, ends
        finally:
            await reader.stop()

    def label(self, at_ms: int) -> str:
        return local_label(at_ms, self.zone)

    def moment(self, text: str, now_ms: int) -> int:
        """A past view's moment in epoch ms; as far ahead of `now_ms` as event times may be (a
        producer clock that runs fast puts the newest events there, and the timeline with them)."""
        return parse_moment(text, self.zone, now_ms, int(self.settings.max_clock_skew_seconds * 1000))


def _composed(parts: Sequence[Part], built: Sequence[AsOf]) -> AsOf:
    """The parts' as-of stores read as one (a board reading several parts)."""
    absent = [t for part in parts for t in part.facts if t not in part.tables]  # lean parts' facts
    engine = composed([(part.tables, one.engine) for part, one in zip(parts, built, strict=True)], absent)
    replayed = Replayed(
        records=sum(b.replayed.records for b in built),
        applied=sum(b.replayed.applied for b in built),
        seconds=sum(b.replayed.seconds for b in built),
    )
    starts = [b.snapshot_ms for b in built]
    return AsOf(
        built[0].at_ms, engine, replayed, None if None in starts else min(s for s in starts if s is not None)
    )


def reader_factory(settings: Settings, memory_log: object | None) -> Callable[[], LogReader] | None:
    """How this process reads the log: the embedded one it holds, or Kafka; None if it has neither."""
    if settings.kafka_bootstrap_servers:
        from shopfloor.transport.kafka import KafkaReader

        servers, options = settings.kafka_bootstrap_servers, settings.kafka_client_options()
        return lambda: KafkaReader(servers, options)
    if memory_log is not None:
        from shopfloor.transport.memory import MemoryLog, MemoryReader

        assert isinstance(memory_log, MemoryLog)
        return lambda: MemoryReader(memory_log)
    return None
