"""Snapshot images: what is packed unpacks to the same bytes, and snapshots stored before zstd (zlib
streams) still open after an upgrade."""

from __future__ import annotations

import sqlite3
import zlib

import pytest

from shopfloor.history.snapshots import pack, unpack


def _image() -> bytes:
    """A small store image with the repetitive rows read models hold."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE history (work_order_id TEXT, status TEXT, at_ms INTEGER, line_id TEXT)")
    statuses = ("RELEASED", "IN_PROGRESS", "ON_HOLD", "COMPLETED")
    conn.executemany(
        "INSERT INTO history VALUES (?, ?, ?, ?)",
        [
            (f"WO-{i // 4:06d}", statuses[i % 4], 1_796_000_000_000 + i * 1000, f"L{i % 7}")
            for i in range(20_000)
        ],
    )
    conn.commit()
    return conn.serialize()


def test_a_packed_image_unpacks_to_the_same_bytes_and_is_smaller_than_zlib_made_it() -> None:
    image = _image()
    packed = pack(image)
    assert unpack(packed) == image
    assert len(packed) < len(zlib.compress(image, 1))


def test_a_snapshot_stored_as_zlib_still_opens() -> None:
    image = _image()
    assert unpack(zlib.compress(image, 1)) == image
    restored = sqlite3.connect(":memory:")
    restored.deserialize(unpack(zlib.compress(image, 1)))
    assert restored.execute("SELECT count(*) FROM history").fetchone() == (20_000,)


def test_a_damaged_snapshot_is_a_past_that_cannot_be_shown_not_a_crash(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import insert

    from shopfloor.history.service import PastUnavailable
    from shopfloor.history.snapshots import PART_SNAPSHOTS, SnapshotStore
    from shopfloor.store.db import make_engine

    store = SnapshotStore(make_engine(f"sqlite:///{tmp_path / 'store.db'}"))
    with store.engine.begin() as conn:
        conn.execute(
            insert(PART_SNAPSHOTS).values(
                at_ms=1000, part="work_orders", taken_ms=1000, positions="[]", image=b"\x28\xb5\x2f\xfdjunk"
            )
        )
    with pytest.raises(PastUnavailable, match="cannot be read"):
        store.latest_before(2000, "work_orders")


async def test_a_snapshot_without_room_for_its_temporary_copy_is_a_past_that_cannot_be_shown(
    tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """An image is loaded through a temporary file: a TMPDIR that cannot take it is a clear answer
    on the page, not a failed request."""
    import tempfile

    from shopfloor.config import Settings
    from shopfloor.history.replay import memory_store
    from shopfloor.history.service import History, PastUnavailable
    from shopfloor.history.snapshots import SnapshotStore, packed_image
    from shopfloor.store.db import make_engine
    from shopfloor.store.registry import HANDLERS
    from shopfloor.transport.memory import MemoryLog, MemoryReader

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'store.db'}")
    store = SnapshotStore(make_engine(settings.database_url))
    history = History(settings, lambda: MemoryReader(MemoryLog(partitions=1)), HANDLERS, store)
    part = history.parts[0]
    store.save_packed(1000, part.name, packed_image(memory_store())[1], {})
    assert (await history.build(2000, part)).snapshot_ms == 1000  # it loads while TMPDIR can take it
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no such folder"))
    with pytest.raises(PastUnavailable, match="cannot be loaded here"):
        await history.build(2000, part)
