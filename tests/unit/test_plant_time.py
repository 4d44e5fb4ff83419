"""Times on pages in the plant's own zone, with the day whenever it is not today's: a due time of
tomorrow 15:30 shown as a bare "15:30" at 16:00 reads as long late."""

from __future__ import annotations

from datetime import UTC, datetime

from shopfloor.web.lines import Plan
from tests.support import unique_settings


def ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)  # type: ignore[misc]


def test_a_time_of_another_day_carries_its_day_in_plant_time() -> None:
    now = {"ms": ms(2026, 12, 5, 15, 40)}  # 16:40 in Berlin, a Saturday
    plan = Plan(unique_settings(None, "sqlite://", timezone="Europe/Berlin"), clock=lambda: now["ms"])
    assert plan.when(ms(2026, 12, 5, 14, 30)) == "15:30"  # earlier today: late, and says so by its time
    assert plan.when(ms(2026, 12, 6, 14, 30)) == "Sun\u00a06\u00a0Dec 15:30"  # tomorrow
    assert plan.when(ms(2026, 12, 4, 22, 30)) == "Fri\u00a04\u00a0Dec 23:30"  # yesterday
    assert (
        plan.when(ms(2026, 12, 5, 23, 30)) == "Sun\u00a06\u00a0Dec 00:30"
    )  # UTC's today, the plant's tomorrow
    now["ms"] = ms(2026, 12, 5, 23, 30)  # past the plant's midnight: Sunday there
    assert plan.when(ms(2026, 12, 6, 14, 30)) == "15:30"
    assert plan.when(None) == ""
