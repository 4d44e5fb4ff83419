"""The AsyncAPI 3.0 description of every topic and event type, generated from the event models.

Each topic is a channel, each event type a message. A record is a CloudEvent in either Kafka
binding: structured (the value is the whole CloudEvent as JSON) or binary (the attributes are
`ce_*` headers and the value is the event's `data`), so a message's payload is one of the two and
its headers describe the binary binding. Generated, never edited: `shopfloor schemas asyncapi`
writes the committed copy and a test fails when it drifts from the code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from shopfloor.config import Settings
from shopfloor.contracts.export import envelope_model
from shopfloor.events.models import EVENT_TYPES

DEFAULT_PATH = Path("contracts/asyncapi.json")
VERSION = "0.1.0"
SCHEMAS = "#/components/schemas/"
KAFKA_BINDING = "0.5.0"
STRUCTURED = "application/cloudevents+json"
SENT_BY_SHOPFLOOR = frozenset({"AlertAcknowledged", "AlertShelved"})


def default_topics() -> dict[str, str]:
    """Event type -> topic with the default topic names (the environment is not read)."""
    return Settings.model_construct().event_topics()


def document(topics: dict[str, str] | None = None) -> dict[str, Any]:
    """The AsyncAPI document for `topics` (event type -> topic name); defaults when None."""
    topics = topics or default_topics()
    schemas: dict[str, Any] = {}
    envelope = _schema(envelope_model(), schemas)
    schemas["CloudEvent"] = envelope
    schemas["CloudEventHeaders"] = _headers(envelope)
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for name, model in sorted(EVENT_TYPES.items()):
        if name not in topics:
            continue
        schemas[name] = _schema(model, schemas)
        messages[name] = _message(name, model)
    for topic in sorted(set(topics.values())):
        names = sorted(n for n, t in topics.items() if t == topic and n in messages)
        key = EVENT_TYPES[names[0]].entity_field
        channels[topic] = {
            "address": topic,
            "title": topic,
            "description": f"Events of {', '.join(names)}, keyed by `{key}` (ordered per {key}). "
            f"Records that cannot be read go to `{topic}.dlq`.",
            "messages": {n: {"$ref": f"#/components/messages/{n}"} for n in names},
        }
        refs = [{"$ref": f"#/channels/{topic}/messages/{n}"} for n in names]
        operations[f"receive.{topic}"] = {
            "action": "receive",
            "title": f"Project {topic}",
            "summary": f"shopfloor consumes {topic} into its read models",
            "channel": {"$ref": f"#/channels/{topic}"},
            "messages": refs,
        }
        sent = [r for r, n in zip(refs, names, strict=True) if n in SENT_BY_SHOPFLOOR]
        if sent:
            operations[f"send.{topic}"] = {
                "action": "send",
                "title": f"Publish to {topic}",
                "summary": "shopfloor publishes a supervisor's actions from its pages",
                "channel": {"$ref": f"#/channels/{topic}"},
                "messages": sent,
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "shopfloor plant events",
            "version": VERSION,
            "description": "What producers publish to Kafka for shopfloor: one channel per topic, one "
            "message per CloudEvents `type`. Every record is a CloudEvent 1.0 in the structured or "
            "the binary Kafka binding. Unknown extra `data` fields are ignored; malformed records "
            "are dead-lettered with a reason.",
        },
        "defaultContentType": STRUCTURED,
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def _schema(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, Any]:
    """The model's JSON Schema with nested definitions moved to components/schemas."""
    schema = model.model_json_schema(ref_template=SCHEMAS + "{model}")
    schemas.update(schema.pop("$defs", {}))
    return schema


def _headers(envelope: dict[str, Any]) -> dict[str, Any]:
    """Binary binding: every attribute but `data` as a `ce_` header (required ones listed)."""
    attributes = {n: s for n, s in envelope["properties"].items() if n != "data"}
    required = [n for n in envelope["required"] if n != "data"]
    properties = {
        f"ce_{n}": {"type": "string", "description": f"CloudEvents attribute `{n}`"} for n in attributes
    }
    properties["content-type"] = {"type": "string", "description": "`application/json` (the data)"}
    return {
        "type": "object",
        "title": "CloudEvents Kafka headers (binary binding)",
        "description": "In the binary binding these headers carry the attributes and the record value "
        f"is `data`; required there: {', '.join(f'ce_{n}' for n in required)}. In the structured "
        "binding there are none and the value is the whole CloudEvent.",
        "properties": properties,
    }


def _message(name: str, model: type[BaseModel]) -> dict[str, Any]:
    key = getattr(model, "entity_field", "")
    doc = (model.__doc__ or "").strip().splitlines()
    structured = {
        "title": "structured binding: the CloudEvent",
        "allOf": [
            {"$ref": SCHEMAS + "CloudEvent"},
            {
                "type": "object",
                "properties": {"type": {"const": name}, "data": {"$ref": SCHEMAS + name}},
                "required": ["type", "data"],
            },
        ],
    }
    binary = {"title": "binary binding: the data (attributes in ce_* headers)", "$ref": SCHEMAS + name}
    return {
        "name": name,
        "title": name,
        "summary": doc[0] if doc else f"CloudEvents type `{name}`",
        "contentType": STRUCTURED,
        "headers": {"$ref": SCHEMAS + "CloudEventHeaders"},
        "payload": {"oneOf": [structured, binary]},
        "correlationId": {
            "description": "the optional `correlationid` extension, carried to read models, logs and traces",
            "location": "$message.payload#/correlationid",
        },
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": f"the `{key}`: one entity, one partition"},
                "bindingVersion": KAFKA_BINDING,
            }
        },
    }


def render(doc: dict[str, Any]) -> str:
    """Stable text, so regenerating unchanged models changes no committed byte."""
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write(path: Path = DEFAULT_PATH) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(document()))
    return path
