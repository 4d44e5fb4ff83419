"""Alarm limits and priorities: built-in per sensor kind, then a TOML file, then environment overrides.

Resolution for a machine's sensor, later wins: the built-in spec of the sensor kind, `[kinds.<sensor>]`,
`[machines.<equipment_id>]` (every sensor of that machine), `[machines.<equipment_id>.sensors.<sensor>]`,
then `SHOPFLOOR_ALARM_LIMITS` / `SHOPFLOOR_ALARM_PRIORITIES` (`KEY=VALUE,...` where KEY is a sensor
kind or `<equipment_id>/<sensor>`). Anything invalid fails at start with the offending path named.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shopfloor.projections.anomaly import SensorSpec, spec_for

Priority = Literal["critical", "high", "medium", "low"]


class AlarmConfigError(ValueError):
    """The alarm configuration cannot be used; the message says where and why."""


class Limits(BaseModel):
    """One level of overrides; every field optional, unknown keys refused."""

    model_config = ConfigDict(extra="forbid")

    limit: float | None = None
    unit: str | None = None
    priority: Priority | None = None
    deadband: float | None = Field(default=None, ge=0, lt=0.5)
    horizon_minutes: float | None = Field(default=None, gt=0)
    physical_min: float | None = None
    physical_max: float | None = None
    stuck_seconds: float | None = Field(default=None, gt=0)
    silent_seconds: float | None = Field(default=None, gt=0)
    warmup_minutes: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _range(self) -> Limits:
        low, high = self.physical_min, self.physical_max
        if low is not None and high is not None and low >= high:
            raise ValueError("physical_min must be below physical_max")
        return self

    def apply(self, spec: SensorSpec) -> SensorSpec:
        changes: dict[str, Any] = {}
        for name, target, scale in (
            ("limit", "limit", 1.0),
            ("unit", "unit", None),
            ("priority", "priority", None),
            ("deadband", "deadband", 1.0),
            ("horizon_minutes", "horizon_s", 60.0),
            ("physical_min", "physical_min", 1.0),
            ("physical_max", "physical_max", 1.0),
            ("stuck_seconds", "stuck_s", 1.0),
            ("silent_seconds", "silent_s", 1.0),
            ("warmup_minutes", "warmup_s", 60.0),
        ):
            value = getattr(self, name)
            if value is not None:
                changes[target] = value * scale if scale is not None else value
        return replace(spec, **changes) if changes else spec


class MachineLimits(Limits):
    sensors: dict[str, Limits] = Field(default_factory=dict)


class AlarmFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    defaults: Limits = Field(default_factory=Limits)
    kinds: dict[str, Limits] = Field(default_factory=dict)
    machines: dict[str, MachineLimits] = Field(default_factory=dict)


class AlarmConfig:
    """Resolves the spec of each (machine, sensor), memoised: configuration does not change while running."""

    def __init__(self, file: AlarmFile | None = None, overrides: Mapping[str, Limits] | None = None) -> None:
        self.file = file or AlarmFile()
        self.overrides = dict(overrides or {})
        self._cache: dict[tuple[str, str], SensorSpec] = {}

    def spec(self, equipment_id: str, sensor: str) -> SensorSpec:
        key = (equipment_id, sensor)
        found = self._cache.get(key)
        if found is None:
            found = self._resolve(equipment_id, sensor)
            self._cache[key] = found
        return found

    def _resolve(self, equipment_id: str, sensor: str) -> SensorSpec:
        spec = self.file.defaults.apply(spec_for(sensor))
        if sensor in self.file.kinds:
            spec = self.file.kinds[sensor].apply(spec)
        machine = self.file.machines.get(equipment_id)
        if machine is not None:
            spec = machine.apply(spec)
            if sensor in machine.sensors:
                spec = machine.sensors[sensor].apply(spec)
        for key in (sensor, f"{equipment_id}/{sensor}"):
            if key in self.overrides:
                spec = self.overrides[key].apply(spec)
        return spec


def parse(
    data: Mapping[str, Any], env: Mapping[str, str] | None = None, source: str = "alarm config"
) -> AlarmConfig:
    """Validates a parsed TOML document plus environment overrides; raises AlarmConfigError."""
    try:
        file = AlarmFile.model_validate(data)
    except ValidationError as error:
        raise AlarmConfigError(f"{source}: {_explain(error)}") from None
    overrides: dict[str, dict[str, Any]] = {}
    env = env or {}
    for variable, field_name in (
        ("SHOPFLOOR_ALARM_LIMITS", "limit"),
        ("SHOPFLOOR_ALARM_PRIORITIES", "priority"),
    ):
        for key, value in _pairs(env.get(variable, ""), variable).items():
            overrides.setdefault(key, {})[field_name] = value
    if env.get("SHOPFLOOR_ALARM_SILENT_SECONDS"):
        file.defaults.silent_seconds = _number(
            env["SHOPFLOOR_ALARM_SILENT_SECONDS"], "SHOPFLOOR_ALARM_SILENT_SECONDS"
        )
        if file.defaults.silent_seconds <= 0:
            raise AlarmConfigError("SHOPFLOOR_ALARM_SILENT_SECONDS must be > 0")
    try:
        limits = {key: Limits.model_validate(values) for key, values in overrides.items()}
    except ValidationError as error:
        raise AlarmConfigError(f"environment: {_explain(error)}") from None
    return AlarmConfig(file, limits)


def load(path: str | Path | None, env: Mapping[str, str] | None = None) -> AlarmConfig:
    """The file at `path` (none: built-in limits only) with `env` overrides (default: os.environ)."""
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    if path:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise AlarmConfigError(f"alarm config {path}: file not found") from None
        except tomllib.TOMLDecodeError as error:
            raise AlarmConfigError(f"alarm config {path}: not valid TOML: {error}") from None
    return parse(data, env, source=f"alarm config {path}" if path else "alarm config")


def _pairs(text: str, variable: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.rpartition("=")
        if not sep or not key.strip() or not value.strip():
            raise AlarmConfigError(f"{variable}: expected KEY=VALUE, got {part[:60]!r}")
        result[key.strip()] = value.strip()
    return result


def _number(text: str, variable: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise AlarmConfigError(f"{variable}: {text[:40]!r} is not a number") from None


def _explain(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors(include_url=False)
    )


_active = AlarmConfig()


def install(config: AlarmConfig) -> None:
    """Makes `config` the one every projector in this process uses."""
    global _active
    _active = config


def active() -> AlarmConfig:
    return _active


def spec(equipment_id: str, sensor: str) -> SensorSpec:
    return _active.spec(equipment_id, sensor)
