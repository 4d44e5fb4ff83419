"""Snapshots of the read models every N minutes of event time, so a past view replays minutes, not days.

A snapshot is an as-of store itself (built by the same replay, from the previous snapshot) kept as a
serialized SQLite image, with the log positions it reached; it lives in the main store, so every web
replica can use it. Moments are on a grid (every N minutes of event time); the newest grid moment at
least one interval behind the newest event is taken, older ones beyond the retention are deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import json
import logging
import threading
import time
import zlib
from collections.abc import Callable

import zstandard
from sqlalchemy import BigInteger, Column, Engine, LargeBinary, MetaData, Table, Text, delete, insert, select

from shopfloor.history.replay import image_of
from shopfloor.history.service import PastUnavailable, carries
from shopfloor.store.batch import newest_event_ms as store_newest_event_ms
from shopfloor.store.batch import prune_applied
from shopfloor.store.db import begin_write, run_exclusive
from shopfloor.transport.base import TopicPartition

log = logging.getLogger(__name__)
METADATA = MetaData()  # apart from the read models: an as-of store never holds snapshots
SNAPSHOTS = Table(
    "history_snapshots",
    METADATA,
    Column("at_ms", BigInteger, primary_key=True),
    Column("taken_ms", BigInteger, nullable=False),
    Column("positions", Text, nullable=False),
    Column("image", LargeBinary, nullable=False),
)
CHECK_SECONDS = 30.0


ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def pack(image: bytes) -> bytes:
    """zstd level 9: unpacking, which a past view waits for, is as fast as at level 3 (2.6 times
    zlib's), and packing, done once per snapshot in the background, buys a fifth fewer stored bytes
    than level 3 for 10-25 ms of CPU per MB of image (3 to 4 times level 3's)."""
    return zstandard.ZstdCompressor(level=9).compress(image)


def unpack(packed: bytes) -> bytes:
    """An image as `pack` stored it; snapshots taken before zstd are zlib streams."""
    if packed.startswith(ZSTD_MAGIC):
        return zstandard.ZstdDecompressor().decompress(packed)
    return zlib.decompress(packed)


def _positions_text(positions: dict[TopicPartition, int]) -> str:
    return json.dumps(sorted([tp.topic, tp.partition, offset] for tp, offset in positions.items()))


def _positions_of(text: str) -> dict[TopicPartition, int]:
    return {TopicPartition(topic, partition): offset for topic, partition, offset in json.loads(text)}


class SnapshotStore:
    """Snapshots in the main store: the newest before a moment, save, and retention."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        METADATA.create_all(engine, checkfirst=True)
        # The last image loaded, decompressed: a page, its fragments and a played timeline start
        # from the same snapshot (snapshots never change once saved).
        self._loaded: tuple[int, bytes] | None = None
        self._lock = threading.Lock()

    def latest_before(self, at_ms: int) -> tuple[int, bytes, dict[TopicPartition, int]] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(SNAPSHOTS.c.at_ms, SNAPSHOTS.c.positions)
                .where(SNAPSHOTS.c.at_ms <= at_ms)
                .order_by(SNAPSHOTS.c.at_ms.desc())
                .limit(1)
            ).first()
            if row is None:
                return None
            with self._lock:
                loaded = self._loaded
            if loaded is None or loaded[0] != row.at_ms:
                packed = conn.execute(
                    select(SNAPSHOTS.c.image).where(SNAPSHOTS.c.at_ms == row.at_ms)
                ).scalar()
                try:
                    loaded = (row.at_ms, unpack(bytes(packed)))
                except (zlib.error, zstandard.ZstdError) as exc:  # damaged, or of a newer format
                    raise PastUnavailable(f"the snapshot this moment needs cannot be read ({exc})") from exc
                with self._lock:
                    self._loaded = loaded
        return row.at_ms, loaded[1], _positions_of(row.positions)

    def oldest_usable(self, begins: dict[TopicPartition, int]) -> int | None:
        with self.engine.connect() as conn:
            rows = conn.execute(select(SNAPSHOTS.c.at_ms, SNAPSHOTS.c.positions).order_by(SNAPSHOTS.c.at_ms))
            for at_ms, text in rows:
                positions = _positions_of(text)
                if carries(positions, begins):
                    return int(at_ms)
        return None

    def moments(self) -> list[int]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(SNAPSHOTS.c.at_ms).order_by(SNAPSHOTS.c.at_ms)).scalars())

    def save(self, at_ms: int, image: bytes, positions: dict[TopicPartition, int]) -> int:
        """Stores the image compressed (SQLite pages of repetitive rows shrink several times); returns
        the bytes stored."""
        packed = pack(image)
        with begin_write(self.engine) as conn:
            if conn.execute(select(SNAPSHOTS.c.at_ms).where(SNAPSHOTS.c.at_ms == at_ms)).first() is None:
                conn.execute(
                    insert(SNAPSHOTS).values(
                        at_ms=at_ms,
                        taken_ms=int(time.time() * 1000),
                        positions=_positions_text(positions),
                        image=packed,
                    )
                )
        return len(packed)

    def forget_loaded(self) -> None:
        """Drops the decompressed image kept from the last load (tens of MB for a busy plant)."""
        with self._lock:
            self._loaded = None

    def clear(self) -> None:
        """Forgets every snapshot: their positions belong to a log that is gone (the embedded one)."""
        with begin_write(self.engine) as conn:
            conn.execute(delete(SNAPSHOTS))
        with self._lock:
            self._loaded = None

    def prune(self, older_than_ms: int) -> int:
        """Deletes snapshots before the cut-off, keeping the newest of them (the oldest moment still
        answerable by replaying forward from it)."""
        with begin_write(self.engine) as conn:
            keep = conn.execute(
                select(SNAPSHOTS.c.at_ms)
                .where(SNAPSHOTS.c.at_ms < older_than_ms)
                .order_by(SNAPSHOTS.c.at_ms.desc())
                .limit(1)
            ).scalar()
            if keep is None:
                return 0
            return conn.execute(delete(SNAPSHOTS).where(SNAPSHOTS.c.at_ms < keep)).rowcount


def snapshot_image(engine: Engine, at_ms: int, keep_ids_ms: int) -> bytes:
    """The as-of store as a snapshot keeps it: applied event ids only from the last `keep_ids_ms`
    (at 1,000 events/s an hour of ids is most of the bytes). A duplicate delivered later than that
    after its original, across a snapshot, is applied twice in past views; the live store keeps
    ids for its dedup window instead."""
    prune_applied(engine, at_ms - keep_ids_ms)
    with engine.connect() as conn:
        conn.connection.dbapi_connection.execute("VACUUM")  # type: ignore[union-attr]  # freed pages out
    return image_of(engine)


def return_freed_memory() -> None:
    """Hands memory freed by Python and SQLite back to the system. glibc keeps freed heap pages of
    each thread's arena for reuse; after a burst of large allocations in worker threads the
    process's resident size stays at its peak without this. Other C libraries: nothing to do."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def due_moment(newest_event_ms: int | None, interval_ms: int, taken: list[int]) -> int | None:
    """The grid moment to snapshot next: the newest one at least one interval behind the newest
    event (late records of that moment have had time to arrive), unless already taken."""
    if newest_event_ms is None or interval_ms <= 0:
        return None
    moment = (newest_event_ms - interval_ms) // interval_ms * interval_ms
    if moment <= 0 or (taken and moment <= taken[-1]):
        return None
    return moment


class Snapshotter:
    """The background task: one snapshot per interval of event time, and retention."""

    def __init__(
        self,
        history: object,
        store: SnapshotStore,
        live: Engine,
        interval_minutes: float,
        retention_hours: float,
        check_seconds: float = CHECK_SECONDS,
        newest_event_ms: Callable[[], int | None] | None = None,
    ) -> None:
        self._history = history
        self._store = store
        self._interval_ms = int(interval_minutes * 60_000)
        self._retention_ms = int(retention_hours * 3_600_000)
        self._check_seconds = check_seconds
        self._newest = newest_event_ms or functools.partial(store_newest_event_ms, live)
        self._unanswerable: int | None = None  # a moment the log cannot show: not replayed again

    async def take_due(self) -> int | None:
        """Takes the snapshot that is due, if any; returns its moment. One process at a time: with
        several workers, the others find it taken rather than replay the same interval again."""
        return await run_exclusive(self._store.engine, "history-snapshots", self._take_due)

    async def _take_due(self) -> int | None:
        newest = await asyncio.to_thread(self._newest)
        taken = await asyncio.to_thread(self._store.moments)
        moment = due_moment(newest, self._interval_ms, taken)
        if moment is None or moment == self._unanswerable:
            return None
        try:
            built = await self._history.build(moment)  # type: ignore[attr-defined]
        except PastUnavailable:
            self._unanswerable = moment
            raise
        try:
            image = await asyncio.to_thread(snapshot_image, built.engine, moment, self._interval_ms)
            await asyncio.to_thread(self._store.save, moment, image, built.replayed.positions)
            removed = await asyncio.to_thread(self._store.prune, moment - self._retention_ms)
            log.info(
                "snapshot at %d: %d records replayed in %.2fs, %d bytes; %d old snapshots removed",
                moment,
                built.replayed.records,
                built.replayed.seconds,
                len(image),
                removed,
            )
            del image
        finally:
            # Taking a snapshot loads the previous one and builds the next: hundreds of MB for a
            # busy plant, freed again now, also when saving failed. Without this the process kept
            # most of it for good.
            built.engine.dispose()
            self._store.forget_loaded()
            del built
            await asyncio.to_thread(return_freed_memory)
        return moment

    async def run(self) -> None:
        task = asyncio.current_task()
        while True:
            try:
                await self.take_due()
            except Exception as exc:  # a past that cannot be rebuilt now is tried again later
                log.warning("snapshot not taken: %s", exc)
            # A cancel a client library swallowed (asyncio.wait_for in Python 3.11 can) still
            # stands: honour it, or the process's stop waits on this loop for ever.
            if task is not None and task.cancelling():
                raise asyncio.CancelledError
            await asyncio.sleep(self._check_seconds)
