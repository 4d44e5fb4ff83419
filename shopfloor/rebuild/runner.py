"""Replays a read model's topics from the beginning into the shadow store, then swaps it in.

The shadow never gets ahead of the live projector: records at or past the live position of their
partition wait. Once the shadow has reached the live positions, the live tables and positions are
locked, the few records the live projector committed meanwhile are applied to the shadow too, and the
shadow is swapped in, all in one transaction. The live projector then carries on from its own
positions on the new tables, so nothing is applied twice or missed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from sqlalchemy import Connection, Engine, select, text

from shopfloor.config import Settings
from shopfloor.consumers.projector import admission, decode_records
from shopfloor.events.envelope import Envelope
from shopfloor.rebuild import progress as progress_store
from shopfloor.rebuild import shadow as shadow_store
from shopfloor.rebuild.models import ReadModel
from shopfloor.rebuild.progress import Progress
from shopfloor.store.batch import NOTIFY_CHANNEL, POSITIONS, Batch, apply_batch, encode_notice
from shopfloor.store.changes import EVERYTHING, ChangeNotice
from shopfloor.store.db import upsert
from shopfloor.transport.base import LogReader, Record, TopicPartition

log = logging.getLogger(__name__)
MAX_SWAP_GAP = 20_000
GAP_FETCH_SECONDS = 15.0
PROGRESS_SECONDS = 0.25
ProgressCallback = Callable[[Progress], None]


def kafka_reader(settings: Settings) -> LogReader:
    from shopfloor.transport.kafka import KafkaReader

    return KafkaReader(settings.kafka_bootstrap_servers or "", settings.kafka_client_options())


class Rebuild:
    """One rebuild. `reader` is the log replayed (Kafka per settings when not given); `engine` must reach
    the shadow (`shadow.open_engine`)."""

    def __init__(
        self,
        settings: Settings,
        model: ReadModel,
        engine: Engine,
        on_progress: ProgressCallback | None = None,
        max_records: int = 5000,
        reader: LogReader | None = None,
    ) -> None:
        self._settings = settings
        self._reader = reader if reader is not None else kafka_reader(settings)
        self._model = model
        self._engine = engine
        self._shadow = shadow_store.shadow(engine)
        self._group = settings.kafka_group_id
        self._topics = model.topics(settings)
        self._on_progress = on_progress
        self._max_records = max_records
        self._positions: dict[TopicPartition, int] = {}
        self._stored: dict[TopicPartition, int | None] = {}
        self._begin: dict[TopicPartition, int] = {}
        self._reading: dict[TopicPartition, int] = {}  # where the reader reads each partition next
        self._db = concurrent.futures.ThreadPoolExecutor(1, "rebuild-db")  # one thread: the swap's connection
        self.progress = Progress(model.name, started_ms=int(time.time() * 1000))
        self._started = time.monotonic()
        self._last_report = 0.0
        self._failed_swaps = 0

    async def _db_call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._db, fn, *args)

    async def run(self) -> Progress:
        await self._db_call(progress_store.ensure_table, self._engine)
        await self._db_call(shadow_store.reset, self._engine, self._model.tables)
        self._report(force=True)
        started = False
        try:
            await self._reader.start()
            started = True
            await self._open()
            while not await self._replay_until_swapped():
                pass
        except BaseException as exc:
            self.progress.state, self.progress.message = "FAILED", f"{type(exc).__name__}: {exc}"[:500]
            self._report(force=True)
            raise
        finally:
            if started:
                await self._reader.stop()
            await self._db_call(shadow_store.discard, self._engine)
            self._db.shutdown(wait=True)
        return self.progress

    async def _open(self) -> None:
        partitions = await self._reader.partitions_for(self._topics)
        missing = sorted(set(self._topics) - {tp.topic for tp in partitions})
        if missing:
            raise RuntimeError(f"topic {', '.join(map(repr, missing))} not found in the event log")
        self._begin = await self._reader.beginning_offsets(partitions)
        self._positions = dict(self._begin)
        self._stored = dict.fromkeys(self._begin)

    async def _read(self, ranges: dict[TopicPartition, tuple[int, int]]) -> list[Record]:
        """Records with `start <= offset < end` of their partition's range; other partitions are not
        read. A partition read past its end is sought back next time, so nothing is skipped."""
        for tp in self._positions:
            if tp not in ranges:
                if self._reading.pop(tp, None) is not None:
                    self._reader.pause(tp)
            elif self._reading.get(tp) != ranges[tp][0]:
                self._reader.seek(tp, ranges[tp][0])
                self._reading[tp] = ranges[tp][0]
        fetched = await self._reader.read(timeout_ms=200, max_records=self._max_records)
        out: list[Record] = []
        for tp, records in fetched.items():
            if tp in ranges and records:
                self._reading[tp] = records[-1].offset + 1
                out += [r for r in records if ranges[tp][0] <= r.offset < ranges[tp][1]]
        return out

    def _live_positions(self, conn: Connection | None = None) -> dict[TopicPartition, int]:
        query = select(POSITIONS).where(
            POSITIONS.c.group_id == self._group, POSITIONS.c.topic.in_(self._topics)
        )
        if conn is None:
            with self._engine.connect() as own:
                rows = list(own.execute(query))
        else:
            rows = list(conn.execute(query))
        stored = {TopicPartition(r.topic, r.partition): r.next_offset for r in rows}
        return {tp: stored.get(tp, 0) for tp in self._positions}

    async def _replay_until_swapped(self) -> bool:
        """One step: apply a batch below the live positions, or, level with them, try the swap."""
        live = await self._db_call(self._live_positions)
        self.progress.total = sum(max(0, live[tp] - self._begin[tp]) for tp in live)
        behind = {tp: (self._positions[tp], live[tp]) for tp in live if self._positions[tp] < live[tp]}
        if not behind:
            self.progress.state = "SWAPPING"
            self._report(force=True)
            return await self._swap()
        self.progress.state = (
            "REPLAYING" if self.progress.done < self.progress.total * 0.99 else "CATCHING_UP"
        )
        records = await self._read(behind)
        if records:
            await self._db_call(self._apply, records)
        self._report()
        return False

    def _apply(self, records: list[Record]) -> None:
        """Applies records to the shadow (its own transaction: the shadow is invisible to pages)."""
        items = [
            item
            for item in decode_records(records, admission(self._settings))
            if isinstance(item, Envelope) and item.type in self._model.event_types
        ]
        next_offsets: dict[TopicPartition, int] = {}
        for record in records:
            next_offsets[TopicPartition(record.topic, record.partition)] = record.offset + 1
        batch = Batch(self._group, list(items), {tp: self._stored[tp] for tp in next_offsets}, next_offsets)
        apply_batch(self._shadow, batch, self._model.handlers, notify=False)
        for tp, offset in next_offsets.items():
            self._positions[tp] = offset
            self._stored[tp] = offset
        self.progress.done += len(records)

    async def _swap(self) -> bool:
        conn: Connection = await self._db_call(self._engine.connect)
        trans = await self._db_call(conn.begin)
        try:
            await self._db_call(shadow_store.lock_live, conn, self._model.tables, POSITIONS)
            live = await self._db_call(self._live_positions, conn)
            gap = {tp: live[tp] for tp in live if self._positions[tp] < live[tp]}
            if sum(live[tp] - self._positions[tp] for tp in gap) > MAX_SWAP_GAP:
                await self._db_call(trans.rollback)
                return False
            if gap:
                records = await self._fetch_gap(gap)
                await self._db_call(self._apply, records)
            version = await self._db_call(self._swap_in, conn)
            await self._db_call(trans.commit)
        except Exception as exc:
            await self._db_call(trans.rollback)
            self._failed_swaps += 1
            log.warning("swap attempt %d failed, replaying on and retrying: %s", self._failed_swaps, exc)
            await asyncio.sleep(1.0)
            return False
        finally:
            await self._db_call(conn.close)
        self.progress.swapped_version = version
        self._report(force=True)
        return True

    async def _fetch_gap(self, gap: dict[TopicPartition, int]) -> list[Record]:
        """Exactly the records the live projector committed past the shadow, while the lock is held."""
        out: list[Record] = []
        deadline = time.monotonic() + GAP_FETCH_SECONDS
        reached = {tp: self._positions[tp] for tp in gap}
        while any(reached[tp] < gap[tp] for tp in gap):
            if time.monotonic() > deadline:
                raise TimeoutError("could not read the records the live projector applied meanwhile")
            ranges = {tp: (reached[tp], gap[tp]) for tp in gap if reached[tp] < gap[tp]}
            for record in await self._read(ranges):
                tp = TopicPartition(record.topic, record.partition)
                out.append(record)
                reached[tp] = record.offset + 1
        return out

    def _swap_in(self, conn: Connection) -> int:
        """Inside the locked transaction: check positions agree, swap, bump the version, tell the pages."""
        shadow_rows = conn.execute(
            text(
                f'SELECT topic, "partition", next_offset FROM {shadow_store.SHADOW}.consumer_positions '
                "WHERE group_id = :group"
            ),
            {"group": self._group},
        )
        shadow_positions = {TopicPartition(t, p): o for t, p, o in shadow_rows}
        live = self._live_positions(conn)
        for tp, offset in live.items():
            if offset > self._begin[tp] and shadow_positions.get(tp) != offset:
                raise RuntimeError(
                    f"{tp.topic}[{tp.partition}]: shadow at {shadow_positions.get(tp)}, live {offset}"
                )
        shadow_store.swap(conn, self._model.tables)
        now_ms = int(time.time() * 1000)
        conn.execute(
            text("UPDATE store_version SET version = version + 1, last_commit_ms = :now WHERE id = 1"),
            {"now": now_ms},
        )
        version = int(conn.execute(text("SELECT version FROM store_version WHERE id = 1")).scalar_one())
        notice = ChangeNotice(version, {view: frozenset({EVERYTHING}) for view in self._model.views}, {})
        if conn.dialect.name == "postgresql":
            conn.execute(
                text("SELECT pg_notify(:channel, :payload)"),
                {"channel": NOTIFY_CHANNEL, "payload": encode_notice(notice)},
            )
        self.progress.state, self.progress.swapped_version = "SWAPPED", version
        self.progress.message = json.dumps({"views": list(self._model.views)})
        self._rate()
        self.progress.updated_ms = now_ms
        upsert(conn, progress_store.TABLE, [asdict(self.progress)], ["model"])
        return version

    def _rate(self) -> None:
        elapsed = max(1e-6, time.monotonic() - self._started)
        self.progress.rate = round(self.progress.done / elapsed, 1)

    def _report(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_report < PROGRESS_SECONDS:
            return
        self._last_report = now
        self._rate()
        if self._on_progress is not None:
            self._on_progress(self.progress)
        progress_store.save(self._engine, self.progress)
