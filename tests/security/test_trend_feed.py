"""Trend streams share one read per machine per frame, and machines whose ids hold `/` show trends."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import event as sa_event

from shopfloor.events.codec import decode, encode_structured
from shopfloor.runtime import build
from shopfloor.store.batch import Batch, apply_batch
from shopfloor.store.registry import HANDLERS
from shopfloor.store.sensors import SECONDS
from shopfloor.web.app import create_app
from shopfloor.web.equipment_trend import TrendFeed
from shopfloor.web.sse import frame_bytes
from tests.support import T0, event, unique_settings, wait_until

BUCKET = int(T0.timestamp()) * 1000


def reading(machine: str, value: float, ms: int) -> dict[str, Any]:
    data = {"equipment_id": machine, "sensor": "temperature", "value": value, "unit": "C"}
    return event("SensorReading", data, at=T0 + timedelta(milliseconds=ms))


def status(machine: str) -> dict[str, Any]:
    data = {"equipment_id": machine, "status": "RUNNING", "line_id": "L1"}
    return event("EquipmentStatusChanged", data, at=T0)


def apply(runtime: Any, events: list[dict[str, Any]]) -> Any:
    items = [decode(*encode_structured(e)) for e in events]
    return apply_batch(runtime.engine, Batch("trend-test", list(items), {}, {}), HANDLERS).notice


async def test_one_read_per_machine_per_frame_whatever_the_viewers(sqlite_url: str) -> None:
    runtime = build(unique_settings(None, sqlite_url), consume=False, serve_web=True)
    create_app(runtime)  # registers the hub's views
    feed = TrendFeed(runtime.engine, runtime.hub)
    reads: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if SECONDS.name in statement and statement.lstrip().upper().startswith("SELECT"):
            reads.append(statement)

    sa_event.listen(runtime.engine, "before_cursor_execute", count)
    viewers = {m: [feed.join(m, 0)[0] for _ in range(40)] for m in ("press/7", "M2")}
    notice = apply(
        runtime,
        [reading("press/7", v, 100 * i) for i, v in enumerate((1.0, 2.0, 6.0))]
        + [reading("M2", 5.0, 200), reading("idle-machine", 9.0, 300)],
    )
    runtime.hub.publish(notice)
    everyone = [s for subs in viewers.values() for s in subs]
    await wait_until(lambda: all(not s.queue.empty() for s in everyone), 10, "a trend frame for every viewer")
    frames = {m: [s.queue.get_nowait() for s in subs] for m, subs in viewers.items()}
    assert len(reads) == 2, reads  # one per watched machine (not 80, not the unwatched one)
    for machine, expected in (("press/7", [BUCKET, 1.0, 3.0, 6.0]), ("M2", [BUCKET, 5.0, 5.0, 5.0])):
        sent = frames[machine]
        assert all(f is sent[0] for f in sent)  # one frame for every viewer, so encoded once
        message = frame_bytes(sent[0]).decode()
        assert "event: points" in message and f"id: {BUCKET}" in message
        data = next(line for line in message.splitlines() if line.startswith("data: "))
        assert json.loads(data.removeprefix("data: ")) == {"temperature": [expected]}
    for machine, subs in viewers.items():
        for subscriber in subs:
            feed.leave(machine, subscriber)
    assert feed.task is None and not feed.viewers
    await asyncio.sleep(0)


async def test_a_machine_id_with_a_slash_shows_its_trend(sqlite_url: str) -> None:
    runtime = build(unique_settings(None, sqlite_url), consume=False, serve_web=True)
    app = create_app(runtime)
    apply(runtime, [status("press/7"), *(reading("press/7", v, 100 * i) for i, v in enumerate((1.0, 3.0)))])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        page = await client.get("/equipment", params={"machine": "press/7"})
        url = re.search(r'data-trend-url="([^"]+)"', page.text)
        assert url, page.text[:500]
        for path in (url.group(1), "/api/equipment/press%2F7/trend"):
            answer = await client.get(path)
            assert answer.status_code == 200, (path, answer.text[:300])
            assert answer.json()["equipment_id"] == "press/7"
            assert answer.json()["sensors"]["temperature"]["points"] == [[BUCKET, 1.0, 2.0, 3.0]]
