"""When the server tells pages their data may be stale because the consumer is behind: by how far the
data trails the plant (what waits, at the rate events arrive), not by a count of waiting events nor by
the time the consumer needs at the pace it happens to keep."""

from shopfloor.runtime import BEHIND_SECONDS, Arrivals, seconds_behind
from shopfloor.transport.base import TopicPartition

A, B, C, D = (TopicPartition("sensors", n) for n in range(4))


def test_a_busy_feed_a_second_behind_is_not_stale() -> None:
    # a snapshot slowed a 1,000 events/s plant (two partitions of 500/s) for a moment
    assert seconds_behind({A: 700, B: 750}, {A: 500.0, B: 500.0}) == 1.5
    assert seconds_behind({A: 700, B: 750}, {A: 500.0, B: 500.0}) < BEHIND_SECONDS


def test_a_consumer_slowed_for_a_moment_is_judged_by_the_data_it_lags_not_by_its_pace() -> None:
    # 1,000 events/s arrive; the consumer, 100 behind, keeps 300/s for 5 s while 34 pages load:
    # 100 + 5 * (1,000 - 300) = 3,600 wait, 3.6 s of the plant (at its own 300/s it needs 12 s).
    behind = seconds_behind({A: 1_800, B: 1_800}, {A: 500.0, B: 500.0})
    assert behind == 3.6
    assert behind < BEHIND_SECONDS < 3_600 / 300


def test_a_busy_partition_does_not_hide_a_quiet_one_far_behind() -> None:
    # sensors at 1,000/s all read; a line's orders at one every 5 s, 200 waiting: 1,000 s of them
    assert seconds_behind({A: 0, B: 200}, {A: 1_000.0, B: 0.2}) == 200  # one a second at the least
    assert seconds_behind({A: 0, B: 200}, {A: 1_000.0, B: 0.2}) > BEHIND_SECONDS


def test_a_quiet_line_with_a_stalled_consumer_is_stale_after_a_few_waiting_events() -> None:
    assert seconds_behind({A: 30}, {A: 0.5}) == 30  # one order every 2 s: at least 30 s behind
    assert seconds_behind({A: 30}, {A: 0.5}) > BEHIND_SECONDS


def test_a_batch_that_goes_unapplied_makes_the_data_stale_however_small_the_lag() -> None:
    # a transaction hangs on a lock: the log position moved when the batch was taken, so no lag shows
    assert seconds_behind({A: 0}, {A: 1_000.0}, held_seconds=12.0) == 12.0
    assert seconds_behind({A: 0}, {A: 1_000.0}, held_seconds=12.0) > BEHIND_SECONDS


def test_a_long_backlog_is_stale_even_while_it_drains_fast() -> None:
    assert seconds_behind({A: 200_000}, {A: 1_000.0}) == 200  # after a restart: 200 s of the plant


def test_a_partition_without_a_rate_yet_is_left_out() -> None:
    assert seconds_behind({A: 200_000}, {}) == 0.0  # just started, or just assigned
    assert seconds_behind({A: 100, B: 200_000}, {A: 100.0}) == 1.0
    assert seconds_behind({A: 100}, {}, held_seconds=15.0) == 15.0


def test_arrivals_are_the_growth_of_each_log_end_over_the_window() -> None:
    arrivals = Arrivals(window=60.0)
    assert arrivals.update(None, {}) == {}  # the consumer has reported nothing yet
    assert arrivals.update(100.0, {A: 5_000, B: 7_000}) == {}  # one report: no rate
    assert arrivals.update(105.0, {A: 7_500, B: 9_000}) == {A: 500.0, B: 400.0}  # in 5 s
    assert arrivals.update(105.0, {A: 7_500, B: 9_000}) == {A: 500.0, B: 400.0}  # asked again
    assert arrivals.update(110.0, {A: 8_000, B: 9_000}) == {A: 300.0, B: 200.0}  # over 10 s


def test_a_rebalance_neither_invents_nor_hides_arrivals() -> None:
    arrivals = Arrivals(window=60.0)
    arrivals.update(100.0, {A: 5_000, B: 1_000})
    # every partition moved (a rolling deploy): none of the new ones has a rate yet
    assert arrivals.update(105.0, {C: 900_000, D: 7_000}) == {}
    assert arrivals.update(110.0, {C: 902_500, D: 9_500}) == {C: 500.0, D: 500.0}
    # A comes back: its log end grew by 2,000 over the 15 s since it was last seen, whoever read it
    assert arrivals.update(115.0, {A: 7_000, C: 905_000}) == {A: 2_000 / 15, C: 500.0}


def test_old_reports_leave_the_window_so_a_quieter_plant_is_seen_within_a_minute() -> None:
    arrivals = Arrivals(window=60.0)
    end = 0
    for second in range(0, 61, 5):  # 1,000 events/s for a minute
        end = 1_000 * second
        arrivals.update(float(second), {A: end})
    for second in range(65, 131, 5):  # then 10 events/s
        end += 50
        rates = arrivals.update(float(second), {A: end})
    assert rates == {A: 10.0}  # only the last minute's reports remain (from second 70 to 130)
