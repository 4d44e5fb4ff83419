"""`shopfloor evaluate`: replay ground-truth machines through the detector and score it per family.

A machine has a vibration and a temperature sensor and a status timeline; its readings are fed in
consumer-sized batches exactly as the store does (fold the sensors that reported, `tick` the ones
that did not, with the newest reading of the batch as the clock). Scoring is against the scenario's
ground truth only:

- healthy families: every alarm is false, whatever its kind; notes (level shifts, spike clusters)
  are counted apart, as they never reach an operator;
- sensor faults: the sensor-fault alarm must come within 10 minutes of the fault; any spike (note or
  alarm) on that sensor in the hour after it recovers is a false spike; other alarms are false;
- failures: flagged when an alarm on the failing sensor comes at least 15 minutes before failure
  (after the degradation began); alarms before it began are false.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from shopfloor.projections import anomaly
from shopfloor.simulator import scenarios

SENSORS = scenarios.MACHINE_SENSORS
T0_MS = 1_795_000_000_000
BATCH_MS = 5_000  # event time per batch: a consumer batch spans seconds of a busy plant
TARGET_SHARE, TARGET_MEDIAN_MIN, TARGET_FALSE = 0.90, 20.0, 0.5
LEAD_REQUIRED_MIN = 15.0
FAULT_WITHIN_MIN = 10.0
AFTER_RECOVERY_MS = 60 * 60_000
FAILURE_KINDS = (anomaly.PREDICTIVE, anomaly.WEAR, anomaly.INTERMITTENT, anomaly.THRESHOLD)
LEGACY_HEALTHY = (scenarios.NOISE_BURST, scenarios.STEP)
WEAR_DAYS = (2.0, 4.0)
TUNED_SEEDS = "7"  # the seed the detector's constants were chosen on; reports use others

SpecFor = Callable[[str, str], anomaly.SensorSpec]


@dataclass
class Raised:
    kind: str
    at_ms: int
    sensor: str = ""
    detail: str | None = None


@dataclass
class Family:
    name: str
    group: str  # healthy, sensor fault, failure
    cases: int = 0
    machine_days: float = 0.0
    false_alarms: int = 0
    false_by_kind: dict[str, int] = field(default_factory=dict)
    notes: int = 0
    leads_min: list[float] = field(default_factory=list)
    missed: int = 0
    false_spikes: int = 0

    @property
    def flagged(self) -> int:
        limit = FAULT_WITHIN_MIN if self.group == "sensor fault" else None
        if limit is not None:
            return sum(1 for lead in self.leads_min if lead <= limit)
        return sum(1 for lead in self.leads_min if lead >= LEAD_REQUIRED_MIN)

    @property
    def flagged_share(self) -> float:
        return self.flagged / self.cases if self.cases else 0.0

    @property
    def median_lead(self) -> float:
        return statistics.median(self.leads_min) if self.leads_min else 0.0

    @property
    def p10_lead(self) -> float:
        ordered = sorted(self.leads_min + [0.0] * self.missed)
        if not ordered:
            return 0.0
        return ordered[max(0, round(0.1 * (len(ordered) - 1)))]

    @property
    def false_per_machine_day(self) -> float:
        return self.false_alarms / self.machine_days if self.machine_days else 0.0

    def false_alarm(self, kind: str) -> None:
        self.false_alarms += 1
        self.false_by_kind[kind] = self.false_by_kind.get(kind, 0) + 1


@dataclass
class Report:
    rate_hz: float
    seed: int
    families: dict[str, Family] = field(default_factory=dict)

    def family(self, name: str, group: str) -> Family:
        return self.families.setdefault(name, Family(name, group))

    def of(self, group: str) -> list[Family]:
        return [f for f in self.families.values() if f.group == group]

    @property
    def healthy_false_per_machine_day(self) -> float:
        healthy = self.of("healthy")
        days = sum(f.machine_days for f in healthy)
        return sum(f.false_alarms for f in healthy) / days if days else 0.0

    @property
    def all_false_per_machine_day(self) -> float:
        days = sum(f.machine_days for f in self.families.values())
        return sum(f.false_alarms for f in self.families.values()) / days if days else 0.0

    @property
    def failure_share(self) -> float:
        failures = self.of("failure")
        cases = sum(f.cases for f in failures)
        return sum(f.flagged for f in failures) / cases if cases else 0.0

    @property
    def failure_median_lead(self) -> float:
        leads = [lead for f in self.of("failure") for lead in f.leads_min]
        return statistics.median(leads) if leads else 0.0

    @property
    def faults_share(self) -> float:
        faults = self.of("sensor fault")
        cases = sum(f.cases for f in faults)
        return sum(f.flagged for f in faults) / cases if cases else 0.0

    @property
    def false_spikes(self) -> int:
        return sum(f.false_spikes for f in self.families.values())

    def misses(self) -> list[str]:
        """Every target not met, in words (empty: all met)."""
        missed = []
        if self.healthy_false_per_machine_day > TARGET_FALSE:
            missed.append(
                f"healthy alarms {self.healthy_false_per_machine_day:.2f}/machine-day > {TARGET_FALSE}"
            )
        if self.failure_share < TARGET_SHARE:
            missed.append(f"failures flagged {self.failure_share:.0%} < {TARGET_SHARE:.0%}")
        if self.failure_median_lead < TARGET_MEDIAN_MIN:
            missed.append(f"median lead {self.failure_median_lead:.1f} min < {TARGET_MEDIAN_MIN:.0f}")
        if self.faults_share < 1.0:
            missed.append(
                f"sensor faults reported within {FAULT_WITHIN_MIN:.0f} min: {self.faults_share:.0%}"
            )
        if self.false_spikes:
            missed.append(f"{self.false_spikes} false spikes after a sensor recovered")
        return missed

    def passed(self) -> bool:
        return not self.misses()


def default_spec(equipment_id: str, sensor: str) -> anomaly.SensorSpec:
    return anomaly.spec_for(sensor)


def detect(sensor: str, readings: list[tuple[int, float]]) -> list[Raised]:
    """One sensor alone, status unknown (judged as running): every alarm or note raised."""
    return detect_machine({sensor: readings}, [])


def detect_machine(
    readings: dict[str, list[tuple[int, float]]],
    statuses: list[tuple[int, str]],
    spec_of: SpecFor = default_spec,
    equipment_id: str = "M",
    batch_ms: int = BATCH_MS,
) -> list[Raised]:
    """Feeds a machine's readings in batches the way the store does; returns what was raised."""
    merged = sorted((t, sensor, v) for sensor, rows in readings.items() for t, v in rows)
    specs = {sensor: spec_of(equipment_id, sensor) for sensor in readings}
    states: dict[str, anomaly.DetectorState | None] = dict.fromkeys(readings)
    raised: list[Raised] = []
    active: set[tuple[str, str]] = set()
    status_at = 0
    start = 0
    while start < len(merged):
        end = start
        cut = merged[start][0] - merged[start][0] % batch_ms + batch_ms
        while end < len(merged) and merged[end][0] < cut:
            end += 1
        chunk = merged[start:end]
        start = end
        now = chunk[-1][0]
        first = status_at
        while status_at < len(statuses) and statuses[status_at][0] <= now:
            status_at += 1
        context = statuses[max(0, first - 1) : status_at]
        grouped: dict[str, list[tuple[int, float]]] = {}
        for t, sensor, value in chunk:
            grouped.setdefault(sensor, []).append((t, value))
        states, signals = anomaly.fold_machine(states, specs, grouped, context, now)
        for sensor, signal in signals:
            key = (sensor, signal.kind)
            if signal.active and key not in active:
                raised.append(Raised(signal.kind, signal.at_ms, sensor, signal.detail))
                active.add(key)
            elif not signal.active:
                active.discard(key)
    return raised


