"""Past views are correct by construction: what the live boards showed after each phase of a known
sequence (read through real Kafka into SQLite or PostgreSQL) is exactly what `?at=` shows later.

The live pages are read with their clock stopped at the phase's moment (the moment the screens would
have shown), the past views replay the same topics from the broker into an in-memory store.
"""

from __future__ import annotations

import json
from datetime import UTC, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote

import httpx
from fastapi import FastAPI

from shopfloor.auth.wiring import template_context
from shopfloor.history import web as history_web
from shopfloor.pages import templates
from shopfloor.runtime import Runtime
from shopfloor.web import alarms as alarms_web
from shopfloor.web import equipment as equipment_web
from shopfloor.web import equipment_trend, overview
from shopfloor.web import inventory as inventory_web
from shopfloor.web import lines as lines_web
from shopfloor.web import outbound as outbound_web
from shopfloor.web import quality as quality_web
from shopfloor.web import work_orders as work_orders_web
from shopfloor.web.board import live_reader
from shopfloor.web.sse import Streams
from tests.integration.harness import projecting, wait_consumed
from tests.support import T0, event, unique_settings, wo

ENTITY_ATTRIBUTES = (  # an element is keyed by the first it carries (an alert names its machine too)
    "data-alarm",
    "data-alert",
    "data-work-order",
    "data-sku",
    "data-order",
    "data-equipment",
    "data-line-summary",
    "data-downtime-line",
    "data-pareto-key",
    "data-pareto",
    "data-figure",
    "data-area",
    "data-kpi-total",
)
PAGES = (
    "/work-orders",
    "/inventory",
    "/outbound",
    "/equipment",
    "/lines",
    "/downtime",
    "/",
    "/alarms",
    "/alarms/kpis",
)
PHASE = timedelta(minutes=20)
APIS = (
    "/api/work-orders",
    "/api/work-orders/WO-1/history",
    "/api/outbound/orders?id=O-1",
    "/api/lines/L1/shifts",
    "/api/downtime",
    "/api/alerts/journal",
    "/api/equipment/M2/trend?range=1h",
    "/api/alarms/kpis",
)


