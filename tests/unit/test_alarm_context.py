"""Alarms judged in operating context, sensor health, bursts and wear: hand-built series, pure folds."""

from __future__ import annotations

import math
import random

from shopfloor.evaluation import detect_machine
from shopfloor.projections import anomaly

T0 = 1_795_000_000_000
MIN = 60_000
SPEC = anomaly.spec_for("vibration")  # limit 7.1, stuck/silent after 5 min


def _noise(
    seed: int, start: int, minutes: float, level: float, sigma: float = 0.1
) -> list[tuple[int, float]]:
    rng = random.Random(seed)
    return [(start + i * 1000, round(rng.gauss(level, sigma), 4)) for i in range(int(minutes * 60))]


def _alarms(signals: list[anomaly.Signal]) -> list[anomaly.Signal]:
    return [s for s in signals if s.kind in anomaly.ALARM_KINDS and s.active]


def test_level_shift_is_a_note_not_an_alarm() -> None:
    readings = _noise(1, T0, 40, 2.0) + _noise(2, T0 + 40 * MIN, 40, 3.5)
    _, signals = anomaly.fold(None, SPEC, readings)
    assert anomaly.SHIFT in {s.kind for s in signals if s.active}
    assert _alarms(signals) == []
    assert anomaly.SHIFT in anomaly.NOTE_KINDS and anomaly.SHIFT not in anomaly.ALARM_KINDS


def test_warm_up_after_a_restart_predicts_nothing_but_the_same_rise_unannounced_does() -> None:
    """Temperature climbing 30 -> 80 °C with a 15-minute time constant after a restart."""
    rng = random.Random(4)
    warm = [
        (T0 + i * 1000, round(80 - 50 * math.exp(-i / 900) + rng.gauss(0, 0.3), 3)) for i in range(90 * 60)
    ]
    temp = anomaly.spec_for("temperature")
    context = [(T0 - 20 * MIN, anomaly.IDLE), (T0, anomaly.RUNNING)]
    _, with_context = anomaly.fold(None, temp, warm, context)
    assert _alarms(with_context) == []
    _, blind = anomaly.fold(None, temp, warm)  # no status: the rise looks like a failure coming
    assert anomaly.PREDICTIVE in {s.kind for s in _alarms(blind)}


def test_readings_while_idle_teach_nothing_and_raise_nothing() -> None:
    context = [(T0, anomaly.RUNNING), (T0 + 30 * MIN, anomaly.IDLE), (T0 + 60 * MIN, anomaly.RUNNING)]
    readings = (
        _noise(1, T0, 30, 2.0) + _noise(2, T0 + 30 * MIN, 30, 0.2, 0.02) + _noise(3, T0 + 60 * MIN, 40, 2.0)
    )
    state, signals = anomaly.fold(None, SPEC, readings, context)
    assert _alarms(signals) == []
    assert [s.kind for s in signals if s.active] == []  # not even a note: the stop explains the drop
    assert all(m > 1.5 for _, m in state.history)


def test_stuck_sensor_is_a_sensor_fault_within_minutes_and_recovers_without_spikes() -> None:
    healthy = _noise(1, T0, 60, 2.0)
    stuck = [(T0 + 60 * MIN + i * 1000, 2.05) for i in range(60 * 60)]
    back = _noise(2, T0 + 120 * MIN, 60, 2.0)
    _, signals = anomaly.fold(None, SPEC, healthy + stuck + back, [(T0, anomaly.RUNNING)])
    faults = [s for s in signals if s.kind == anomaly.SENSOR_FAULT]
    assert [(f.active, f.detail) for f in faults] == [(True, anomaly.STUCK), (False, None)]
    assert faults[0].at_ms - (T0 + 60 * MIN) <= 5 * MIN + 1000
    assert faults[1].at_ms == T0 + 120 * MIN
    assert [s for s in signals if s.kind == anomaly.SPIKE] == []  # the noise estimate did not collapse


def test_a_repeating_value_while_the_machine_is_idle_is_not_stuck() -> None:
    context = [(T0, anomaly.RUNNING), (T0 + 30 * MIN, anomaly.IDLE)]
    readings = _noise(1, T0, 30, 2.0) + [(T0 + 30 * MIN + i * 1000, 0.0) for i in range(3600)]
    _, signals = anomaly.fold(None, SPEC, readings, context)
    assert signals == []


def test_silent_sensor_is_reported_on_the_clock_of_the_other_sensor() -> None:
    vib = _noise(1, T0, 90, 2.0)
    temp = _noise(2, T0, 30, 60.0, 0.3) + _noise(3, T0 + 50 * MIN, 40, 60.0, 0.3)  # silent 30-50 min
    raised = detect_machine({"vibration": vib, "temperature": temp}, [(T0, anomaly.RUNNING)])
    faults = [r for r in raised if r.kind == anomaly.SENSOR_FAULT]
    assert len(faults) == 1 and faults[0].sensor == "temperature" and faults[0].detail == anomaly.SILENT
    last = T0 + 30 * MIN - 1000  # the last reading before the silence
    assert 5 * MIN <= faults[0].at_ms - last <= 5 * MIN + 5_000  # batches span 5 s
    assert [r for r in raised if r.kind != anomaly.SENSOR_FAULT] == []  # no spike once it is back


