"""Handover between two moments, on Kafka: the work orders added and changed on a line between them,
each with the events that did it, and what is still open at the end (hand-worked from the sequence)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from shopfloor.web.app import create_app
from tests.integration.harness import projecting, wait_consumed
from tests.support import T0, event, unique_settings, wo


@asynccontextmanager
async def _served(settings: Any, producer: Any, sequence: list[Any]) -> AsyncIterator[httpx.AsyncClient]:
    """The work-order events (key, data, seconds after T0) projected from Kafka, and a client."""
    async with projecting(settings) as runtime:
        for key, data, second in sequence:
            await producer.event(
                settings.topic_work_orders, key, event("WorkOrderStatusChanged", data, offset_s=second)
            )
        await wait_consumed(runtime, len(sequence))
        yield httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(runtime)), base_url="http://t")


async def test_handover_lists_what_changed_on_the_line_and_why(
    kafka: str, sqlite_url: str, producer: Any
) -> None:
    settings = unique_settings(kafka, sqlite_url, timezone="Asia/Kolkata")  # UTC+05:30: times shown there
    sequence = [
        ("WO-1", wo("WO-1", "RELEASED", line="L1"), 0),
        ("WO-2", wo("WO-2", "RELEASED", line="L1"), 5),
        ("WO-9", wo("WO-9", "RELEASED", line="L2"), 6),  # another line: not in L1's handover
        ("WO-1", wo("WO-1", "IN_PROGRESS", line="L1", quantity_done=10), 100),  # inside
        ("WO-3", wo("WO-3", "RELEASED", line="L1"), 110),  # inside: added
        ("WO-1", wo("WO-1", "IN_PROGRESS", line="L1", quantity_done=25), 150),  # inside
        ("WO-9", wo("WO-9", "COMPLETED", line="L2"), 160),
        ("WO-2", wo("WO-2", "CANCELLED", line="L1"), 300),  # after: not counted
    ]
    async with _served(settings, producer, sequence) as client:
        window = {
            "since": (T0 + timedelta(seconds=60)).isoformat(),
            "at": (T0 + timedelta(seconds=200)).isoformat(),
        }
        answer = (await client.get("/api/history/diff", params={**window, "line": "L1"})).json()
        changes = {c["work_order_id"]: c for c in answer["changes"]}
        assert set(changes) == {"WO-1", "WO-3"}
        assert changes["WO-1"]["kind"] == "changed"
        assert changes["WO-1"]["fields"] == {
            "status": ["RELEASED", "IN_PROGRESS"],
            "quantity_done": [None, 25],
        }
        assert [e["summary"] for e in changes["WO-1"]["events"]] == [
            "IN_PROGRESS, 10 done",
            "IN_PROGRESS, 25 done",
        ]
        assert changes["WO-3"]["kind"] == "added" and len(changes["WO-3"]["events"]) == 1
        assert [o["work_order_id"] for o in answer["open"]] == ["WO-1", "WO-2", "WO-3"]

        page = await client.get("/handover", params={**window, "line": "L1"})
        assert page.status_code == 200
        assert 'data-change="WO-1" data-kind="changed"' in page.text
        assert 'data-change="WO-3" data-kind="added"' in page.text and "WO-9" not in page.text
        # WO-1's events at 08:01:40 and 08:02:30 UTC, in the plant's time (+05:30)
        shown = re.findall(r'<tr data-change="WO-1".*?</tr>', page.text, re.S)[0]
        assert re.findall(r"<time [^>]*>([^<]*)</time>", shown) == ["13:31:40", "13:32:30"]
        backwards = await client.get(
            "/api/history/diff", params={"since": window["at"], "at": window["since"]}
        )
        assert backwards.status_code == 400


async def test_handover_defaults_and_links_never_lead_to_an_error(
    kafka: str, sqlite_url: str, producer: Any
) -> None:
    """A log that begins in the current shift: the default is that shift so far (the last finished
    one has nothing to replay from), and every link on the pages answers."""
    settings = unique_settings(kafka, sqlite_url)
    now = datetime.now(UTC)
    sequence = [
        ("WO-7", wo("WO-7", "RELEASED", line="L3"), -4),
        ("WO-7", wo("WO-7", "IN_PROGRESS", line="L3", quantity_done=3), -2),
    ]
    html = {"accept": "text/html"}
    async with projecting(settings) as runtime:
        for key, data, second in sequence:
            at = now + timedelta(seconds=second)
            await producer.event(
                settings.topic_work_orders, key, event("WorkOrderStatusChanged", data, at=at)
            )
        await wait_consumed(runtime, len(sequence))
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(runtime)), base_url="http://t"
        )
        chooser = await client.get("/handover", headers=html)
        assert chooser.status_code == 200, chooser.text[:300]
        assert 'href="/handover?line=L3"' in chooser.text
        page = await client.get("/handover?line=L3", headers=html)
        assert page.status_code == 200, page.text[:500]
        assert "so far" in page.text and 'data-handover="L3"' in page.text
        gone = await client.get(
            "/handover",
            params={"line": "L3", "since": "2001-01-01T00:00:00Z", "at": "2001-01-01T08:00:00Z"},
            headers=html,
        )
        assert gone.status_code == 410 and 'href="/handover?line=L3"' in gone.text
        for text in (chooser.text, page.text, gone.text):
            for link in re.findall(r'href="(/[^"]*)"', text):
                if not link.startswith(("/static/", "/vendor/")):
                    answer = await client.get(link.replace("&amp;", "&"), headers=html)
                    assert answer.status_code == 200, (link, answer.status_code, answer.text[:200])


async def test_the_default_handover_skips_the_hours_between_shifts(
    kafka: str, sqlite_url: str, producer: Any
) -> None:
    """Two shifts, 06:00-14:00 and 14:00-22:00: at 10:00 the last shift that has ended is yesterday's
    14:00-22:00, not the night between, when no shift works."""
    settings = unique_settings(kafka, sqlite_url, shifts="06:00-14:00,14:00-22:00")
    sequence = [  # T0 is 08:00 UTC: the log begins the day before at 12:00, the newest event is at 10:00
        ("WO-5", wo("WO-5", "RELEASED", line="L5"), -20 * 3600),
        ("WO-5", wo("WO-5", "IN_PROGRESS", line="L5", quantity_done=4), -16 * 3600),
        ("WO-5", wo("WO-5", "IN_PROGRESS", line="L5", quantity_done=9), 2 * 3600),
    ]
    async with _served(settings, producer, sequence) as client:
        page = await client.get("/handover?line=L5", headers={"accept": "text/html"})
        assert page.status_code == 200, page.text[:500]
        assert "2026-11-26 14:00: from" in page.text, page.text[:2000]
        assert "off shift" not in page.text
        # the 16:00 event is that shift's: 4 done
        assert 'data-change="WO-5"' in page.text and "IN_PROGRESS, 4 done" in page.text