class Entities(HTMLParser):
    """Every element that marks an entity, with all its data-* attributes (the contract's markup)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, dict[str, str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        data = {name: value or "" for name, value in attrs if name.startswith("data-")}
        for name in ENTITY_ATTRIBUTES:
            if name in data:
                key = f"{name}={data[name]}" + (f"@{data['data-location']}" if name == "data-sku" else "")
                assert key not in self.found or self.found[key] == data, f"{key} shown twice, differently"
                self.found[key] = data
                break


def entities(html: str) -> dict[str, dict[str, str]]:
    parser = Entities()
    parser.feed(html)
    return parser.found


def without_version(body: dict[str, Any]) -> dict[str, Any]:
    """A past store counts its own batches and replays topics in its own order: its version and
    the time of the last event it applied are the fields that may differ."""
    return {k: v for k, v in body.items() if k not in ("version", "last_event_ms")}


def app_for(runtime: Runtime, clock: dict[str, int]) -> FastAPI:
    """The boards' routers with "now" injected: the live pages as they read at the phase's moment."""
    app = FastAPI()
    app.state.runtime = runtime
    history_web.install(app)
    now = lambda: clock["ms"]  # noqa: E731
    settings, engine = runtime.settings, runtime.engine
    reader = history_web.past_reader(live_reader(engine, now), runtime.history)
    app.include_router(work_orders_web.router(engine, reader))
    app.include_router(inventory_web.router(engine, settings, reader))
    app.include_router(outbound_web.router(engine, settings, now, reader))
    app.include_router(equipment_web.router(engine, reader))
    app.include_router(lines_web.router(engine, lines_web.Plan(settings, clock=now), reader))
    app.include_router(quality_web.router(engine, settings, reader))
    app.include_router(equipment_trend.router(engine, runtime.hub, Streams(), now, reader))
    app.include_router(alarms_web.router(engine, lambda: None, settings.topic_alert_commands, reader, UTC))
    if template_context not in templates.context_processors:  # who may act (sign-in off: everyone)
        templates.context_processors.append(template_context)
    points = inventory_web.ReorderPoints.from_settings(settings)
    plan = lines_web.Plan(settings, clock=now)
    overview.live_board(points, settings.stuck_limits_ms(), plan).install(
        app, runtime.hub, reader
    )  # every part
    return app


def phases() -> list[list[tuple[str, str, dict[str, Any]]]]:
    """(topic attribute, key, event) per phase; each phase's events lie inside its 20 minutes."""

    def at(phase: int, second: int) -> dict[str, Any]:
        return {"at": T0 + phase * PHASE + timedelta(seconds=second)}

    def work(
        phase: int, second: int, order: str, status: str, line: str, **extra: Any
    ) -> tuple[str, str, Any]:
        data = wo(order, status, line=line, product="P", quantity_planned=100, ideal_cycle_s=6, **extra)
        return ("topic_work_orders", order, event("WorkOrderStatusChanged", data, **at(phase, second)))

    def machine(
        phase: int, second: int, equipment: str, status: str, line: str, **extra: Any
    ) -> tuple[str, str, Any]:
        data = {"equipment_id": equipment, "status": status, "line_id": line, **extra}
        return ("topic_equipment", equipment, event("EquipmentStatusChanged", data, **at(phase, second)))

    def stock(
        phase: int, second: int, sku: str, location: str, delta: int, reason: str
    ) -> tuple[str, str, Any]:
        data = {"sku": sku, "location": location, "delta": delta, "reason": reason}
        return ("topic_inventory", sku, event("InventoryAdjusted", data, **at(phase, second)))

    def order(phase: int, second: int, kind: str, order_id: str, **data: Any) -> tuple[str, str, Any]:
        return ("topic_outbound", order_id, event(kind, {"order_id": order_id, **data}, **at(phase, second)))

    def vibration(phase: int, first: int, seconds: int, value: float) -> list[tuple[str, str, Any]]:
        """M1's vibration once a second (its built-in limit is 7.1: above it, an alarm while running)."""
        data = {"equipment_id": "M1", "sensor": "vibration", "value": value}
        return [
            ("topic_sensors", "M1", event("SensorReading", data, source="iot/test", **at(phase, s)))
            for s in range(first, first + seconds)
        ]

    due = (T0 + timedelta(hours=3)).isoformat()
    return [
        [
            machine(0, 1, "M1", "RUNNING", "L1"),
            machine(0, 2, "M2", "RUNNING", "L2"),
            work(0, 5, "WO-1", "RELEASED", "L1"),
            work(0, 6, "WO-2", "RELEASED", "L2"),
            work(0, 7, "WO-3", "RELEASED", "L1"),
            work(0, 60, "WO-1", "IN_PROGRESS", "L1", quantity_done=0),
            stock(0, 10, "SKU-A", "LOC-1", 100, "RECEIPT"),
            stock(0, 11, "SKU-B", "LOC-2", 50, "RECEIPT"),
            order(
                0, 20, "OrderCreated", "O-1", customer="C1", lines=[{"sku": "SKU-A", "qty": 3}], due_at=due
            ),
            order(
                0, 21, "OrderCreated", "O-2", customer="C2", lines=[{"sku": "SKU-B", "qty": 1}], due_at=due
            ),
        ],
        [
            work(1, 30, "WO-1", "IN_PROGRESS", "L1", quantity_done=40, quantity_scrap=2),
            work(1, 31, "WO-2", "IN_PROGRESS", "L2", quantity_done=5),
            machine(1, 40, "M2", "DOWN", "L2", reason="jam"),
            *vibration(1, 100, 60, 2.0),
            *vibration(1, 160, 10, 9.0),
            stock(1, 50, "SKU-A", "LOC-1", -30, "PICK"),
            stock(1, 51, "SKU-C", "LOC-3", 7, "RECEIPT"),
            order(1, 60, "PaymentProcessed", "O-1", amount=30),
            order(1, 61, "PaymentFailed", "O-2", reason="card declined"),
        ],
        [
            work(2, 30, "WO-1", "COMPLETED", "L1", quantity_done=100, quantity_scrap=3),
            work(2, 31, "WO-3", "ON_HOLD", "L1", reason="material"),
            machine(2, 40, "M2", "RUNNING", "L2"),
            *vibration(2, 100, 120, 2.0),
            stock(2, 50, "SKU-B", "LOC-2", -50, "SHIP"),
            order(2, 60, "PickCompleted", "O-1"),
            order(2, 61, "ShipmentDispatched", "O-1", carrier="DHL", tracking_id="T1"),
            order(
                2, 62, "OrderCreated", "O-3", customer="C3", lines=[{"sku": "SKU-C", "qty": 2}], due_at=due
            ),
        ],
    ]


