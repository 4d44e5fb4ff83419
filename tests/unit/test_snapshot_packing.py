"""Snapshot images: what is packed unpacks to the same bytes, and snapshots stored before zstd (zlib
streams) still open after an upgrade."""

from __future__ import annotations

import sqlite3
import zlib

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
