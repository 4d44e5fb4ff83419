"""Dead letters from the real broker: listed with an escaped preview, reprocessed and discarded, audited."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import select

from shopfloor.store.audit import AUDIT
from shopfloor.store.dead_letters import DEAD
from shopfloor.web.app import create_app
from tests.integration.harness import projecting, wait_consumed
from tests.security.kafka_topics import read_topic
from tests.support import encode, event, unique_settings, wait_until, wo


def _letters(engine) -> list[dict]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(DEAD).order_by(DEAD.c.id))]


async def test_dead_letters_page_reprocess_and_discard(kafka, producer, database_url) -> None:  # type: ignore[no-untyped-def]
    settings = unique_settings(kafka, database_url)
    topic = settings.topic_work_orders
    async with projecting(settings) as runtime:
        app = create_app(runtime)
        await producer.raw(topic, "WO-1", b"\x00\xff<script>window.__pwned=1</script>", [("origin", b"fuzz")])
        await producer.event(
            topic, "WO-1", event("Unheard", {"work_order_id": "<img src=x onerror=alert(1)>"})
        )
        await producer.event(topic, "WO-2", event("WorkOrderStatusChanged", wo("WO-2", "RELEASED")))
        await wait_consumed(runtime, 3)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            page = await client.get("/dead-letters")
            assert page.status_code == 200
            assert page.text.count("data-dead-letter=") == 2
            assert f'data-topic="{topic}"' in page.text and 'data-offset="0"' in page.text
            assert "<script>window.__pwned" not in page.text and "&lt;script&gt;window.__pwned" in page.text
            assert "\\x00\\xff" in page.text  # bytes that are not text show as escapes
            assert "<img src=x" not in page.text
            garbage, unknown = _letters(runtime.engine)
            assert (await client.post(f"/dead-letters/{garbage['id']}/discard")).status_code == 303
            assert (await client.post(f"/dead-letters/{garbage['id']}/discard")).status_code == 409
            reprocessed = await client.post(
                f"/dead-letters/{unknown['id']}/reprocess", headers={"hx-request": "1"}
            )
            assert reprocessed.status_code == 204
            assert (await client.post("/dead-letters/999999/reprocess")).status_code == 404
            # The original bytes went back to the topic: the consumer sees them again (still unknown).
            await wait_until(
                lambda: len(_letters(runtime.engine)) == 3, 30, "the reprocessed record consumed"
            )
            listed = (await client.get("/api/dead-letters?status=ALL")).json()
            assert listed["counts"] == {"NEW": 1, "REPROCESSED": 1, "DISCARDED": 1}
        letters = _letters(runtime.engine)
        assert [letter["status"] for letter in letters] == ["DISCARDED", "REPROCESSED", "NEW"]
        assert letters[2]["value"] == unknown["value"] and letters[2]["offset"] > unknown["offset"]
        assert letters[2]["headers"] == unknown["headers"]
        with runtime.engine.connect() as conn:
            trail = [(r.actor, r.action) for r in conn.execute(select(AUDIT).order_by(AUDIT.c.id))]
        assert trail == [("local", "dead-letter.discarded"), ("local", "dead-letter.reprocessed")]


async def test_reprocess_sends_the_original_header_bytes_once_however_often_clicked(
    kafka, producer, database_url
) -> None:  # type: ignore[no-untyped-def]
    """A `ce_id` that is not UTF-8 once came back from the table as U+FFFD and was then applied."""
    settings = unique_settings(kafka, database_url)
    topic = settings.topic_work_orders
    value, headers = encode(event("WorkOrderStatusChanged", wo("WO-RE", "RELEASED")), binary=True)
    headers = [(n, b"id-\xff\xfe" if n == "ce_id" else v) for n, v in headers]
    headers += [("null", None), ("binary", b"\x00\xff")]
    async with projecting(settings) as runtime:
        app = create_app(runtime)
        await producer.raw(topic, "WO-RE", value, headers)
        await wait_consumed(runtime, 1)
        [letter] = _letters(runtime.engine)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            clicks = await asyncio.gather(
                *(
                    client.post(f"/dead-letters/{letter['id']}/reprocess", headers={"hx-request": "1"})
                    for _ in range(10)
                )
            )
        assert sorted(r.status_code for r in clicks) == [204] + [409] * 9
        await wait_until(lambda: len(_letters(runtime.engine)) == 2, 30, "the reprocessed record consumed")
        again = _letters(runtime.engine)
        assert len(again) == 2 and runtime.projector is not None and runtime.projector.status.applied == 0
    assert again[1]["headers"] == letter["headers"] and "not valid UTF-8" in again[1]["reason"]
    copies = await read_topic(kafka, topic)
    assert len(copies) == 2, "one click, one copy"  # every click was answered (and flushed) by now
    assert [list(c.headers) for c in copies] == [headers, headers]
    assert copies[1].value == value
