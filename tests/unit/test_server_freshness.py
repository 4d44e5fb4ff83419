"""When the server tells pages their data may be stale because the consumer is behind: by the
time it needs to catch up, not by a count of waiting events."""

from shopfloor.runtime import BEHIND_SECONDS, seconds_behind


def test_a_busy_feed_a_second_behind_is_not_stale() -> None:
    assert seconds_behind(1_500, 950.0) < 2  # a snapshot slowed a 1,000 events/s plant for a moment
    assert seconds_behind(1_500, 950.0) < BEHIND_SECONDS


def test_a_quiet_line_with_a_stalled_consumer_is_stale_after_a_few_waiting_events() -> None:
    assert seconds_behind(30, 0.0) == 30  # nothing applied lately: one event a second at best
    assert seconds_behind(30, 0.0) > BEHIND_SECONDS


def test_a_long_backlog_is_stale_even_while_it_drains_fast() -> None:
    assert seconds_behind(200_000, 12_000.0) > BEHIND_SECONDS
