"""The anomaly detector on synthetic series: one test per scenario kind, plus hysteresis and purity."""

from __future__ import annotations

import dataclasses
import json
import math

from shopfloor.evaluation import detect
from shopfloor.projections import anomaly
from shopfloor.simulator import scenarios

T0 = 1_795_000_000_000
HOUR = 3_600_000


def _kinds(alerts: list) -> set[str]:  # type: ignore[type-arg]
    return {a.kind for a in alerts}


def _series(kind: str, sensor: str = "vibration", seed: int = 3, hours: float = 12) -> scenarios.Series:
    return scenarios.series(kind, sensor, seed=seed, start_ms=T0, duration_ms=int(hours * HOUR), rate_hz=1)


def test_normal_noise_raises_nothing() -> None:
    for sensor in ("vibration", "temperature"):
        series = _series(scenarios.NORMAL, sensor)
        assert detect(sensor, series.readings) == []


def test_noise_bursts_never_predict_a_failure() -> None:
    series = _series(scenarios.NOISE_BURST, seed=5, hours=24)
    alerts = detect("vibration", series.readings)
    assert not _kinds(alerts) & {anomaly.PREDICTIVE, anomaly.THRESHOLD}
    for alert in alerts:  # any spike alert falls inside a burst (or just after it)
        assert any(e.start_ms - 60_000 <= alert.at_ms <= e.end_ms + 30 * 60_000 for e in series.episodes)


def test_step_change_is_a_level_shift_not_a_trend() -> None:
    series = _series(scenarios.STEP, seed=11, hours=24)
    alerts = detect("vibration", series.readings)
    assert anomaly.SHIFT in _kinds(alerts)
    assert anomaly.PREDICTIVE not in _kinds(alerts)
    first_step = series.episodes[0].start_ms
    shift = next(a for a in alerts if a.kind == anomaly.SHIFT)
    assert 0 <= shift.at_ms - first_step <= 5 * 60_000


def test_dropouts_raise_only_a_silent_sensor_fault_when_longer_than_the_silence_limit() -> None:
    series = _series(scenarios.DROPOUT, seed=2, hours=24)
    assert series.episodes
    silent_s = anomaly.spec_for("temperature").silent_s
    raised = detect("temperature", series.readings)
    long_gaps = [e for e in series.episodes if (e.end_ms - e.start_ms) / 1000 > silent_s + 1]
    assert [(a.kind, a.detail) for a in raised] == [(anomaly.SENSOR_FAULT, anomaly.SILENT)] * len(long_gaps)
    for alarm, gap in zip(raised, long_gaps, strict=True):  # dated when the sensor fell silent
        assert -1000 <= alarm.at_ms - gap.start_ms - silent_s * 1000 <= 0  # last reading + limit


def test_slow_degradation_is_predicted_at_least_15_minutes_ahead() -> None:
    for seed in range(4):
        series = _series(scenarios.DEGRADATION, seed=seed, hours=24)
        failure = series.episodes[0].failure_ms
        assert failure is not None
        alerts = detect("vibration", series.readings)
        predictive = [a for a in alerts if a.kind == anomaly.PREDICTIVE]
        assert predictive, f"seed {seed}: failure never predicted"
        assert failure - predictive[0].at_ms >= 15 * 60_000
        assert predictive[0].at_ms >= series.episodes[0].start_ms


def test_prediction_carries_time_to_limit_and_its_evidence() -> None:
    series = _series(scenarios.DEGRADATION, seed=1, hours=24)
    state, signals = anomaly.fold(None, anomaly.spec_for("vibration"), series.readings)
    updates = [s for s in signals if s.kind == anomaly.PREDICTIVE and s.active]
    assert len(updates) > 3  # opened, then kept current every minute
    assert all(u.ttl_s is not None and u.evidence for u in updates)
    assert updates[-1].ttl_s < updates[0].ttl_s  # type: ignore[operator]
    assert state.predict_on


def test_threshold_has_hysteresis() -> None:
    spec = anomaly.SensorSpec(10.0)
    warm = [(T0 + i * 1000, 5.0 + (i % 7) * 0.01) for i in range(600)]
    state, signals = anomaly.fold(None, spec, warm)
    t = T0 + 600_000
    over = [(t + i * 1000, 10.5) for i in range(4)]
    state, signals = anomaly.fold(state, spec, over)
    assert not [s for s in signals if s.kind == anomaly.THRESHOLD]  # four readings over: not yet
    state, signals = anomaly.fold(state, spec, [(t + 5000, 10.4)])
    assert [(s.kind, s.active) for s in signals if s.kind == anomaly.THRESHOLD] == [(anomaly.THRESHOLD, True)]
    hovering = [(t + 6000 + i * 1000, 9.9) for i in range(30)]  # under the limit, inside the deadband
    state, signals = anomaly.fold(state, spec, hovering)
    assert not [s for s in signals if s.kind == anomaly.THRESHOLD]
    back = [(t + 40_000 + i * 1000, 5.0) for i in range(10)]
    state, signals = anomaly.fold(state, spec, back)
    assert [(s.kind, s.active) for s in signals if s.kind == anomaly.THRESHOLD] == [
        (anomaly.THRESHOLD, False)
    ]


def test_fold_is_pure_and_batch_boundaries_do_not_matter() -> None:
    readings = _series(scenarios.DEGRADATION, seed=2, hours=24).readings
    spec = anomaly.spec_for("vibration")
    whole, whole_signals = anomaly.fold(None, spec, readings)
    state, chunked = None, []
    for start in range(0, len(readings), 777):
        state, signals = anomaly.fold(state, spec, readings[start : start + 777])
        chunked.extend(signals)
        state = anomaly.from_json(anomaly.to_json(state))  # what the store keeps between batches
    assert state == whole
    assert chunked == whole_signals
    assert anomaly.to_json(state) == anomaly.to_json(whole)


def test_a_stored_state_reads_back_as_it_was_non_finite_floats_included() -> None:
    readings = _series(scenarios.DEGRADATION, seed=2, hours=6).readings
    state, _ = anomaly.fold(None, anomaly.spec_for("vibration"), readings)
    assert state is not None and state.history and state.ref is not None
    text = anomaly.to_json(state)
    # the stdlib's own encoding of the same fields: the store's rows are plain JSON arrays
    assert json.loads(text) == json.loads(json.dumps(anomaly._FIELDS(state)))
    assert anomaly.from_json(text) == state
    # a float that JSON cannot write as a number (a slope of almost nothing: a time to the limit of
    # infinity) must not come back as None, nor as anything but itself
    far = dataclasses.replace(state, ttl_s=math.inf, history=((1, -math.inf), *state.history[1:]))
    back = anomaly.from_json(anomaly.to_json(far))
    assert back is not None and back.ttl_s == math.inf and back.history[0] == (1, -math.inf)
    assert back == far
    odd = dataclasses.replace(state, ref=math.nan)
    assert math.isnan(anomaly.from_json(anomaly.to_json(odd)).ref)  # type: ignore[union-attr, arg-type]
