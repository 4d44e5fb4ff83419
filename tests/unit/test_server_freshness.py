"""When the server tells pages their data may be stale because the consumer is behind: by the
time it needs to catch up, not by a count of waiting events."""

from shopfloor.runtime import BEHIND_SECONDS, Pace, seconds_behind


def test_a_busy_feed_a_second_behind_is_not_stale() -> None:
    assert seconds_behind(1_500, 950.0) < 2  # a snapshot slowed a 1,000 events/s plant for a moment
    assert seconds_behind(1_500, 950.0) < BEHIND_SECONDS


def test_a_quiet_line_with_a_stalled_consumer_is_stale_after_a_few_waiting_events() -> None:
    assert seconds_behind(30, 0.0) == 30  # nothing applied lately: one event a second at best
    assert seconds_behind(30, 0.0) > BEHIND_SECONDS


def test_a_long_backlog_is_stale_even_while_it_drains_fast() -> None:
    assert seconds_behind(200_000, 12_000.0) > BEHIND_SECONDS


def test_the_pace_needs_two_heartbeats_and_is_renewed_at_most_once_a_second() -> None:
    pace = Pace()
    assert pace.update(50_000, now=100.0) is None  # after a restart: a backlog, no pace yet
    assert pace.update(60_000, now=105.0) == 2_000.0  # 10,000 applied in 5 s
    assert pace.update(60_500, now=105.5) == 2_000.0  # half a second later: not renewed
    assert pace.update(60_500, now=110.0) == 500 / 5.0  # since the last renewal (105), not the last call
