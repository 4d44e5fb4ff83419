"""The benchmarks' median round: the figure a report quotes when a level ran several times."""

from __future__ import annotations

from typing import Any

from bench.common import median_round


def _round(p99: float | None, missed: int = 0) -> dict[str, Any]:
    return {"latency": {} if p99 is None else {"p99": p99}, "missed": missed}


def _p99(r: dict[str, Any]) -> float | None:
    return r["latency"].get("p99")


def test_the_median_p99_is_quoted_with_every_round_in_run_order() -> None:
    rounds = [_round(51.0), _round(71.0), _round(56.0)]  # 56 ranks in the middle, comes last
    quoted = median_round(rounds, _p99, "missed")
    assert quoted["latency"] == {"p99": 56.0}
    assert quoted["rounds_p99"] == [51.0, 71.0, 56.0]
    assert quoted["rounds_missed"] == [0, 0, 0]
    assert quoted["other_rounds"] == [rounds[0], rounds[1]]


def test_a_round_that_missed_a_delivery_ranks_slowest_however_fast_it_was() -> None:
    # 10 ms but a change never arrived: ranked after 40 and 60, so 60 is the median.
    quoted = median_round([_round(10.0, missed=1), _round(40.0), _round(60.0)], _p99, "missed")
    assert quoted["latency"] == {"p99": 60.0}
    assert quoted["rounds_missed"] == [1, 0, 0]


def test_a_round_without_a_p99_ranks_slowest_and_two_rounds_quote_the_slower() -> None:
    assert median_round([_round(None), _round(30.0), _round(20.0)], _p99, "missed")["latency"] == {
        "p99": 30.0
    }
    assert median_round([_round(20.0), _round(30.0)], _p99, "missed")["latency"] == {"p99": 30.0}
