"""The SQLite store refusing writes: its disk full (a small tmpfs filled up) or its files made
immutable (`chattr +i`, which root cannot write through either, unlike file permissions). The
consumer stops advancing without dead-lettering anything, /readyz answers 503 saying why, and it
resumes by itself once the fault is gone, with every record applied once.

Needs root (mount, chattr), as CI runs; it fails, never skips, when it cannot inject the fault.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shopfloor.web.app import create_app
from tests.faults.processes import consumed
from tests.integration.harness import applied_total, projecting, wait_consumed
from tests.support import event, unique_settings, wait_until, wo

HELD = 3.0  # seconds the consumer must stay put while the fault lasts


def _sh(*args: str) -> None:
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.fail(
            f"`{' '.join(args)}` failed ({done.returncode}): {done.stderr.strip()}; this test needs root"
        )


@contextlib.contextmanager
def small_disk(path: Path, size: str = "16m") -> Iterator[Path]:
    """A tmpfs of its own, so filling it fills nobody else's disk; always unmounted."""
    path.mkdir()
    _sh("mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path))
    try:
        yield path
    finally:
        if subprocess.run(["umount", str(path)], capture_output=True, check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(path)], check=False)


def fill(directory: Path) -> Path:
    """Writes zeros until the filesystem says ENOSPC; removing the file is the fix."""
    filler = directory / "filler"
    chunk = b"\0" * (1 << 16)
    with filler.open("wb", buffering=0) as out:
        try:
            while True:
                out.write(chunk)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    return filler


def store_files(db: Path) -> list[Path]:
    return [p for p in (db, Path(f"{db}-wal")) if p.exists()]


@pytest.mark.parametrize("fault", ["disk full", "read-only file"])
async def test_sqlite_store_refusing_writes_pauses_then_resumes(kafka, producer, tmp_path, fault) -> None:  # type: ignore[no-untyped-def]
    with contextlib.ExitStack() as stack:
        directory = stack.enter_context(small_disk(tmp_path / "disk")) if fault == "disk full" else tmp_path
        db = directory / "store.db"
        settings = unique_settings(kafka, f"sqlite:///{db}")
        topic = settings.topic_work_orders
        immutable: list[Path] = []
        stack.callback(
            lambda: [subprocess.run(["chattr", "-i", str(p)], check=False) for p in immutable]
        )  # on failure
        async with projecting(settings) as runtime:
            stack.callback(runtime.engine.dispose)  # open files would keep the tmpfs busy
            projector = runtime.projector
            assert projector is not None
            client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=create_app(runtime)), base_url="http://t"
            )
            for n in range(20):
                await producer.event(
                    topic, f"WO-{n}", event("WorkOrderStatusChanged", wo(f"WO-{n}", "RELEASED"))
                )
            await wait_consumed(runtime, 20)

            if fault == "disk full":
                filler = fill(directory)
            else:
                immutable.extend(store_files(db))
                for path in immutable:
                    _sh("chattr", "+i", str(path))
            total = 220
            for n in range(20, total):
                await producer.event(
                    topic,
                    f"WO-{n}",
                    event("WorkOrderStatusChanged", wo(f"WO-{n}", "RELEASED", reason="x" * 500)),
                )
            await wait_until(lambda: not projector.status.store_ok, 30, f"the {fault} noticed")
            faulted_at = time.monotonic()
            held = consumed(runtime.engine, settings.kafka_group_id)
            applied = applied_total(runtime)
            await asyncio.sleep(HELD)
            assert consumed(runtime.engine, settings.kafka_group_id) == held, "the consumer advanced"
            assert applied_total(runtime) == applied and projector.status.dead == 0
            ready = await client.get("/readyz")
            assert ready.status_code == 503
            reason = next(p for p in ready.json()["problems"] if p.startswith("store refuses writes"))
            assert ("disk is full" if fault == "disk full" else "OperationalError") in reason, reason

            if fault == "disk full":
                filler.unlink()
            else:
                for path in immutable:
                    _sh("chattr", "-i", str(path))
                immutable.clear()
            fixed_at = time.monotonic()
            await wait_consumed(runtime, total, timeout=60)
            resumed = time.monotonic() - fixed_at
            assert projector.status.store_ok and projector.status.dead == 0
            assert (await client.get("/readyz")).status_code == 200
            assert consumed(runtime.engine, settings.kafka_group_id) == total
            assert applied_total(runtime) == total
            await client.aclose()
            print(
                f"\nSQLite {fault}: held at {held} of {total} records for {fixed_at - faulted_at:.1f}s "
                f"({reason[:90]}); all applied {resumed:.1f}s after the fix"
            )
