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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest_hot import BATCH, PROJECTIONS

HOT_PATH = Path(__file__).resolve().parent / "ingest_hot.py"
_COLLECTED = re.compile(r"Collected : ([\d,]+)")


def _count(projection: str, events: int, first_only: bool) -> int:
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        str(HOT_PATH),
        "cpu",
        "--projection",
        projection,
        "--events",
        str(events),
        *(["--batches", "1"] if first_only else []),
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
    args = parser.parse_args(argv)
    if args.events <= BATCH:
        parser.error(f"--events must exceed one batch ({BATCH:,})")
    if shutil.which("valgrind") is None:
        parser.error("valgrind is not on PATH (Debian: apt-get install valgrind)")
    for projection in args.projection or PROJECTIONS:
        print(f"{projection:12} {per_event(projection, args.events):9,.0f} instructions an event", flush=True)


if __name__ == "__main__":
    main()
