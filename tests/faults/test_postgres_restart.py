"""PostgreSQL restarted while a mixed stream is being applied (once shut down fast, aborting the
open batch; once crashed with `immediate`, recovered from WAL): the consumer retries without
dead-lettering anything, and the read models end equal to the reference model's.

Runs on a PostgreSQL cluster of its own, never the shared one on 55432.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.faults.components import own_postgres
from tests.faults.processes import consumed
from tests.faults.streams import mixed_stream
from tests.faults.test_kill_and_pause import _produce_paced, _settings, _topics, assert_matches_reference
from tests.integration.harness import projecting
from tests.support import wait_until

pytestmark = pytest.mark.alone  # the restarts are paced to land while records arrive
RECORDS = 6000
DOWN_SECONDS = 3.0


async def test_postgres_restarted_mid_stream_ends_equal_to_the_reference(
    kafka, producer, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    stream = mixed_stream(RECORDS, seed=23)
    outages: list[str] = []
    with own_postgres() as pg:
        settings = _settings(kafka, pg.url, batch_max_records=100)
        await _topics(kafka, settings)
        async with projecting(settings) as runtime:
            projector = runtime.projector
            assert projector is not None
            producing = asyncio.create_task(_produce_paced(producer, settings, stream, 12))
            floor = 0
            for mode in ("fast", "immediate"):
                await wait_until(
                    lambda floor=floor: consumed(runtime.engine, settings.kafka_group_id) > floor + 300,
                    60,
                    "progress before the restart",
                )
                before = consumed(runtime.engine, settings.kafka_group_id)
                pg.stop(mode)
                down_at = time.monotonic()
                await wait_until(lambda: not projector.status.store_ok, 30, "the store outage noticed")
                error = projector.status.store_error or ""
                await asyncio.sleep(max(0.0, DOWN_SECONDS - (time.monotonic() - down_at)))
                pg.start()
                up_at = time.monotonic()
                await wait_until(lambda: projector.status.store_ok, 60, "the consumer writing again")
                floor = consumed(runtime.engine, settings.kafka_group_id)
                outages.append(
                    f"{mode}: down {up_at - down_at:.1f}s at {before} records, writing again "
                    f"{time.monotonic() - up_at:.1f}s later ({error[:60]})"
                )
            await producing
            await wait_until(
                lambda: consumed(runtime.engine, settings.kafka_group_id) >= len(stream),
                120,
                f"all {len(stream)} records consumed",
            )
            assert projector.status.dead == 0, "a store outage dead-lettered records"
            print(f"\nPostgreSQL restarts on {len(stream)} records: " + "; ".join(outages))
            assert len(outages) == 2
            assert_matches_reference(runtime.engine, stream)
