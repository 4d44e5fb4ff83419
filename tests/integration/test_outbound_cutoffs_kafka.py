"""Outbound cards carry their due time and whether they will miss their carrier's next cutoff, from
events through the real broker on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx

from shopfloor.runtime import build
from shopfloor.web.app import create_app
from tests.integration.harness import projecting, wait_consumed
from tests.support import event


def _card(html: str, order_id: str) -> str:
    found = re.search(rf'<li id="ob-{order_id}"[^>]*>', html)
    assert found, f"no card for {order_id}"
    return found.group(0)


async def test_cards_flag_orders_that_miss_the_next_cutoff(kafka, producer, database_url) -> None:  # type: ignore[no-untyped-def]
    from tests.support import unique_settings

    now = datetime.now(UTC)
    cutoff = now + timedelta(minutes=30)  # DHL's only truck today, in about 30 minutes
    later = now + timedelta(hours=3)  # UPS's, far enough away at any hour (a fixed 23:59 was not, near it)
    settings = unique_settings(kafka, database_url, carrier_cutoffs=f"DHL={cutoff:%H:%M},UPS={later:%H:%M}")
    due = now + timedelta(hours=2)

    def at(minutes_ago: float) -> datetime:
        return now - timedelta(minutes=minutes_ago)

    events = []
    for done in ("A", "B"):  # the last hour's pace: paid after 5 min, picked after 40, dispatched after 4
        oid = f"SO-{done}"
        events += [
            event("OrderCreated", {"order_id": oid, "carrier": "DHL"}, at=at(55)),
            event("PaymentProcessed", {"order_id": oid}, at=at(50)),
            event("PickCompleted", {"order_id": oid}, at=at(10)),
            event("ShipmentDispatched", {"order_id": oid, "carrier": "DHL"}, at=at(6)),
        ]
    # just created: 4 + 40 + 4 = 48 min to dispatch > 30 min to the cutoff -> at risk
    events.append(
        event("OrderCreated", {"order_id": "SO-X", "carrier": "DHL", "due_at": due.isoformat()}, at=at(1))
    )
    # already picked: about 4 min to dispatch -> makes it
    events += [
        event("OrderCreated", {"order_id": "SO-Y", "carrier": "DHL"}, at=at(20)),
        event("PaymentProcessed", {"order_id": "SO-Y"}, at=at(19)),
        event("PickCompleted", {"order_id": "SO-Y"}, at=at(2)),
    ]
    # same pace, but UPS's cutoff is three hours away -> not at risk
    events.append(event("OrderCreated", {"order_id": "SO-Z", "carrier": "UPS"}, at=at(1)))
    async with projecting(settings) as runtime:
        for evt in events:
            await producer.event(settings.topic_outbound, evt["data"]["order_id"], evt)
        await wait_consumed(runtime, len(events))
    runtime.engine.dispose()
    web = build(settings.model_copy(update={"kafka_bootstrap_servers": None}), consume=False, serve_web=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(web)), base_url="http://t"
    ) as client:
        html = (await client.get("/outbound")).text
    web.engine.dispose()

    x = _card(html, "SO-X")
    assert 'data-at-risk="true"' in x
    assert f'data-due="{int(due.timestamp() * 1000)}"' in x
    assert "misses DHL cutoff" in html
    assert 'data-at-risk="false"' in _card(html, "SO-Y")
    assert 'data-at-risk="false"' in _card(html, "SO-Z")
    assert 'data-at-risk="false"' in _card(html, "SO-A")  # dispatched: nothing left to miss