def _legacy_machine(kind: str, seed: int, days: float, rate_hz: float) -> scenarios.Machine:
    """The older per-sensor scenarios (noise bursts, steps) on a machine running around the clock."""
    duration = int(days * scenarios.DAY_MS)
    machine = scenarios.Machine(kind, end_ms=T0_MS + duration)
    for s, sensor in enumerate(SENSORS):
        series = scenarios.series(
            kind, sensor, seed=seed + s, start_ms=T0_MS, duration_ms=duration, rate_hz=rate_hz
        )
        machine.readings[sensor] = series.readings
    return machine


def _score(family: Family, machine: scenarios.Machine, alarms: Iterable[Raised]) -> None:
    family.cases += 1
    healthy_until = machine.end_ms
    if machine.degradation_start_ms is not None:
        healthy_until = machine.degradation_start_ms
    family.machine_days += (healthy_until - T0_MS) / scenarios.DAY_MS
    lead: float | None = None
    for alarm in alarms:
        if alarm.kind in anomaly.NOTE_KINDS:
            family.notes += 1
            if alarm.kind == anomaly.SPIKE and _after_recovery(alarm, machine):
                family.false_spikes += 1
            continue
        fault = next(
            (
                f
                for f in machine.faults
                if alarm.kind == anomaly.SENSOR_FAULT
                and alarm.sensor == f.sensor
                and f.start_ms <= alarm.at_ms <= f.end_ms + 60_000
            ),
            None,
        )
        if fault is not None:
            if lead is None:
                lead = (alarm.at_ms - fault.start_ms) / 60_000
            continue
        if machine.failure_ms is not None and alarm.at_ms >= healthy_until:
            if alarm.sensor == machine.failing_sensor and alarm.kind in FAILURE_KINDS and lead is None:
                lead = max(0.0, (machine.failure_ms - alarm.at_ms) / 60_000)
            continue
        family.false_alarm(alarm.kind)
    if machine.faults or machine.failure_ms is not None:
        if lead is None:
            family.missed += 1
        else:
            family.leads_min.append(round(lead, 1))


