"""Machines on lines reporting their sensors, with occasional degradations that end in failure.

Each step is one machine reporting all its sensors (so `rate` = events per second / sensors per
machine). Every `degrade_every_s` a healthy machine starts degrading one sensor toward its limit;
when it gets there the machine goes DOWN, is repaired (MAINTENANCE), and runs again.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from shopfloor.events.codec import cloud_event
from shopfloor.projections.anomaly import spec_for
from shopfloor.simulator.base import Produced
from shopfloor.simulator.scenarios import PROFILES

SENSORS = ("temperature", "vibration", "power", "pressure", "current")
DEGRADING = ("vibration", "temperature")


@dataclass
class _Machine:
    equipment_id: str
    line_id: str
    base: dict[str, float]
    phase: float
    status: str = ""
    sequence: int = 0
    degrading: tuple[str, datetime, datetime, float] | None = None  # sensor, start, failure, exponent
    back_at: datetime | None = None
    repair_stage: int = 0


class SensorTraffic:
    def __init__(
        self,
        equipment_topic: str,
        sensor_topic: str,
        *,
        rate: float = 1000.0,
        machines: int = 200,
        lines: int = 20,
        degrade_every_s: float = 600.0,
        degrade_minutes: tuple[float, float] = (30.0, 90.0),
        warmup_s: float = 600.0,
        overshoot: float = 0.02,
        exponents: tuple[float, float] = (1.0, 2.0),
        seed: int | None = None,
        source: str = "iot/simulator",
    ) -> None:
        self._rng = random.Random(seed)
        self.rate = rate / len(SENSORS)
        self._equipment_topic = equipment_topic
        self._sensor_topic = sensor_topic
        self._machines = [
            _Machine(
                f"M-{i + 1:03d}",
                f"L{i % lines + 1}",
                {s: self._rng.uniform(PROFILES[s].base_low, PROFILES[s].base_high) for s in SENSORS},
                self._rng.uniform(0, 2 * math.pi),
            )
            for i in range(machines)
        ]
        self._next = 0
        self._degrade_every = timedelta(seconds=degrade_every_s)
        self._degrade_minutes = degrade_minutes
        self._warmup = timedelta(seconds=warmup_s)
        self._overshoot = overshoot  # how far past its limit a sensor is when the machine fails
        self._exponents = exponents  # shape of the climb: 1 linear, 2 slow then fast
        self._started: datetime | None = None
        self._next_degradation: datetime | None = None
        self._source = source

    def _status(self, machine: _Machine, status: str, now: datetime, reason: str | None = None) -> Produced:
        machine.status = status
        machine.sequence += 1
        data = {"equipment_id": machine.equipment_id, "status": status, "line_id": machine.line_id}
        if reason:
            data["reason"] = reason
        event = cloud_event(
            "EquipmentStatusChanged",
            data,
            source=f"{self._source}/{machine.line_id.lower()}",
            time=now,
            subject=machine.equipment_id,
            sequence=machine.sequence,
        )
        return Produced(self._equipment_topic, machine.equipment_id, event)

    def _maybe_start_degradation(self, now: datetime) -> None:
        if self._started is None:
            self._started = now
            self._next_degradation = now + self._warmup
        if self._next_degradation is None or now < self._next_degradation:
            return
        self._next_degradation = now + self._degrade_every
        healthy = [m for m in self._machines if m.degrading is None and m.status == "RUNNING"]
        if healthy:
            machine = self._rng.choice(healthy)
            minutes = self._rng.uniform(*self._degrade_minutes)
            machine.degrading = (
                self._rng.choice(DEGRADING),
                now,
                now + timedelta(minutes=minutes),
                self._rng.uniform(*self._exponents),
            )

    def _value(self, machine: _Machine, sensor: str, now: datetime) -> float:
        profile = PROFILES[sensor]
        base = machine.base[sensor]
        ms = now.timestamp() * 1000
        level = base + profile.swing * math.sin(2 * math.pi * ms / profile.swing_period_ms + machine.phase)
        noise = profile.noise
        if machine.degrading is not None and machine.degrading[0] == sensor:
            _, start, failure, exponent = machine.degrading
            progress = min(1.0, (now - start) / (failure - start))
            level += (
                (spec_for(sensor).limit or base * 2) * (1 + self._overshoot) - base
            ) * progress**exponent
            noise *= 1 + progress
        if self._rng.random() < 1 / 5000:
            noise *= 20  # the odd glitch
        return round(self._rng.gauss(level, noise), 3)

    def step(self, now: datetime) -> list[Produced]:
        self._maybe_start_degradation(now)
        machine = self._machines[self._next]
        self._next = (self._next + 1) % len(self._machines)
        if not machine.status:
            return [self._status(machine, "RUNNING", now)]
        if machine.back_at is not None:
            if now < machine.back_at:
                return []
            if machine.repair_stage == 1:
                machine.repair_stage, machine.back_at = 2, now + timedelta(seconds=60)
                return [self._status(machine, "MAINTENANCE", now, "repair")]
            machine.back_at, machine.repair_stage = None, 0
            return [self._status(machine, "RUNNING", now)]
        if machine.degrading is not None and now >= machine.degrading[2]:
            sensor = machine.degrading[0]
            machine.degrading = None
            machine.back_at, machine.repair_stage = now + timedelta(seconds=60), 1
            return [self._status(machine, "DOWN", now, f"failure: {sensor} over limit")]
        out = []
        for sensor in SENSORS:
            data = {
                "equipment_id": machine.equipment_id,
                "sensor": sensor,
                "value": self._value(machine, sensor, now),
                "unit": spec_for(sensor).unit,
            }
            event = cloud_event(
                "SensorReading", data, source=f"{self._source}/{machine.equipment_id}", time=now
            )
            out.append(Produced(self._sensor_topic, machine.equipment_id, event))
        return out
