"""The kill test's oracle bites: the same scenario (a smaller stream, one SIGKILL) run by a projector
with one guarantee broken on purpose (`mutants.py`) must end DIFFERENT from the reference model.
If one of these passes the comparison, the fault tests could not have caught that bug either."""

from __future__ import annotations

import pytest

from tests.faults import reference
from tests.faults.streams import mixed_stream
from tests.faults.test_kill_and_pause import _settings, run_with_kills

pytestmark = pytest.mark.alone  # the kill test's pacing
RECORDS = 3000


async def _mutant_run(kafka, producer, sqlite_url, tmp_path, mutant: str) -> list[str]:  # type: ignore[no-untyped-def]
    settings = _settings(kafka, sqlite_url, batch_max_records=200)
    stream = mixed_stream(RECORDS, seed=31)
    env = {"SHOPFLOOR_MUTANT_MARKER": str(tmp_path / "crashed")}
    engine, _ = await run_with_kills(
        kafka,
        producer,
        settings,
        stream,
        1,
        tmp_path / "project.log",
        module=("tests.faults.mutants", mutant),
        env=env,
    )
    problems = reference.check(engine, stream)
    print(f"\nmutant {mutant}: the reference comparison reports {len(problems)} differences")
    for line in problems:
        print(f"  {line[:300]}")
    return problems


async def test_without_dedup_the_oracle_reports_double_effects(kafka, producer, sqlite_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    problems = await _mutant_run(kafka, producer, sqlite_url, tmp_path, "no-dedup")
    tables = {line.split(":")[0] for line in problems}
    # Redelivered deltas, readings and saga steps counted twice; work orders are saved by sequences.
    assert {"inventory_stock", "inventory_totals", "sensor_latest", "outbound_orders"} <= tables, problems


async def test_positions_outside_the_batch_transaction_the_oracle_reports_loss(
    kafka, producer, sqlite_url, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    problems = await _mutant_run(kafka, producer, sqlite_url, tmp_path, "positions-first")
    assert (tmp_path / "crashed").exists(), "the mutant never crashed between its two commits"
    assert problems, "a batch lost between the positions and the read models went unnoticed"