def _after_recovery(alarm: Raised, machine: scenarios.Machine) -> bool:
    return any(
        f.sensor == alarm.sensor and f.end_ms <= alarm.at_ms <= f.end_ms + AFTER_RECOVERY_MS
        for f in machine.faults
    )


def evaluate(
    *,
    machines: int = 10,
    failures: int = 20,
    faults: int = 10,
    rate_hz: float = 1.0,
    seed: int = 2002,
    days: float = 1.0,
    spec_of: SpecFor = default_spec,
    progress: Callable[[str], None] | None = None,
    batch_ms: int = BATCH_MS,
    wear_days: tuple[float, float] = WEAR_DAYS,
) -> Report:
    """`machines` healthy machine-days per healthy family, `faults` per sensor-fault family and
    `failures` per failure family (wear runs 2-4 days to failure)."""
    report = Report(rate_hz=rate_hz, seed=seed)

    def case(name: str, group: str, case_seed: int, m: int) -> scenarios.Machine:
        """Healthy and sensor-fault machines run `days`; failures a day (wear 2-4 days, by case)."""
        if name in LEGACY_HEALTHY:
            return _legacy_machine(name, case_seed, days, rate_hz)
        span = days
        if group == "failure":
            low, high = wear_days
            span = low + (high - low) * (m % 5) / 4 if name == scenarios.WEAR else 1.0
        return scenarios.machine(name, seed=case_seed, start_ms=T0_MS, days=span, rate_hz=rate_hz)

    # group, its families, cases per family, the seed multiplier that keeps every case's seed apart
    plan = (
        ("healthy", scenarios.HEALTHY_FAMILIES + LEGACY_HEALTHY, machines, 1_000_003),
        ("sensor fault", scenarios.SENSOR_FAULT_FAMILIES, faults, 2_000_003),
        ("failure", scenarios.FAILURE_FAMILIES, failures, 3_000_017),
    )
    for group, names, cases, multiplier in plan:
        for k, name in enumerate(names):
            for m in range(cases):
                machine = case(name, group, seed * multiplier + k * 10_007 + m, m)
                alarms = detect_machine(machine.readings, machine.statuses, spec_of, batch_ms=batch_ms)
                _score(report.family(name, group), machine, alarms)
            if progress:
                progress(name)
    return report


