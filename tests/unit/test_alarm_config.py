"""Alarm limits and priorities from a TOML file and the environment; bad configuration fails clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopfloor import alarm_config
from shopfloor.alarm_config import AlarmConfigError

TOML = """
[defaults]
silent_seconds = 600

[kinds.temperature]
limit = 90.0
priority = "high"
deadband = 0.05

[machines."OVEN-1"]
priority = "critical"

[machines."OVEN-1".sensors.temperature]
limit = 250.0
physical_max = 600.0
warmup_minutes = 90
"""


def test_resolution_kind_then_machine_then_sensor_then_environment(tmp_path: Path) -> None:
    path = tmp_path / "alarms.toml"
    path.write_text(TOML)
    config = alarm_config.load(path, env={"SHOPFLOOR_ALARM_LIMITS": "OVEN-1/vibration=3.5"})
    press = config.spec("PRESS-2", "temperature")
    assert (press.limit, press.priority, press.deadband, press.silent_s) == (90.0, "high", 0.05, 600.0)
    oven = config.spec("OVEN-1", "temperature")
    assert (oven.limit, oven.priority, oven.physical_max, oven.warmup_s) == (250.0, "critical", 600.0, 5400.0)
    assert config.spec("OVEN-1", "vibration").limit == 3.5  # environment beats the file
    assert config.spec("PRESS-2", "vibration").limit == 7.1  # built-in


def test_environment_priorities_and_silence() -> None:
    env = {"SHOPFLOOR_ALARM_PRIORITIES": "vibration=low", "SHOPFLOOR_ALARM_SILENT_SECONDS": "120"}
    config = alarm_config.load(None, env=env)
    assert config.spec("M-1", "vibration").priority == "low"
    assert config.spec("M-1", "temperature").silent_s == 120.0


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ("[kinds.temperature]\nlimt = 90\n", {}, "kinds.temperature.limt"),
        ('[kinds.temperature]\npriority = "urgent"\n', {}, "kinds.temperature.priority"),
        ("[kinds.vibration]\nphysical_min = 5\nphysical_max = 1\n", {}, "physical_min must be below"),
        ("[kinds.vibration\n", {}, "not valid TOML"),
        ("", {"SHOPFLOOR_ALARM_PRIORITIES": "vibration=urgent"}, "environment"),
        ("", {"SHOPFLOOR_ALARM_LIMITS": "vibration"}, "expected KEY=VALUE"),
        ("", {"SHOPFLOOR_ALARM_SILENT_SECONDS": "soon"}, "not a number"),
    ],
)
def test_invalid_configuration_is_a_clear_error(
    tmp_path: Path, text: str, env: dict[str, str], message: str
) -> None:
    path = tmp_path / "alarms.toml"
    path.write_text(text)
    with pytest.raises(AlarmConfigError, match=message.replace(".", r"\.")):
        alarm_config.load(path, env=env)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(AlarmConfigError, match="file not found"):
        alarm_config.load(tmp_path / "nope.toml", env={})
