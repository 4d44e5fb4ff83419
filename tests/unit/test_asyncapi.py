"""The AsyncAPI document: committed copy in step with the code, valid AsyncAPI 3.0 (the official
schema from @asyncapi/specs), and describing what producers really send."""

from __future__ import annotations

import json
from typing import Any

import jsonschema_rs
import pytest

from shopfloor.contracts.asyncapi import DEFAULT_PATH, document, render
from shopfloor.events.codec import cloud_event, encode_binary
from tests.support import REPO, T0

SPEC = REPO / "node_modules" / "@asyncapi" / "specs" / "schemas" / "3.0.0.json"
# The contract's topic table, by hand.
TOPICS = {
    "mes.work-orders": ({"WorkOrderStatusChanged"}, "work_order_id"),
    "mes.equipment": ({"EquipmentStatusChanged"}, "equipment_id"),
    "iot.sensors": ({"SensorReading"}, "equipment_id"),
    "wms.inventory": ({"InventoryAdjusted"}, "sku"),
    "wms.outbound": (
        {
            "OrderCreated",
            "PaymentProcessed",
            "PaymentFailed",
            "PickCompleted",
            "ShipmentDispatched",
            "DeliveryCompleted",
            "OrderCancelled",
        },
        "order_id",
    ),
    "ops.alert-commands": ({"AlertAcknowledged", "AlertShelved"}, "alert_id"),
    "mes.quality": ({"InspectionRecorded"}, "inspection_id"),
}


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return document()


def test_committed_document_matches_the_code(doc: dict[str, Any]) -> None:
    committed = (REPO / DEFAULT_PATH).read_text()
    assert committed == render(doc), "contracts/asyncapi.json is stale: run `shopfloor schemas asyncapi`"


def test_valid_asyncapi_3(doc: dict[str, Any]) -> None:
    validator = jsonschema_rs.validator_for(json.loads(SPEC.read_text()))
    errors = [f"{list(e.instance_path)}: {e.message[:200]}" for e in validator.iter_errors(doc)]
    assert errors == []
    broken = json.loads(render(doc))
    broken["operations"]["receive.iot.sensors"]["action"] = "consume"
    assert not validator.is_valid(broken), "the spec schema must reject what AsyncAPI 3.0 forbids"


def test_every_ref_resolves(doc: dict[str, Any]) -> None:
    refs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    assert refs
    for ref in refs:
        target: Any = doc
        for part in ref.removeprefix("#/").split("/"):
            assert part in target, f"{ref} does not resolve"
            target = target[part]


def test_each_topic_is_a_channel_with_its_event_types_and_key(doc: dict[str, Any]) -> None:
    assert {c["address"] for c in doc["channels"].values()} == set(TOPICS)
    for channel in doc["channels"].values():
        names, key = TOPICS[channel["address"]]
        assert set(channel["messages"]) == names
        for name in names:
            message = doc["components"]["messages"][name]
            assert key in message["bindings"]["kafka"]["key"]["description"]
    operations = {(o["action"], o["channel"]["$ref"].rsplit("/", 1)[-1]) for o in doc["operations"].values()}
    assert {("receive", topic) for topic in TOPICS} <= operations
    assert ("send", "ops.alert-commands") in operations


def test_binary_binding_headers_are_the_ce_attributes(doc: dict[str, Any]) -> None:
    headers = doc["components"]["schemas"]["CloudEventHeaders"]
    _, produced = encode_binary(
        cloud_event(
            "SensorReading",
            {"equipment_id": "M1", "sensor": "t", "value": 1.0},
            source="x",
            event_id="1",
            time=T0,
            correlationid="c",
            sequence=3,
        )
    )
    for name, _ in produced:
        assert name in headers["properties"], f"header {name} that producers send is not described"
    for required in ("ce_specversion", "ce_id", "ce_type", "ce_source", "ce_time"):
        assert required in headers["description"]


def _payload_validator(doc: dict[str, Any], name: str, option: int) -> Any:
    schema = {
        **doc,
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": f"#/components/messages/{name}/payload/oneOf/{option}",
    }
    return jsonschema_rs.validator_for(schema)


def test_payloads_accept_real_events_and_refuse_broken_ones(doc: dict[str, Any]) -> None:
    data = {"work_order_id": "WO-1", "status": "RELEASED", "line_id": "L2", "quantity_planned": 40}
    event = json.loads(
        json.dumps(
            cloud_event("WorkOrderStatusChanged", data, source="mes/l2", event_id="e1", time=T0), default=str
        )
    )
    structured = _payload_validator(doc, "WorkOrderStatusChanged", 0)
    binary = _payload_validator(doc, "WorkOrderStatusChanged", 1)
    assert structured.is_valid(event)
    assert binary.is_valid(data)
    assert not structured.is_valid({**event, "type": "SensorReading"})
    assert not structured.is_valid({**event, "data": {"status": "RELEASED"}})
    assert not binary.is_valid({**data, "status": "HALF_DONE"})
    assert not binary.is_valid({**data, "quantity_planned": -1})
