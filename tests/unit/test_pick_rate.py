"""Pick rate per hour against hand-worked windows."""

from __future__ import annotations

from shopfloor.projections.pick_rate import pick_rate

MIN = 60_000
NOW = 1_000 * 60 * MIN  # any instant
PICKS = [  # (picked at, units)
    (NOW - 130 * MIN, 7),  # before the shift: never counted
    (NOW - 90 * MIN, 4),
    (NOW - 20 * MIN, 6),  # in the shift, not in the last 15 min
    (NOW - 10 * MIN, 3),
    (NOW - 5 * MIN, 5),
    (NOW - 1 * MIN, 2),
    (NOW + 1 * MIN, 9),  # after "now" (a later replayed event): not yet
]


def test_last_15_minutes() -> None:
    rate = pick_rate(PICKS, NOW - 15 * MIN, NOW)
    # 3 orders, 10 units in a quarter hour -> 12 orders/h, 40 units/h
    assert (rate.orders, rate.units) == (3, 10)
    assert rate.orders_per_hour == 12.0 and rate.units_per_hour == 40.0


def test_since_the_shift_started_two_hours_ago() -> None:
    rate = pick_rate(PICKS, NOW - 120 * MIN, NOW)
    # 5 orders, 20 units in 2 h -> 2.5 orders/h, 10 units/h
    assert (rate.orders, rate.units) == (5, 20)
    assert rate.orders_per_hour == 2.5 and rate.units_per_hour == 10.0


def test_no_elapsed_time_has_no_rate() -> None:
    rate = pick_rate(PICKS, NOW, NOW)
    assert rate.orders_per_hour is None and rate.units_per_hour is None


def test_a_window_shorter_than_the_least_has_counts_and_no_rate() -> None:
    rate = pick_rate(PICKS, NOW - 10 * MIN, NOW, min_window_ms=15 * MIN)  # a shift ten minutes old
    assert (rate.orders, rate.units) == (3, 10)  # the picks 10 (its start), 5 and 1 minutes ago
    assert rate.orders_per_hour is None and rate.units_per_hour is None
    rate = pick_rate(PICKS, NOW - 15 * MIN, NOW, min_window_ms=15 * MIN)  # fifteen: a rate
    assert rate.orders_per_hour == 12.0