async def test_past_views_show_exactly_what_the_live_boards_showed(kafka, database_url, producer) -> None:  # type: ignore[no-untyped-def]
    settings = unique_settings(kafka, database_url)
    clock = {"ms": 0}
    recorded: list[tuple[str, dict[str, dict[str, dict[str, str]]], dict[str, Any]]] = []
    acks: list[bool] = []
    async with projecting(settings) as runtime:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app_for(runtime, clock)), base_url="http://t"
        )
        sent = 0
        for number, phase in enumerate(phases()):
            for topic, key, evt in phase:
                await producer.event(getattr(settings, topic), key, evt)
            sent += len(phase)
            await wait_consumed(runtime, sent)
            moment = T0 + number * PHASE + timedelta(minutes=10)
            clock["ms"] = int(moment.timestamp() * 1000)
            live = {page: entities((await client.get(page)).text) for page in PAGES}
            api = {path: without_version((await client.get(path)).json()) for path in APIS}
            recorded.append((moment.isoformat(), live, api))
            acks.append("data-ack-form" in (await client.get("/alarms")).text)

        # The recorded boards differ from phase to phase: the comparison below can fail.
        assert recorded[0][1] != recorded[1][1] != recorded[2][1]
        assert recorded[1][1]["/work-orders"]["data-work-order=WO-1"]["data-status"] == "IN_PROGRESS"
        assert recorded[2][1]["/work-orders"]["data-work-order=WO-1"]["data-status"] == "COMPLETED"
        assert recorded[1][1]["/inventory"]["data-sku=SKU-A@LOC-1"]["data-on-hand"] == "70"
        assert recorded[1][1]["/equipment"]["data-equipment=M2"]["data-status"] == "DOWN"
        assert recorded[0][1]["/lines"]["data-line-summary=L1"]["data-line-state"]
        assert "data-figure=wo-open" in recorded[1][1]["/"] and "data-line-summary=L1" in recorded[1][1]["/"]
        charts = [v for k, v in recorded[2][1]["/downtime"].items() if k.startswith("data-pareto-key=")]
        assert any(json.loads(chart["data-pareto"])["reasons"] for chart in charts)
        assert not any(key.startswith("data-alarm=") for key in recorded[0][1]["/alarms"])
        alarm = next(v for k, v in recorded[1][1]["/alarms"].items() if k.startswith("data-alarm="))
        assert alarm["data-kind"] == "THRESHOLD" and alarm["data-state"] == "OPEN"
        assert acks == [False, True, False]  # live, an open alarm has its actions (a past view never)
        wo1 = "/api/work-orders/WO-1/history"
        assert len(recorded[2][2][wo1]["history"]) > len(recorded[0][2][wo1]["history"])
        assert recorded[0][2]["/api/outbound/orders?id=O-1"] != recorded[2][2]["/api/outbound/orders?id=O-1"]

        clock["ms"] = 0  # the past views must not read the live clock
        for moment, live, api in recorded:
            for page in PAGES:
                response = await client.get(page, params={"at": moment})
                assert response.status_code == 200, response.text[-500:]
                assert "Past view at" in response.text and "sse-connect" not in response.text
                assert "every 30s" not in response.text  # a moment's figures never change: no polling
                assert "data-ack-form" not in response.text and "data-shelve-form" not in response.text
                assert entities(response.text) == live[page], f"{page} at {moment}"
            header = await client.get("/lines/header", params={"line": "L1", "at": moment})
            assert header.status_code == 200 and 'data-line-summary="L1"' in header.text
            assert "every 30s" not in header.text  # the line board's header band: no polling either
            for path in APIS:
                past_api = await client.get(f"{path}{'&' if '?' in path else '?'}at={quote(moment)}")
                assert past_api.status_code == 200, past_api.text[-500:]
                assert without_version(past_api.json()) == api[path], f"{path} at {moment}"

        before = (T0 - timedelta(minutes=5)).isoformat()
        gone = await client.get("/work-orders", params={"at": before})
        assert gone.status_code == 410 and "not available" in gone.text
        bad = await client.get("/api/inventory", params={"at": "yesterday-ish"})
        assert bad.status_code == 400 and "RFC 3339" in bad.json()["detail"]


def inspection(minute: int, inspection_id: str, result: str, *defects: str) -> dict[str, Any]:
    data = {
        "inspection_id": inspection_id,
        "work_order_id": "WO-1",
        "line_id": "L1",
        "result": result,
        "defects": [{"code": code, "count": 1} for code in defects],
    }
    return event("InspectionRecorded", data, at=T0 + timedelta(minutes=minute))


async def test_quality_api_as_of_a_moment_shows_that_moment(kafka, database_url, producer) -> None:  # type: ignore[no-untyped-def]
    """Two inspections before 00:30, two after: the API at 00:30 counts the first two only."""
    settings = unique_settings(kafka, database_url)
    clock = {"ms": int((T0 + timedelta(hours=1)).timestamp() * 1000)}
    sent = [
        inspection(5, "I-1", "PASS"),
        inspection(10, "I-2", "FAIL", "SCRATCH"),
        inspection(40, "I-3", "FAIL", "DENT"),
        inspection(45, "I-4", "REWORK", "DENT"),
    ]
    async with projecting(settings) as runtime:
        for evt in sent:
            await producer.event(settings.topic_quality, evt["data"]["inspection_id"], evt)
        await wait_consumed(runtime, len(sent))
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app_for(runtime, clock)), base_url="http://t"
        )
        live = (await client.get("/api/quality")).json()
        past = await client.get("/api/quality", params={"at": (T0 + timedelta(minutes=30)).isoformat()})
        assert past.status_code == 200, past.text[-500:]
        past_json = past.json()

    assert [i["inspection_id"] for i in live["inspections"]] == ["I-4", "I-3", "I-2", "I-1"]
    assert live["lines"]["L1"]["results"] == {"PASS": 1, "FAIL": 2, "REWORK": 1}
    assert {d["code"]: d["count"] for d in live["top_defects"]} == {"DENT": 2, "SCRATCH": 1}

    assert [i["inspection_id"] for i in past_json["inspections"]] == ["I-2", "I-1"]
    assert past_json["lines"]["L1"]["results"] == {"PASS": 1, "FAIL": 1, "REWORK": 0}
    assert past_json["top_defects"] == [{"code": "SCRATCH", "count": 1}]
