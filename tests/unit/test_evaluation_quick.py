"""The quick evaluation CI runs: every family replayed, scored against the scenarios' ground truth."""

from __future__ import annotations

from shopfloor import evaluation
from shopfloor.evaluation_cli import QUICK
from shopfloor.simulator import scenarios


def test_quick_evaluation_meets_the_alarm_targets_on_held_out_seeds() -> None:
    report = evaluation.evaluate(**QUICK, seed=1001)  # type: ignore[arg-type]
    families = set(report.families)
    expected = (
        scenarios.HEALTHY_FAMILIES
        + evaluation.LEGACY_HEALTHY
        + scenarios.SENSOR_FAULT_FAMILIES
        + scenarios.FAILURE_FAMILIES
    )
    assert families == set(expected)
    assert all(f.cases > 0 for f in report.families.values())
    assert report.misses() == []
    assert report.healthy_false_per_machine_day <= 0.5
    assert report.failure_share >= 0.9 and report.failure_median_lead >= 20
    assert report.faults_share == 1.0 and report.false_spikes == 0
