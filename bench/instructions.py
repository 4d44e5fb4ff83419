"""Instructions per event for decode and apply, counted by valgrind's callgrind: a figure the machine's
load does not move, for comparing a change with its parent on a shared machine.

`python bench/instructions.py [--projection P] [--events 25000]` runs the in-process batch path of
`bench/ingest_hot.py cpu` under callgrind twice per projection, over every batch and over the first
batch only; their difference over the events after the first batch is what decoding and applying cost
each one (start-up, imports and the first batch's one-off work cancel out). Needs `valgrind` on PATH
(Debian: `apt-get install valgrind`); it is a development tool, not part of the test suite.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest import PROJECTIONS

BATCH = 5_000
# the same events in every run: a sensor's buckets follow the clock
START = datetime(2026, 1, 5, 6, tzinfo=UTC)
_COLLECTED = re.compile(r"Collected : ([\d,]+)")


def _child(projection: str, events: int, first_only: bool) -> None:
    """Decode and apply `events` records in batches as the projector does (all, or the first only)."""
    from bench.ingest import open_store_url
    from bench.ingest_hot import _records
    from shopfloor.consumers.projector import decode_records
    from shopfloor.runtime import tune_gc
    from shopfloor.store.batch import Batch, apply_batch
    from shopfloor.store.registry import HANDLERS
    from shopfloor.transport.base import TopicPartition

    records = _records(projection, events, START)
    tune_gc()
    with tempfile.TemporaryDirectory() as tmp:
        engine = open_store_url(f"sqlite:///{tmp}/instructions.db")
        tp = TopicPartition("t", 0)
        expected: int | None = None
        for begin in range(0, BATCH if first_only else len(records), BATCH):
            chunk = records[begin : begin + BATCH]
            batch = Batch("instructions", decode_records(chunk), {tp: expected}, {tp: chunk[-1].offset + 1})
            result = apply_batch(engine, batch, HANDLERS)
            if result.applied != len(chunk):  # counting the reject path would measure something else
                raise RuntimeError(
                    f"{projection}: {len(chunk) - result.applied} of {len(chunk)} events not applied"
                )
            expected = chunk[-1].offset + 1
        engine.dispose()


def _count(projection: str, events: int, first_only: bool) -> int:
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        __file__,
        "--child",
        projection,
        "--events",
        str(events),
        *(["--first-only"] if first_only else []),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    found = _COLLECTED.search(done.stderr)
    if found is None:
        raise RuntimeError(f"callgrind printed no total for {projection}:\n{done.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def per_event(projection: str, events: int) -> float:
    with ThreadPoolExecutor(2) as pool:
        every, first = pool.map(lambda only: _count(projection, events, only), (False, True))
    return (every - first) / (events - BATCH)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench/instructions.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--projection", action="append", choices=PROJECTIONS)
    parser.add_argument("--events", type=int, default=25_000)
    parser.add_argument("--child", choices=PROJECTIONS, help=argparse.SUPPRESS)
    parser.add_argument("--first-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child, args.events, args.first_only)
        return
    if args.events <= BATCH:
        parser.error(f"--events must exceed one batch ({BATCH:,})")
    if shutil.which("valgrind") is None:
        parser.error("valgrind is not on PATH (Debian: apt-get install valgrind)")
    for projection in args.projection or PROJECTIONS:
        print(f"{projection:12} {per_event(projection, args.events):9,.0f} instructions an event", flush=True)


if __name__ == "__main__":
    main()
