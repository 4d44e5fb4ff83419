"""The simulator and the demo produce inspections: valid events of real orders, with some FAIL and
REWORK results carrying defect codes, keyed by inspection id on the quality topic."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from shopfloor.config import Settings
from shopfloor.events.codec import decode, encode_structured
from shopfloor.simulator.plant import demo_traffic, plant_traffic
from tests.support import T0


def _events(generators, minutes: int, tick_s: float = 0.1):  # type: ignore[no-untyped-def]
    """Steps the generators at their rates over `minutes` of event time, as `base.run` paces them."""
    out, credit, now = [], [0.0] * len(generators), T0
    while now < T0 + timedelta(minutes=minutes):
        for i, generator in enumerate(generators):
            credit[i] += generator.rate * tick_s
            while credit[i] >= 1:
                credit[i] -= 1
                out += generator.step(now)
        now += timedelta(seconds=tick_s)
    return out


def test_plant_traffic_inspects_its_orders() -> None:
    settings = Settings(topic_quality="q.test")
    produced = _events(plant_traffic(settings, rate=20.0, seed=5), minutes=10)
    orders = {
        p.event["data"]["work_order_id"]: p.event["data"]["line_id"]
        for p in produced
        if p.event["type"] == "WorkOrderStatusChanged"
    }
    inspections = [p for p in produced if p.event["type"] == "InspectionRecorded"]
    assert len(inspections) >= 50
    results = Counter(p.event["data"]["result"] for p in inspections)
    assert results["PASS"] > results["FAIL"] + results["REWORK"] > 0 and results["FAIL"] and results["REWORK"]
    for p in inspections:
        data = decode(*encode_structured(p.event)).data  # valid under the contract
        assert p.topic == "q.test" and p.key == data.inspection_id
        assert orders[data.work_order_id] == data.line_id  # a real order, on its own line
        assert bool(data.defects) == (data.result.value != "PASS")
    assert len({p.key for p in inspections}) == len(inspections)


def test_the_demo_produces_inspections_with_defects_in_its_first_minutes() -> None:
    produced = _events(demo_traffic(Settings(), rate=20.0, sensor_rate=0.0, seed=11), minutes=3)
    inspections = [p.event["data"] for p in produced if p.event["type"] == "InspectionRecorded"]
    assert len(inspections) >= 10
    assert any(d["result"] != "PASS" and d["defects"] for d in inspections)