def table(report: Report) -> list[str]:
    """The per-family table as Markdown rows."""
    rows = [
        "| family | kind | cases | flagged | median lead | p10 lead "
        "| false alarms / machine-day | notes / machine-day |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for f in report.families.values():
        if f.group == "healthy":
            flagged, median_lead, p10 = "", "", ""
        elif f.group == "sensor fault":
            flagged = f"{f.flagged_share:.0%} within {FAULT_WITHIN_MIN:.0f} min"
            median_lead, p10 = f"{f.median_lead:.1f} min to report", ""
        else:
            flagged = f"{f.flagged_share:.0%} ≥ {LEAD_REQUIRED_MIN:.0f} min ahead"
            median_lead, p10 = f"{f.median_lead:.1f} min", f"{f.p10_lead:.1f} min"
        notes = f.notes / f.machine_days if f.machine_days else 0.0
        days = (
            f"{f.false_per_machine_day:.2f} ({f.false_alarms} in {f.machine_days:.1f})"
            if f.machine_days
            else "–"
        )
        rows.append(
            f"| {f.name} | {f.group} | {f.cases} | {flagged} | {median_lead} | {p10} | {days} | {notes:.1f} |"
        )
    return rows


def summary(report: Report) -> str:
    return (
        f"healthy alarms {report.healthy_false_per_machine_day:.2f}/machine-day; "
        f"failures flagged >=15 min ahead {report.failure_share:.0%}, median lead "
        f"{report.failure_median_lead:.1f} min; sensor faults within 10 min {report.faults_share:.0%}; "
        f"false spikes after recovery {report.false_spikes}"
    )


def render(report: Report, command: str) -> str:
    """The report as Markdown (docs/anomaly-evaluation.md)."""
    verdict = "all targets met" if report.passed() else "TARGETS NOT MET: " + "; ".join(report.misses())
    false_kinds: dict[str, int] = {}
    for f in report.families.values():
        for kind, n in f.false_by_kind.items():
            false_kinds[kind] = false_kinds.get(kind, 0) + n
    lines = [
        "# Alarms and failure prediction: evaluation",
        "",
        f"Produced by `{command}` on seed {report.seed}, held out: the detector's constants were chosen "
        f"on seeds {TUNED_SEEDS}. Deterministic: same seed, same figures. {verdict}.",
        "",
        "| target | result |",
        "|---|---|",
        f"| ≤ {TARGET_FALSE} alarms per machine-day on healthy operation (all kinds) | "
        f"{report.healthy_false_per_machine_day:.2f} |",
        f"| ≥ {TARGET_SHARE:.0%} of failures flagged ≥ {LEAD_REQUIRED_MIN:.0f} min ahead "
        f"| {report.failure_share:.0%} |",
        f"| median lead ≥ {TARGET_MEDIAN_MIN:.0f} min | {report.failure_median_lead:.1f} min |",
        f"| 100 % of stuck/silent sensors reported within {FAULT_WITHIN_MIN:.0f} min "
        f"| {report.faults_share:.0%} |",
        f"| zero false spikes after a sensor recovers | {report.false_spikes} |",
        "",
        "## Per family",
        "",
        *table(report),
        "",
        "False alarms by kind (all families): "
        + (", ".join(f"{k} {v}" for k, v in sorted(false_kinds.items())) or "none")
        + ". Notes (level shifts, spike clusters) are recorded on the trend and never raised as alarms.",
        "",
        "## What was replayed",
        "",
        f"Readings at {report.rate_hz:g} Hz per sensor; each machine has a vibration and a temperature "
        "sensor and reports its status (RUNNING/IDLE).",
        "",
        "- `multi_shift`: three 8-hour shifts, each starting with a stop and a restart at a new load "
        "(0.7–1.15), a 20–30 min break, a 15–40 min changeover and a load step while running; "
        "temperature follows load with a 15-minute time constant (warm-up after each restart) on a daily "
        "ambient cycle (±1–3 °C); vibration follows load and drops when idle.",
        "- `noisy`: the same with 2.5–4× the noise and three bursts of noise a day (3–8×).",
        "- `load_steps`: running around the clock, load changing every 1–3 h (0.6–1.15).",
        "- `ambient`: running around the clock with a ±5–8 °C daily ambient cycle.",
        "- `noise_burst`, `step`: the older per-sensor scenarios (bursts; 6–12 σ steps), running "
        "continuously.",
        "- `stuck`: one sensor repeats one value for 20–180 min, starting while the machine runs.",
        "- `silent`: one sensor sends nothing for 20–60 min while the other keeps reporting.",
        "- `degradation`: 3–5 h of healthy running, then a rise to the limit over 60–240 min shaped "
        "like progressᵖ (p in 1–2.5), with noise growing.",
        "- `intermittent`: bursts of vibration over the last 3–6 h before failure, 40–60 min apart "
        "at first and minutes apart at the end, growing from 3× to 12× the noise.",
        "- `wear`: 2–4 days of multi-shift operation while the running level rises to the limit "
        "(progressᵖ, p in 1–2.5); failure when the running level crosses it.",
        "",
        "## Limits of this evaluation",
        "",
        "The scenarios are synthetic, and the families were written by the same hands as the detector: "
        "held-out seeds guard against tuning to particular random draws, not against shapes the "
        "generator never makes. Real sensors need their limits and noise checked (see docs/alarms.md "
        "for the configuration file). A failure that develops in minutes can only be caught by the "
        "threshold alarm. Healthy machines run one day each, so false multi-day wear alarms on long "
        "healthy runs are not measured.",
        "",
    ]
    return "\n".join(lines)


def write(report: Report, path: Path, command: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(report, command))
