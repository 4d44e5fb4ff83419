"""The equipment trend for each time range: which buckets, what is kept, and what is marked on it.

Readings, status changes and an alarm go through the real handlers on SQLite and PostgreSQL; the
expected buckets are worked out by hand from the readings below.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from shopfloor.events.codec import decode, encode_structured
from shopfloor.runtime import open_store
from shopfloor.store.batch import Batch, apply_batch
from shopfloor.store.registry import HANDLERS
from shopfloor.web.trend_window import RANGES, trend_window
from tests.support import T0, event, unique_settings

T = int(T0.timestamp() * 1000)  # a whole minute: the newest reading
MIN, HOUR = 60_000, 3_600_000


def _reading(value: float, ms: int, sensor: str = "pressure") -> dict[str, Any]:
    data = {"equipment_id": "M1", "sensor": sensor, "value": value, "unit": "bar"}
    return event("SensorReading", data, at=T0 + timedelta(milliseconds=ms - T))


def _status(status: str, reason: str, ms: int) -> dict[str, Any]:
    data = {"equipment_id": "M1", "status": status, "line_id": "L1", "reason": reason}
    return event("EquipmentStatusChanged", data, at=T0 + timedelta(milliseconds=ms - T))


def _apply(engine: Any, events: list[dict[str, Any]]) -> None:
    items = [decode(*encode_structured(e)) for e in events]
    apply_batch(engine, Batch("trend-window-test", list(items), {}, {}), HANDLERS)


@pytest.fixture
def engine(database_url: str) -> Any:
    engine = open_store(unique_settings(None, database_url))
    _apply(engine, [_status("IDLE", "break", T - 3 * HOUR), _status("RUNNING", "shift start", T - 20 * MIN)])
    _apply(
        engine,
        [_reading(2.0, T - 90 * MIN), _reading(4.0, T - 90 * MIN + 30_000)]  # one minute bucket: 2..4, avg 3
        + [_reading(5.0, T - 5 * MIN), _reading(7.0, T - 5 * MIN + 500)]  # one second: 5..7, avg 6
        + [_reading(9.5, T - 4 * MIN + i * 1000) for i in range(5)]  # over the 9 bar limit 5 times: an alarm
        + [_reading(1.0, T)],
    )
    yield engine
    engine.dispose()


def test_each_range_reads_its_bucket_table_and_marks_what_happened(engine: Any) -> None:
    now = T + 5_000  # readings stop at T: ranges end at the newest reading
    with engine.connect() as conn:
        short, hour, shift, day, week = (trend_window(conn, "M1", RANGES[k], now) for k in RANGES)

    seconds = [[T - 5 * MIN, 5.0, 6.0, 7.0]] + [[T - 4 * MIN + i * 1000, 9.5, 9.5, 9.5] for i in range(5)]
    assert (short["resolution"], short["from_ms"], short["to_ms"]) == ("1s", T - 10 * MIN, T)
    assert short["sensors"]["pressure"]["points"] == [*seconds, [T, 1.0, 1.0, 1.0]]
    assert short["note"] is None and short["sensors"]["pressure"]["limit"] == 9.0

    minutes = [[T - 5 * MIN, 5.0, 6.0, 7.0], [T - 4 * MIN, 9.5, 9.5, 9.5], [T, 1.0, 1.0, 1.0]]
    assert (hour["resolution"], hour["from_ms"]) == ("1m", T - HOUR)
    assert hour["sensors"]["pressure"]["points"] == minutes
    assert shift["sensors"]["pressure"]["points"] == [[T - 90 * MIN, 2.0, 3.0, 4.0], *minutes]
    assert shift["note"] is None and shift["available_from_ms"] == T - 8 * HOUR

    # per-minute buckets are kept for 12 hours: longer ranges say so and show what is kept
    for longer in (day, week):
        assert longer["sensors"]["pressure"]["points"] == shift["sensors"]["pressure"]["points"]
        assert longer["available_from_ms"] == T - 12 * HOUR
        assert "kept for 12 h" in longer["note"]
    assert "24 h asked" in day["note"] and "7 days asked" in week["note"]

    alarm = ("alarm", T - 4 * MIN + 4000, "pressure", 9.5)  # opened by the fifth reading over the limit
    running = ("status", T - 20 * MIN, None, None)
    # running again after the break with no pressure reading for 5 minutes: a silent-sensor alarm
    silent = ("alarm", T - 15 * MIN, "pressure", 5.0)
    marks = {
        k: [(a["kind"], a["at_ms"], a["sensor"], a["value"]) for a in w["annotations"]]
        for k, w in (("10m", short), ("1h", hour), ("8h", shift))
    }
    assert marks == {
        "10m": [alarm],
        "1h": [running, silent, alarm],
        "8h": [("status", T - 3 * HOUR, None, None), running, silent, alarm],
    }
    texts = [a["text"] for a in shift["annotations"]]
    assert texts == [
        "IDLE: break",
        "RUNNING: shift start",
        "SENSOR_FAULT alarm (medium)",
        "THRESHOLD alarm (high)",
    ]
