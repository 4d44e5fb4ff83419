"""JSON Schema for the CloudEvents envelope and for every event type's `data`, from the pydantic models.

The committed files under `contracts/schemas/` are what producers may rely on; `check` compares the
current models against them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shopfloor.events.models import EVENT_TYPES

ENVELOPE = "envelope"
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def envelope_model() -> type[BaseModel]:
    """The structured-mode CloudEvent as the codec accepts it (extensions allowed)."""
    type_names = Literal[tuple(sorted(EVENT_TYPES))]  # type: ignore[valid-type]

    class CloudEvent(BaseModel):
        model_config = ConfigDict(extra="allow", title="CloudEvent")
        specversion: Literal["1.0"]
        id: str = Field(min_length=1, max_length=500)
        type: type_names  # type: ignore[valid-type]
        source: str = Field(min_length=1, max_length=500)
        time: str = Field(json_schema_extra={"format": "date-time"})
        subject: str | None = Field(default=None, max_length=500)
        datacontenttype: str | None = None
        correlationid: str | None = Field(default=None, max_length=500)
        sequence: int | str | None = Field(default=None, json_schema_extra={"pattern": "^-?[0-9]+$"})
        data: dict[str, Any]

    return CloudEvent


def current_schemas() -> dict[str, dict[str, Any]]:
    """Name -> JSON Schema: `envelope` plus one per event type (its `data` object)."""
    schemas = {ENVELOPE: _with_header(envelope_model().model_json_schema(), ENVELOPE)}
    for name, model in sorted(EVENT_TYPES.items()):
        schemas[name] = _with_header(model.model_json_schema(), name)
    return schemas


def _with_header(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return {"$schema": SCHEMA_DIALECT, "$id": f"shopfloor/{name}.json", **schema}


def render(schema: dict[str, Any]) -> str:
    """Stable text, so re-exporting unchanged models changes no committed byte."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def export(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in current_schemas().items():
        path = directory / f"{name}.json"
        path.write_text(render(schema))
        written.append(path)
    return written


def load(directory: Path) -> dict[str, dict[str, Any]]:
    return {path.stem: json.loads(path.read_text()) for path in sorted(directory.glob("*.json"))}
