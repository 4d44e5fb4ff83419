"""Event contracts: the committed JSON Schemas, and the BACKWARD check that guards them."""

from __future__ import annotations

import json
import subprocess
import sys
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, Field

from shopfloor.contracts.compat import check_all, incompatibilities
from shopfloor.contracts.export import current_schemas, export, load
from shopfloor.events.models import EVENT_TYPES, SensorReading, Text, WorkOrderStatusChanged
from tests.support import REPO

COMMITTED = REPO / "contracts" / "schemas"


def schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema()


def test_current_models_can_read_everything_the_committed_schemas_allow() -> None:
    committed = load(COMMITTED)
    assert set(committed) >= {"envelope", "WorkOrderStatusChanged", "InventoryAdjusted", "OrderCreated"}
    assert check_all(committed, current_schemas()) == []


def test_every_event_type_has_a_committed_schema() -> None:
    missing = set(EVENT_TYPES) - set(load(COMMITTED))
    assert not missing, f"run `shopfloor schemas export contracts/schemas` and commit: {sorted(missing)}"


class NewPlant(WorkOrderStatusChanged):
    plant: str


class OptionalPlant(WorkOrderStatusChanged):
    plant: str | None = None


class NarrowStatus(StrEnum):
    RELEASED = "RELEASED"
    COMPLETED = "COMPLETED"


class FewerStatuses(WorkOrderStatusChanged):
    status: NarrowStatus  # type: ignore[assignment]


class WiderStatus(StrEnum):
    PLANNED = "PLANNED"
    RELEASED = "RELEASED"
    IN_PROGRESS = "IN_PROGRESS"
    ON_HOLD = "ON_HOLD"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    SCRAPPED = "SCRAPPED"


class MoreStatuses(WorkOrderStatusChanged):
    status: WiderStatus  # type: ignore[assignment]


class IntegerValue(SensorReading):
    value: int  # type: ignore[assignment]


class RequiredUnit(SensorReading):
    unit: Text  # type: ignore[assignment]


class ShortId(SensorReading):
    equipment_id: str = Field(min_length=1, max_length=20)


class LongerId(SensorReading):
    equipment_id: str = Field(min_length=1, max_length=5000)


class NoLineId(BaseModel):
    work_order_id: str = Field(min_length=1, max_length=200)
    status: str


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (WorkOrderStatusChanged, NewPlant, "plant: now required (was absent"),
        (SensorReading, RequiredUnit, "unit: now required (was optional"),
        (WorkOrderStatusChanged, FewerStatuses, "no longer accepted"),
        (SensorReading, IntegerValue, "value: type narrowed"),
        (SensorReading, ShortId, "equipment_id: maxLength tightened to 20"),
        (WorkOrderStatusChanged, NoLineId, "line_id: removed"),
    ],
)
def test_breaking_changes_are_caught(old: type[BaseModel], new: type[BaseModel], expected: str) -> None:
    problems = incompatibilities(schema(old), schema(new))
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (WorkOrderStatusChanged, OptionalPlant),  # a new optional field
        (WorkOrderStatusChanged, MoreStatuses),  # a wider enum
        (SensorReading, LongerId),  # a looser limit
        (RequiredUnit, SensorReading),  # required -> optional
        (IntegerValue, SensorReading),  # integer -> number
        (WorkOrderStatusChanged, WorkOrderStatusChanged),
    ],
)
def test_compatible_changes_pass(old: type[BaseModel], new: type[BaseModel]) -> None:
    assert incompatibilities(schema(old), schema(new)) == []


def test_removing_an_event_type_is_breaking_and_adding_one_is_not() -> None:
    current = current_schemas()
    fewer = {k: v for k, v in current.items() if k != "SensorReading"}
    assert any(p.startswith("SensorReading: removed") for p in check_all(current, fewer))
    assert check_all(fewer, current) == []  # a new type widens the envelope's `type` enum


def test_check_command_fails_on_a_breaking_change(tmp_path: Path) -> None:
    directory = tmp_path / "schemas"
    export(directory)
    ok = subprocess.run(
        [sys.executable, "-m", "shopfloor", "schemas", "check", str(directory)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert ok.returncode == 0, ok.stderr
    # Pretend the committed contract allowed a work order without a status: the models now demand one.
    path = directory / "WorkOrderStatusChanged.json"
    committed = json.loads(path.read_text())
    committed["required"].remove("status")
    path.write_text(json.dumps(committed))
    broken = subprocess.run(
        [sys.executable, "-m", "shopfloor", "schemas", "check", str(directory)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert broken.returncode == 1
    assert "WorkOrderStatusChanged: status: now required" in broken.stderr
