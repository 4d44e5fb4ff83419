"""Alarm journal and KPI pages on SQLite and PostgreSQL: range and filters, ack with a note, shelve with
a reason, role-gated buttons, visible errors, and sensor faults and notes kept apart from alarms."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from shopfloor.events.codec import decode, encode_structured
from shopfloor.runtime import Runtime, build
from shopfloor.store import alerts as alert_store
from shopfloor.store.batch import Batch, apply_batch
from shopfloor.store.registry import HANDLERS
from shopfloor.transport.memory import MemoryLog, MemorySink
from shopfloor.web.app import create_app
from tests.support import T0, event, unique_settings

T0_MS = int(T0.timestamp() * 1000)


def apply(runtime: Runtime, events: list[dict[str, Any]]) -> None:
    items = [decode(*encode_structured(e)) for e in events]
    apply_batch(runtime.engine, Batch("alarm-test", items, {}, {}), HANDLERS)


def reading(machine: str, sensor: str, value: float, second: float) -> dict[str, Any]:
    data = {"equipment_id": machine, "sensor": sensor, "value": value}
    return event("SensorReading", data, source="iot/test", at=T0 + timedelta(seconds=second))


def _plant(database_url: str, **overrides: Any) -> tuple[Runtime, httpx.AsyncClient, MemoryLog]:
    runtime = build(unique_settings("127.0.0.1:1", database_url, **overrides), consume=False, serve_web=False)
    log = MemoryLog()
    runtime.sink = MemorySink(log)
    status = {"equipment_id": "M-1", "status": "RUNNING", "line_id": "L1"}
    events = [event("EquipmentStatusChanged", status, at=T0 - timedelta(hours=1))]
    # M-1 vibration over its limit (7.1) for 10 s, temperature healthy then stuck for 6 min
    events += [reading("M-1", "vibration", 2.0 + (i % 3) / 10, i) for i in range(60)]
    events += [reading("M-1", "vibration", 9.0, 60 + i) for i in range(10)]
    events += [reading("M-1", "temperature", 60 + (i % 5) / 10, i * 5) for i in range(20)]
    events += [reading("M-1", "temperature", 61.0, 100 + i * 5) for i in range(80)]
    apply(runtime, events)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(runtime)), base_url="http://t")
    return runtime, client, log


@pytest.fixture
async def plant(database_url: str) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient, MemoryLog]]:
    runtime, client, log = _plant(database_url)
    yield runtime, client, log
    await client.aclose()
    runtime.engine.dispose()


async def test_a_range_without_an_offset_is_the_plants_days(database_url: str) -> None:
    """The pages show plant time, and a date typed into them means the plant's day: in Anchorage
    (UTC-9 in November) the alarms of 08:01 UTC on 27 November were raised late on the 26th."""
    runtime, client, _ = _plant(database_url, timezone="America/Anchorage")
    try:
        plant_day = await client.get("/alarms", params={"from": "2026-11-26", "to": "2026-11-27"})
        assert sorted(k for _, k, _ in _rows(plant_day.text)) == ["SENSOR_FAULT", "THRESHOLD"]
        assert 'value="2026-11-26T00:00"' in plant_day.text  # the form keeps the plant's day
        utc_day = await client.get("/alarms", params={"from": "2026-11-27", "to": "2026-11-28"})
        assert _rows(utc_day.text) == []
        with_offset = await client.get(
            "/alarms", params={"from": "2026-11-27T00:00+00:00", "to": "2026-11-28"}
        )
        assert len(_rows(with_offset.text)) == 2  # an offset given is kept
        month = {"from": "2026-10-02", "to": "2026-11-02"}  # 31 days and the hour the clocks went back
        assert (await client.get("/alarms", params=month)).status_code == 200
        longer = {"from": "2026-10-01", "to": "2026-11-02"}
        assert (await client.get("/alarms", params=longer)).status_code == 400
        kpis = await client.get("/alarms/kpis", params={"from": "2026-11-27", "to": "2026-11-28"})
        assert kpis.status_code == 200 and 'value="2026-11-27T00:00"' in kpis.text
        for far in ({"from": "0001-01-01", "to": "0001-01-02"}, {"from": "9999-12-30", "to": "9999-12-31"}):
            refused = await client.get("/alarms", params=far)  # not shown in plant time: a 400, not a 500
            assert refused.status_code == 400 and "between 1970-01-01 and 2100-01-01" in refused.text
    finally:
        await client.aclose()
        runtime.engine.dispose()


def _rows(html: str) -> list[tuple[str, str, str]]:
    return re.findall(
        r'data-alarm="([^"]+)" data-equipment="[^"]+" data-kind="([^"]+)" data-priority="([^"]+)"', html
    )


async def test_journal_range_filters_and_sensor_fault_kind(plant) -> None:  # type: ignore[no-untyped-def]
    runtime, client, _ = plant
    day = {"from": "2026-11-27", "to": "2026-11-28"}
    assert T0.strftime("%Y-%m-%d") == "2026-11-27"
    page = await client.get("/alarms", params=day)
    assert page.status_code == 200
    kinds = sorted((k, p) for _, k, p in _rows(page.text))
    assert kinds == [("SENSOR_FAULT", "medium"), ("THRESHOLD", "high")]  # vibration built-in priority: high
    assert "(stuck)" in page.text
    only = await client.get("/alarms", params={**day, "kind": "SENSOR_FAULT"})
    assert [k for _, k, _ in _rows(only.text)] == ["SENSOR_FAULT"]
    before = await client.get("/alarms", params={"from": "2026-11-20", "to": "2026-11-21"})
    assert _rows(before.text) == []
    bad = await client.get("/alarms", params={"from": "yesterday"})
    assert bad.status_code == 400 and "expected a date" in bad.text
    bad_kind = await client.get("/alarms", params={"kind": "SHIFT"})
    assert bad_kind.status_code == 400
    with runtime.engine.connect() as conn:
        assert alert_store.list_alerts(conn, state=None)  # alarms exist...
        assert all(a["kind"] not in ("SHIFT", "SPIKE") for a in alert_store.list_alerts(conn))


async def test_ack_with_note_and_shelve_with_reason_publish_commands(plant) -> None:  # type: ignore[no-untyped-def]
    runtime, client, log = plant
    with runtime.engine.connect() as conn:
        [threshold] = [a for a in alert_store.list_alerts(conn) if a["kind"] == "THRESHOLD"]
    alert_id = threshold["alert_id"]
    done = await client.post("/alarms/acknowledge", data={"alert_id": alert_id, "note": "bearing checked"})
    assert done.status_code == 303 and done.headers["location"].startswith("/alarms?notice=Acknowledged")
    shelved = await client.post(
        "/alarms/shelve", data={"alert_id": alert_id, "minutes": "30", "reason": "fitter on site"}
    )
    assert shelved.status_code == 303
    topic = runtime.settings.topic_alert_commands
    records = [r for tp in log.partitions_for(topic) for r in log.read(tp, 0, 100)]
    commands = [decode(r.value, r.headers) for r in records]
    assert sorted((c.type, c.data.note) for c in commands) == [
        ("AlertAcknowledged", "bearing checked"),
        ("AlertShelved", "fitter on site"),
    ]
    apply_batch(runtime.engine, Batch("alarm-test", commands, {}, {}), HANDLERS)
    # The commands carry the wall clock's time: their journal entries are today's, whatever the date.
    today = datetime.now(UTC).date()
    around = {"from": str(today - timedelta(days=1)), "to": str(today + timedelta(days=1))}
    page = await client.get("/alarms", params=around)
    assert "bearing checked" in page.text and "fitter on site" in page.text
    with runtime.engine.connect() as conn:
        alert = alert_store.get_alert(conn, alert_id)
    assert alert is not None and (alert["state"], alert["acked_by"]) == ("ACKED", "local")


async def test_failed_actions_are_shown_on_the_page(plant) -> None:  # type: ignore[no-untyped-def]
    runtime, client, _ = plant
    missing = await client.post("/alarms/acknowledge", data={"alert_id": "nope"})
    assert missing.status_code == 404 and 'role="alert"' in missing.text and "No alarm" in missing.text
    no_reason = await client.post("/alarms/shelve", data={"alert_id": "x", "minutes": "30", "reason": ""})
    assert no_reason.status_code == 400
    runtime.sink = None
    with runtime.engine.connect() as conn:
        alert_id = alert_store.list_alerts(conn)[0]["alert_id"]
    down = await client.post("/alarms/acknowledge", data={"alert_id": alert_id})
    assert down.status_code == 503 and 'role="alert"' in down.text


async def test_kpis_count_what_was_raised(plant) -> None:  # type: ignore[no-untyped-def]
    _, client, _ = plant
    kpis = (await client.get("/api/alarms/kpis", params={"from": "2026-11-27", "to": "2026-11-28"})).json()
    assert kpis["total"] == 2
    [area] = kpis["areas"]
    assert (area["area"], area["alarms"], area["peak_10_min"]) == ("L1", 2, 2)
    assert area["per_10_min"] == round(2 / 144, 3)
    assert kpis["floods"] == [] and kpis["chattering"] == []
    page = await client.get("/alarms/kpis", params={"from": "2026-11-27", "to": "2026-11-28"})
    assert page.status_code == 200 and 'data-kpi-total="2"' in page.text


async def test_action_buttons_only_for_roles_that_may_use_them(database_url: str) -> None:
    from tests.security.auth_client import auth_app, page_token, sign_in

    async with auth_app(database_url) as (runtime, client):
        runtime.sink = MemorySink(MemoryLog())
        apply(runtime, [reading("M-9", "vibration", 9.0, i) for i in range(8)])
        day = {"from": "2026-11-27", "to": "2026-11-28"}
        await sign_in(client, "vera")
        viewer = await client.get("/alarms", params=day)
        assert viewer.status_code == 200 and _rows(viewer.text)
        assert 'data-action="acknowledge"' not in viewer.text and 'data-action="shelve"' not in viewer.text
        token = await page_token(client, "/alarms")
        with runtime.engine.connect() as conn:
            alert_id = alert_store.list_alerts(conn)[0]["alert_id"]
        refused = await client.post("/alarms/acknowledge", data={"alert_id": alert_id, "csrf_token": token})
        assert refused.status_code == 403 and "supervisor role" in refused.text
        await client.post("/logout", data={"csrf_token": token})
        client.cookies.clear()
        await sign_in(client, "sue")
        supervisor = await client.get("/alarms", params=day)
        assert 'data-action="acknowledge"' in supervisor.text and 'data-action="shelve"' in supervisor.text


async def test_the_dead_letter_queue_refuses_a_past_view(plant) -> None:  # type: ignore[no-untyped-def]
    """The queue is kept as letters arrive, not folded from the log: `?at=` says so (400) instead of
    showing the live queue as if it were the past one."""
    _, client, _ = plant
    page = await client.get("/dead-letters", params={"at": "2026-11-27T10:00:00Z"})
    assert page.status_code == 400 and "the dead-letter queue has no past view" in page.text
    api = await client.get("/api/dead-letters", params={"at": "2026-11-27T10:00:00Z"})
    assert api.status_code == 400 and "no past view" in api.json()["detail"]
    assert (await client.get("/dead-letters")).status_code == 200
    assert (await client.get("/api/dead-letters")).status_code == 200


def _form_value(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, name
    return found.group(1)


async def test_journal_shows_plant_times_not_raw_iso(plant) -> None:  # type: ignore[no-untyped-def]
    _, client, _ = plant
    day = await client.get("/alarms", params={"from": "2026-11-27", "to": "2026-11-28"})
    assert _rows(day.text)
    cells = re.findall(r"<td[^>]*>(?:<time[^>]*>)?([^<]*)", day.text)
    assert not [c for c in cells if re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:]+Z", c.strip())]  # no raw ISO
    assert re.search(r"<time datetime=\"2026-11-27T\d\d:\d\d:\d\dZ\">27 Nov \d\d:\d\d</time>", day.text)


async def test_a_blank_to_reads_up_to_now_when_show_is_pressed_again(plant) -> None:  # type: ignore[no-untyped-def]
    runtime, client, _ = plant
    first = await client.get("/alarms")
    shown = {name: _form_value(first.text, name) for name in ("from", "to")}
    assert shown == {"from": "", "to": ""}  # the defaults, not the moment the page was loaded
    # An alarm newer than that load (here a producer clock a little ahead), then Show pressed again.
    later = datetime.now(UTC) + timedelta(minutes=2)
    status = {"equipment_id": "M-9", "status": "RUNNING", "line_id": "L1"}
    events = [event("EquipmentStatusChanged", status, at=later - timedelta(minutes=5))]
    events += [
        event(
            "SensorReading",
            {"equipment_id": "M-9", "sensor": "vibration", "value": 2.0 if i < 60 else 9.0},
            source="iot/test",
            at=later + timedelta(seconds=i),
        )
        for i in range(70)
    ]
    apply(runtime, events)
    again = await client.get("/alarms", params=shown)
    assert again.status_code == 200
    assert any(
        alarm_id for alarm_id, kind, _ in _rows(again.text) if "M-9" in alarm_id and kind == "THRESHOLD"
    )