def test_silence_while_the_machine_is_stopped_is_not_a_fault() -> None:
    statuses = [(T0, anomaly.RUNNING), (T0 + 30 * MIN, anomaly.DOWN)]
    vib = _noise(1, T0, 90, 2.0)  # vibration keeps reporting
    temp = _noise(2, T0, 30, 60.0, 0.3)
    raised = detect_machine({"vibration": vib, "temperature": temp}, statuses)
    assert [r for r in raised if r.kind == anomaly.SENSOR_FAULT] == []


def test_out_of_range_readings_are_a_sensor_fault_not_a_threshold_alarm() -> None:
    readings = _noise(1, T0, 30, 2.0) + [(T0 + 30 * MIN + i * 1000, 250.0) for i in range(20)]
    readings += _noise(2, T0 + 31 * MIN, 20, 2.0)
    _, signals = anomaly.fold(None, SPEC, readings)
    kinds = [(s.kind, s.active, s.detail) for s in signals]
    assert kinds == [
        (anomaly.SENSOR_FAULT, True, anomaly.OUT_OF_RANGE),
        (anomaly.SENSOR_FAULT, False, None),
    ]


def _bursts(gaps_min: list[float], strength: float) -> list[tuple[int, float]]:
    rng = random.Random(9)
    starts, t = [], 60.0
    for gap in gaps_min:
        starts.append(t)
        t += gap
    out = []
    for i in range(int((t + 10) * 60)):
        minute = i / 60
        sigma = 0.1 * (strength if any(s <= minute < s + 1.5 for s in starts) else 1)
        out.append((T0 + i * 1000, round(rng.gauss(2.0, sigma), 4)))
    return out


def test_bursts_ever_more_often_are_an_intermittent_fault_a_lone_burst_is_not() -> None:
    _, growing = anomaly.fold(None, SPEC, _bursts([40, 30, 20, 12, 8, 5, 4], 6))
    assert anomaly.INTERMITTENT in {s.kind for s in _alarms(growing)}
    _, lone = anomaly.fold(None, SPEC, _bursts([300], 6))
    assert _alarms(lone) == []


def test_slow_wear_over_days_is_flagged_hours_ahead() -> None:
    """Vibration rising from 2 to 7.1 mm/s over three days, running around the clock."""
    rng = random.Random(5)
    days = 3
    readings = [
        (T0 + i * 10_000, round(2.0 + 5.1 * i / (days * 8640) + rng.gauss(0, 0.1), 4))
        for i in range(days * 8640)
    ]
    _, signals = anomaly.fold(None, SPEC, readings)
    wear = [s for s in signals if s.kind == anomaly.WEAR and s.active]
    assert wear, "multi-day rise never flagged"
    failure = T0 + days * 86_400_000
    assert failure - wear[0].at_ms >= 3 * 3_600_000


def test_a_load_step_on_one_sensor_lets_the_others_settle() -> None:
    """Vibration steps up with the load; temperature follows with a first-order rise."""
    rng = random.Random(6)
    vib, temp = [], []
    for i in range(120 * 60):
        t = T0 + i * 1000
        stepped = i >= 60 * 60
        vib.append((t, round(rng.gauss(3.0 if stepped else 2.0, 0.1), 4)))
        level = 60.0 + (20 * (1 - math.exp(-(i - 3600) / 900)) if stepped else 0.0)
        temp.append((t, round(rng.gauss(level, 0.3), 4)))
    raised = detect_machine({"vibration": vib, "temperature": temp}, [(T0 - 60 * MIN, anomaly.RUNNING)])
    assert [r.kind for r in raised if r.kind in anomaly.ALARM_KINDS] == []
    assert ("vibration", anomaly.SHIFT) in {(r.sensor, r.kind) for r in raised}


def test_silence_is_raised_at_the_same_moment_however_readings_are_batched() -> None:
    """Replays must equal the live run: the alarm's time may not depend on batch boundaries."""
    vib = _noise(1, T0, 90, 2.0)
    temp = _noise(2, T0, 30, 60.0, 0.3) + _noise(3, T0 + 50 * MIN, 40, 60.0, 0.3)
    runs = [
        detect_machine({"vibration": vib, "temperature": temp}, [(T0, anomaly.RUNNING)], batch_ms=batch)
        for batch in (1_000, 5_000, 60_000, 7 * MIN)
    ]
    faults = [
        [(r.kind, r.sensor, r.at_ms) for r in raised if r.kind == anomaly.SENSOR_FAULT] for raised in runs
    ]
    assert faults[0] == [(anomaly.SENSOR_FAULT, "temperature", T0 + 30 * MIN - 1000 + 5 * MIN)]
    assert faults[1] == faults[0] and faults[2] == faults[0] and faults[3] == faults[0]
