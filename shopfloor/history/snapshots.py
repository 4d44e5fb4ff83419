"""Snapshots of the read models every N minutes of event time, so a past view replays minutes, not days.

A snapshot is one part's as-of store (registry.Part: handlers writing no table in common), built by
the same replay from the part's previous snapshot and kept as a serialized SQLite image with the
log positions it reached; a past view loads only the parts its board reads. Snapshots live in the
main store, so every web replica can use them. Moments are on a grid (every N minutes of event
time); the newest grid moment at least one interval behind the newest event is taken, older ones
beyond the retention are deleted. A busy part (more than BUSY_RECORDS records an interval, by
default) is taken on a finer grid, so that a past view of a moment more than an interval old
replays no more than about that many records of each part (up to 3,000 records/s a part: the
grid's finest step is 10 s), however long the interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import io
import json
import logging
import math
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Collection, Sequence
from pathlib import Path

import zstandard
from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Connection,
    Engine,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    true,
)

from shopfloor import metrics
from shopfloor.history.service import AsOf, History, PastUnavailable, carries
from shopfloor.history.views import lean_parts
from shopfloor.store.batch import newest_event_ms as store_newest_event_ms
from shopfloor.store.batch import prune_applied
from shopfloor.store.db import begin_write, run_exclusive
from shopfloor.store.registry import BOOKKEEPING, TABLES, Part, whole_part
from shopfloor.transport.base import TopicPartition

log = logging.getLogger(__name__)
METADATA = MetaData()  # apart from the read models: an as-of store never holds snapshots
PART_SNAPSHOTS = Table(
    "history_snapshot_parts",
    METADATA,
    Column("part", String(200), primary_key=True),  # first: every query asks for one part
    Column("at_ms", BigInteger, primary_key=True),
    Column("taken_ms", BigInteger, nullable=False),
    Column("positions", Text, nullable=False),
    Column("image", LargeBinary, nullable=False),
)
# Whole-store images, as versions before parts took them: a start for any part until they age out.
WHOLE_SNAPSHOTS = Table(
    "history_snapshots",
    METADATA,
    Column("at_ms", BigInteger, primary_key=True),
    Column("taken_ms", BigInteger, nullable=False),
    Column("positions", Text, nullable=False),
    Column("image", LargeBinary, nullable=False),
)
CHECK_SECONDS = 30.0
QUIET_RECORDS, QUIET_HOURS = 5_000, 1.0  # a part with fewer records than this since its last snapshot waits
BUSY_RECORDS = 30_000  # by default, a part with more records than this an interval is taken on a finer grid
FINEST_STEP_MS = 10_000


ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
PACK_LEVEL = 9


def pack(image: bytes) -> bytes:
    """zstd level 9: unpacking, which a past view waits for, is as fast as at level 3 (2.6 times
    zlib's), and packing, done once per snapshot in the background, buys a fifth fewer stored bytes
    than level 3 for 10-25 ms of CPU per MB of image (3 to 4 times level 3's)."""
    return zstandard.ZstdCompressor(level=PACK_LEVEL).compress(image)


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
    """Snapshots in the main store, one image per part and moment: the newest before a moment, save,
    and retention."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        METADATA.create_all(engine, checkfirst=True)
        # The images last loaded, decompressed, by source (a part, or the whole-store table): a page,
        # its fragments and a played timeline start from the same snapshots (they never change).
        self._loaded: dict[str, tuple[int, bytes]] = {}
        self._lock = threading.Lock()

    def latest_before(self, at_ms: int, part: str) -> tuple[int, bytes, dict[TopicPartition, int]] | None:
        sources = [(name, PART_SNAPSHOTS, PART_SNAPSHOTS.c.part == name) for name in _starts(part)]
        sources.append((WHOLE_SNAPSHOTS.name, WHOLE_SNAPSHOTS, true()))
        with self.engine.connect() as conn:
            found = []
            for source, table, where in sources:
                query = select(table.c.at_ms, table.c.positions).where(table.c.at_ms <= at_ms, where)
                row = conn.execute(query.order_by(table.c.at_ms.desc()).limit(1)).first()
                if row is not None:
                    found.append((row.at_ms, row.positions, source, table, where))
            if not found:
                return None
            moment, positions, source, table, where = max(found, key=lambda f: f[0])  # ties: the first
            with self._lock:
                loaded = self._loaded.get(source)
            if loaded is None or loaded[0] != moment:
                packed = conn.execute(select(table.c.image).where(table.c.at_ms == moment, where)).scalar()
                try:
                    loaded = (moment, unpack(bytes(packed)))
                except (zlib.error, zstandard.ZstdError) as exc:  # damaged, or of a newer format
                    raise PastUnavailable(f"the snapshot this moment needs cannot be read ({exc})") from exc
                with self._lock:
                    self._loaded[source] = loaded
        return moment, loaded[1], _positions_of(positions)

    def oldest_usable(self, begins: dict[TopicPartition, int], part: str) -> int | None:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(PART_SNAPSHOTS.c.at_ms, PART_SNAPSHOTS.c.positions)
                .where(PART_SNAPSHOTS.c.part.in_(_starts(part)))
                .union_all(select(WHOLE_SNAPSHOTS.c.at_ms, WHOLE_SNAPSHOTS.c.positions))
                .order_by("at_ms")
            )
            for at_ms, text in rows:
                if carries(_positions_of(text), begins):
                    return int(at_ms)
        return None

    def moments(self, part: str) -> list[int]:
        with self.engine.connect() as conn:
            query = (
                select(PART_SNAPSHOTS.c.at_ms)
                .where(PART_SNAPSHOTS.c.part == part)
                .order_by(PART_SNAPSHOTS.c.at_ms)
            )
            return list(conn.execute(query).scalars())

    def save(self, at_ms: int, part: str, image: bytes, positions: dict[TopicPartition, int]) -> int:
        """Stores the image compressed (SQLite pages of repetitive rows shrink several times); returns
        the bytes stored."""
        return self.save_packed(at_ms, part, pack(image), positions)

    def save_packed(self, at_ms: int, part: str, packed: bytes, positions: dict[TopicPartition, int]) -> int:
        """Stores an image `pack` (or `packed_image`) compressed; returns the bytes stored."""
        with begin_write(self.engine) as conn:
            taken = select(PART_SNAPSHOTS.c.at_ms).where(
                PART_SNAPSHOTS.c.at_ms == at_ms, PART_SNAPSHOTS.c.part == part
            )
            if conn.execute(taken).first() is None:
                conn.execute(
                    insert(PART_SNAPSHOTS).values(
                        at_ms=at_ms,
                        part=part,
                        taken_ms=int(time.time() * 1000),
                        positions=_positions_text(positions),
                        image=packed,
                    )
                )
        return len(packed)

    def forget_loaded(self) -> None:
        """Drops the decompressed images kept from the last loads (tens of MB for a busy plant)."""
        with self._lock:
            self._loaded.clear()

    def clear(self) -> None:
        """Deletes every snapshot (their log is gone: an embedded log ends with its process)."""
        with begin_write(self.engine) as conn:
            conn.execute(delete(PART_SNAPSHOTS))
            conn.execute(delete(WHOLE_SNAPSHOTS))
        self.forget_loaded()

    def prune(self, older_than_ms: int, parts: Sequence[str]) -> int:
        """Deletes snapshots before the cut-off, keeping each part's newest of them (the oldest moment
        still answerable by replaying forward from it); a whole-store image before the cut-off goes
        once every part has one of its own at least as new."""
        removed = 0
        kept: list[int | None] = []
        with begin_write(self.engine) as conn:
            for part in parts:
                keep = _newest_before(conn, PART_SNAPSHOTS, older_than_ms, PART_SNAPSHOTS.c.part == part)
                kept.append(keep)
                if keep is not None:
                    removed += conn.execute(
                        delete(PART_SNAPSHOTS).where(
                            PART_SNAPSHOTS.c.part == part, PART_SNAPSHOTS.c.at_ms < keep
                        )
                    ).rowcount
            gone = PART_SNAPSHOTS.c.part.not_in(list(parts))  # parts of an earlier version's registry
            removed += conn.execute(
                delete(PART_SNAPSHOTS).where(gone, PART_SNAPSHOTS.c.at_ms < older_than_ms)
            ).rowcount
            whole = _newest_before(conn, WHOLE_SNAPSHOTS, older_than_ms, true())
            if whole is not None:
                superseded = all(k is not None and k >= whole for k in kept)
                cut = WHOLE_SNAPSHOTS.c.at_ms <= whole if superseded else WHOLE_SNAPSHOTS.c.at_ms < whole
                removed += conn.execute(delete(WHOLE_SNAPSHOTS).where(cut)).rowcount
        return removed


def _starts(part: str) -> list[str]:
    """The snapshots that can start a part's replay: its own, and for a lean part the whole part's
    (a superset: the facts it also holds are not read)."""
    return list(dict.fromkeys((part, whole_part(part))))


def _newest_before(conn: Connection, table: Table, before_ms: int, where: ColumnElement[bool]) -> int | None:
    query = (
        select(table.c.at_ms).where(table.c.at_ms < before_ms, where).order_by(table.c.at_ms.desc()).limit(1)
    )
    return conn.execute(query).scalar()


def snapshot_image(engine: Engine, at_ms: int, keep_ids_ms: int, part: Part) -> tuple[int, bytes]:
    """A part's as-of store as a snapshot keeps it, packed, and its unpacked size: only the part's
    own tables (one started from a whole-store image holds the others' too), and applied event ids
    only from the last `keep_ids_ms` (at 1,000 events/s an hour of ids is most of the bytes). A
    duplicate delivered later than that after its original, across a snapshot, is applied twice in
    past views; the live store keeps ids for its dedup window instead."""
    prune_applied(engine, at_ms - keep_ids_ms)
    with begin_write(engine) as conn:
        for table in (t for t in TABLES if t not in BOOKKEEPING and t not in part.tables):
            conn.execute(delete(table))
    return packed_image(engine)


def packed_image(engine: Engine) -> tuple[int, bytes]:
    """The store's image without its freed pages, packed as `pack` does, and its unpacked size. It
    goes through a temporary file, packed a chunk at a time: serialized in memory, a busy plant's
    image (over 100 MB) was held twice beside the store it copies, at the snapshotter's peak."""
    with tempfile.TemporaryDirectory(prefix="shopfloor-snapshot-") as folder:
        path = Path(folder) / "image.sqlite"
        with engine.connect() as conn:
            conn.connection.dbapi_connection.execute("VACUUM INTO ?", (str(path),))  # type: ignore[union-attr]
        size = path.stat().st_size
        packed = io.BytesIO()
        with path.open("rb") as image:
            zstandard.ZstdCompressor(level=PACK_LEVEL).copy_stream(image, packed, size=size)
        return size, packed.getvalue()


def save_part(
    store: SnapshotStore, built: AsOf, keep_ids_ms: int, part: Part, *, lean: bool
) -> dict[str, tuple[int, int]]:
    """Saves a part built for a snapshot, then, if `lean`, the same store without its facts (the lean
    part); {name: (image bytes, stored bytes)} of each."""
    saved = {}
    for one in (part, part.lean()) if lean else (part,):
        size, packed = snapshot_image(built.engine, built.at_ms, keep_ids_ms, one)
        saved[one.name] = (size, store.save_packed(built.at_ms, one.name, packed, built.replayed.positions))
    return saved


def return_freed_memory() -> None:
    """Hands memory freed by Python and SQLite back to the system. glibc keeps freed heap pages of
    each thread's arena for reuse; after a burst of large allocations in worker threads the
    process's resident size stays at its peak without this. Other C libraries: nothing to do."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def quiet(built: AsOf) -> bool:
    """Whether a part built for a snapshot is not worth saving: fewer than QUIET_RECORDS of its
    records since its last snapshot, taken less than QUIET_HOURS before. (A part's first snapshot
    of its own is always saved, also when it started from a whole-store image.)"""
    last = built.snapshot_ms
    return (
        last is not None
        and built.at_ms - last < QUIET_HOURS * 3_600_000
        and built.replayed.records < QUIET_RECORDS
    )


def due_moments(
    newest_event_ms: int | None, interval_ms: int, taken: Sequence[int], step_ms: int | None = None
) -> list[int]:
    """The grid moments to snapshot next, oldest first: those of a grid every `step_ms` (a busy part's;
    the interval by default) at least one interval behind the newest event (late records of that
    moment have had time to arrive) and after the last taken; one interval's worth at most (after a
    pause, older moments are not caught up on)."""
    if newest_event_ms is None or interval_ms <= 0:
        return []
    step = min(step_ms or interval_ms, interval_ms)
    newest_due = (newest_event_ms - interval_ms) // step * step
    first = newest_due - (interval_ms // step - 1) * step
    if taken:
        first = max(first, (taken[-1] // step + 1) * step)
    return list(range(max(first, step), newest_due + 1, step))


def step_after(built: AsOf, interval_ms: int, busy_records: int = BUSY_RECORDS) -> int:
    """The grid step for a part's next snapshots, from the records its last build replayed: the
    interval, or for a part with more than `busy_records` records an interval the whole second
    below a share of it holding no more than that (no finer than FINEST_STEP_MS; `busy_records` 0:
    always the interval). More images are stored in exchange: as many more as the part is busier."""
    began = built.snapshot_ms if built.snapshot_ms is not None else built.replayed.first_ms
    span = built.at_ms - began if began is not None else 0
    if span <= 0 or interval_ms <= FINEST_STEP_MS or busy_records <= 0:
        return interval_ms
    split = math.ceil(built.replayed.records * interval_ms / span / busy_records)
    if split <= 1:
        return interval_ms
    return max(interval_ms // split // 1000 * 1000, FINEST_STEP_MS)


def stored_step(moments: Sequence[int], interval_ms: int) -> int | None:
    """A busy part's step as its stored moments show it (after a restart, before its next build)."""
    if len(moments) >= 2 and 0 < moments[-1] - moments[-2] < interval_ms:
        return moments[-1] - moments[-2]
    return None


class Snapshotter:
    """The background task: one snapshot per part and interval of event time (a busy part more), and
    retention."""

    def __init__(
        self,
        history: History,
        store: SnapshotStore,
        live: Engine,
        interval_minutes: float,
        retention_hours: float,
        check_seconds: float = CHECK_SECONDS,
        newest_event_ms: Callable[[], int | None] | None = None,
        lean: Collection[str] | None = None,
        busy_records: int = BUSY_RECORDS,
    ) -> None:
        """`lean`: the parts also snapshotted without their facts (by default those a board loads lean);
        `busy_records`: see step_after."""
        self._history = history
        self._lean = lean_parts(history.parts) if lean is None else lean
        self._store = store
        self._interval_ms = int(interval_minutes * 60_000)
        self._retention_ms = int(retention_hours * 3_600_000)
        self._check_seconds = check_seconds
        self._newest = newest_event_ms or functools.partial(store_newest_event_ms, live)
        self._passed: dict[str, int] = {}  # by part: a moment not taken (quiet, or the log cannot show it)
        self._steps: dict[str, int] = {}  # by part: its grid step (finer than the interval when busy)
        self._busy_records = busy_records

    async def take_due(self) -> int | None:
        """Takes the snapshots that are due, if any; returns the newest moment taken. One process at
        a time: with several workers, the others find them taken rather than replay the same
        interval again."""
        return await run_exclusive(self._store.engine, "history-snapshots", self._take_due)

    async def _take_due(self) -> int | None:
        newest = await asyncio.to_thread(self._newest)
        taken: list[int] = []
        failed: list[str] = []
        for part in self._history.parts:
            taken += await self._take_part(part, newest, failed)
        if taken:
            parts = self._history.parts
            names = [p.name for p in parts] + [p.lean().name for p in parts if p.name in self._lean]
            await asyncio.to_thread(self._store.prune, max(taken) - self._retention_ms, names)
        if failed:
            raise RuntimeError("; ".join(failed))
        return max(taken, default=None)

    async def _take_part(self, part: Part, newest: int | None, failed: list[str]) -> list[int]:
        """One part's due moments, oldest first; returns those taken, adds to `failed` what failed."""
        moments = await asyncio.to_thread(self._store.moments, part.name)
        step = self._steps.get(part.name) or stored_step(moments, self._interval_ms)
        last = max(moments[-1] if moments else 0, self._passed.get(part.name, 0))  # taken or passed
        due = [m for m in due_moments(newest, self._interval_ms, moments, step) if m > last]
        if due and moments and due[0] > last + (step or self._interval_ms):
            log.warning("snapshots of %s fell behind: moments before %d not taken", part.name, due[0])
        taken: list[int] = []
        for moment in due:
            try:
                if await self._take(part, moment, first=not (moments or taken)):
                    taken.append(moment)
            except PastUnavailable as exc:  # the later moments cannot be shown either
                failed.append(f"{part.name}: {exc}")
                self._passed[part.name] = due[-1]
                break
            except Exception as exc:  # tried again at the next check; the other parts go on
                failed.append(f"{part.name}: {exc!r}")
                break
            self._passed[part.name] = moment  # taken or quiet: not built again
        return taken

    async def _take(self, part: Part, moment: int, *, first: bool) -> bool:
        """Builds the part at `moment` and saves it, unless the part is quiet: fewer than QUIET_RECORDS
        of its records since its last snapshot, taken less than QUIET_HOURS ago (a past view replays
        those in a fraction of a second; another copy of a large, slowly changing part, such as the
        work orders of a busy plant, would cost space for nothing)."""
        started = time.monotonic()
        built = await self._history.build(moment, part)
        self._steps[part.name] = step_after(built, self._interval_ms, self._busy_records)
        try:
            if not first and quiet(built):
                log.info(
                    "snapshot of %s at %d not taken: %d records since the last",
                    part.name,
                    moment,
                    built.replayed.records,
                )
                return False
            lean = part.name in self._lean
            self._store.forget_loaded()  # the previous image, copied into the store: not needed to save
            saved = await asyncio.to_thread(save_part, self._store, built, self._interval_ms, part, lean=lean)
            metrics.HISTORY_SNAPSHOT_SECONDS.labels(part.name).observe(time.monotonic() - started)
            log.info(
                "snapshot of %s at %d: %d records replayed in %.2fs, %s bytes",
                part.name,
                moment,
                built.replayed.records,
                built.replayed.seconds,
                " + ".join(str(size) for size, _ in saved.values()),
            )
            return True
        finally:
            # Taking a snapshot loads the previous one and builds the next: hundreds of MB for a
            # busy plant, freed again now, also when saving failed. Without this the process kept
            # most of it for good.
            built.engine.dispose()
            self._store.forget_loaded()
            del built
            await asyncio.to_thread(return_freed_memory)

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
