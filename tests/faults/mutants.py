"""`shopfloor` with one guarantee broken on purpose, to prove the fault tests' oracle notices.

    python -m tests.faults.mutants MUTANT project

- `no-dedup`: duplicates are not recognised (neither against the store nor within a batch), so a
  redelivered event is applied again.
- `positions-first`: the consumer positions are committed in a transaction of their own BEFORE the
  batch's read-model changes; the process then crashes once (SIGKILL, marker file
  `SHOPFLOOR_MUTANT_MARKER`) between the two commits, as a kill at that instant would (a random
  external kill lands there too, but not on every run; the mutation check must not be luck).

Production code has no switch for this: the mutants patch the store module in this process only.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from shopfloor.consumers import projector
from shopfloor.store import batch as batch_store
from shopfloor.store.db import begin_write, upsert

CRASH_AT_BATCH = 3  # the first batch from the third on with at least CRASH_BATCH_RECORDS records,
CRASH_BATCH_RECORDS = 20  # so the lost batch surely holds some effect (not only redeliveries)


def _no_dedup() -> None:
    batch_store._record_new = lambda conn, events, keys: None  # the lookup, then the insert
    batch_store._already_applied = lambda conn, keys: _NeverSeen()


class _NeverSeen(set[str]):
    """A `seen` set that forgets: `apply_in` adds each key as it goes, to drop in-batch repeats."""

    def __contains__(self, key: object) -> bool:
        return False


def _positions_first() -> None:
    marker = Path(os.environ["SHOPFLOOR_MUTANT_MARKER"])
    batches = 0

    def apply_batch(engine: Engine, batch: batch_store.Batch, handlers: Sequence[Any], **kw: Any) -> Any:
        nonlocal batches
        with begin_write(engine) as conn:
            batch_store._check_positions(conn, batch)
            rows = [
                {"group_id": batch.group_id, "topic": tp.topic, "partition": tp.partition, "next_offset": off}
                for tp, off in sorted(batch.next_offsets.items())
            ]
            upsert(conn, batch_store.POSITIONS, rows, ["group_id", "topic", "partition"])
        batches += 1
        if batches >= CRASH_AT_BATCH and len(batch.items) >= CRASH_BATCH_RECORDS and not marker.exists():
            marker.write_text("crashed between the positions and the batch\n")
            os.kill(os.getpid(), signal.SIGKILL)
        batch.expected = dict(batch.next_offsets)  # where the first transaction left them
        return batch_store.apply_batch(engine, batch, handlers, **kw)

    projector.apply_batch = apply_batch


MUTANTS = {"no-dedup": _no_dedup, "positions-first": _positions_first}

if __name__ == "__main__":
    for owner, name in (
        (batch_store, "_record_new"),
        (batch_store, "_already_applied"),
        (batch_store, "_check_positions"),
        (projector, "apply_batch"),
    ):
        assert hasattr(owner, name), f"{owner.__name__}.{name} is gone: update tests/faults/mutants.py"
    MUTANTS[sys.argv[1]]()
    from shopfloor.cli import main

    main(sys.argv[2:])
