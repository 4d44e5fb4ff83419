"""ISA-18.2 alarm KPIs on hand-counted alarm lists."""

from __future__ import annotations

from shopfloor.projections import alarm_kpis

T0 = 1_795_000_000_000
MIN = 60_000


def _alarm(eq: str, minute: float, kind: str = "THRESHOLD", active: bool = False) -> dict[str, object]:
    return {
        "equipment_id": eq,
        "sensor": "vibration",
        "kind": kind,
        "opened_ms": int(T0 + minute * MIN),
        "active": active,
    }


def test_rates_floods_top_chattering_and_standing() -> None:
    alarms = [_alarm("M-1", 0.1 * i) for i in range(12)]  # 12 within 1.2 min: a flood, and chattering
    alarms += [_alarm("M-2", 25), _alarm("M-2", 41, "PREDICTIVE")]
    alarms += [_alarm("M-3", -3000, active=True)]  # raised 50 h before the range, still active
    areas = {"M-1": "L1", "M-2": "L2", "M-3": "L2"}
    kpis = alarm_kpis.compute(alarms, areas, T0, T0 + 60 * MIN, now_ms=T0 + 60 * MIN)
    assert kpis.total == 14
    l1, l2 = kpis.areas
    assert (l1.area, l1.alarms, l1.per_10_min, l1.peak_10_min, l1.acceptable) == ("L1", 12, 2.0, 12, False)
    assert (l2.area, l2.alarms, l2.per_10_min, l2.peak_10_min, l2.acceptable) == ("L2", 2, 0.333, 1, True)
    assert kpis.floods == [(T0, 12)]
    assert kpis.flood_share == round(1 / 6, 4)
    assert kpis.top[0] == (("M-1", "vibration", "THRESHOLD"), 12)
    assert len(kpis.top) == 3
    assert kpis.chattering == [(("M-1", "vibration", "THRESHOLD"), 11)]  # 0.0 .. 1.0 min: 11 stamps
    assert [a["equipment_id"] for a in kpis.standing] == ["M-3"]


def test_ten_alarms_in_ten_minutes_is_not_yet_a_flood() -> None:
    alarms = [_alarm(f"M-{i}", i) for i in range(10)]
    kpis = alarm_kpis.compute(alarms, {}, T0, T0 + 10 * MIN, now_ms=T0 + 10 * MIN)
    assert kpis.floods == [] and kpis.chattering == []
    assert kpis.areas[0].area == "unassigned" and kpis.areas[0].per_10_min == 10.0
