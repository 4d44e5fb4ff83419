"""Warehouse pages and APIs on SQLite and PostgreSQL: windows, search, low stock, late and stuck, 4xx."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from shopfloor.events.codec import decode, encode_structured
from shopfloor.runtime import Runtime, build
from shopfloor.store import inventory as inventory_store
from shopfloor.store.batch import Batch, apply_batch
from shopfloor.store.registry import HANDLERS
from shopfloor.web import outbound as outbound_web
from shopfloor.web.app import create_app
from tests.support import T0, event, unique_settings

T0_MS = int(T0.timestamp() * 1000)
MIN = 60_000


def apply(runtime: Runtime, events: list[dict[str, Any]]) -> None:
    items = [decode(*encode_structured(e)) for e in events]
    apply_batch(runtime.engine, Batch("web-test", list(items), {}, {}), HANDLERS)


def adj(sku: str, location: str, delta: int, n: int = 0) -> dict[str, Any]:
    data = {"sku": sku, "location": location, "delta": delta, "reason": "RECEIPT"}
    return event("InventoryAdjusted", data, offset_s=n)


def order(kind: str, order_id: str, minute: float, **data: Any) -> dict[str, Any]:
    return event(
        kind,
        {"order_id": order_id, **data},
        at=T0 + timedelta(minutes=minute),
        correlationid=f"corr-{order_id}",
    )


@pytest.fixture
async def warehouse(database_url: str) -> AsyncIterator[Callable[..., Any]]:
    runtimes: list[Runtime] = []

    def make(**overrides: Any) -> tuple[Runtime, httpx.AsyncClient]:
        settings = unique_settings("127.0.0.1:1", database_url, **overrides)
        runtime = build(settings, consume=False, serve_web=False)
        runtimes.append(runtime)
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(runtime)), base_url="http://t"
        )
        return runtime, client

    yield make
    for runtime in runtimes:
        runtime.engine.dispose()


async def test_inventory_pages_walk_every_row_once_in_each_sort(warehouse) -> None:  # type: ignore[no-untyped-def]
    runtime, client = warehouse()
    events = [
        adj(f"SKU-{s:02d}", f"L-{loc}", (s * 7 + loc * 3) % 23 - 3, s * 10 + loc)
        for s in range(9)
        for loc in range(5)
    ]
    apply(runtime, events)
    expected = {(e["data"]["sku"], e["data"]["location"]): e["data"]["delta"] for e in events}
    orders = {
        "sku": lambda k: (k[0], k[1]),
        "location": lambda k: (k[1], k[0]),
        "on_hand": lambda k: (expected[k], k[0], k[1]),
    }
    for sort, key in orders.items():
        seen, pages, cursor = [], [], None
        while True:
            params = {"limit": 7, "sort": sort, **({"after": cursor} if cursor else {})}
            body = (await client.get("/api/inventory", params=params)).json()
            pages.append(body)
            seen.extend((i["sku"], i["location"]) for i in body["items"])
            cursor = body["next"]
            if cursor is None:
                break
        assert seen == sorted(expected, key=key), sort
        assert len(pages) == 7
        back = (
            await client.get("/api/inventory", params={"limit": 7, "sort": sort, "before": pages[2]["prev"]})
        ).json()
        assert back["items"] == pages[1]["items"]
    body = (await client.get("/api/inventory", params={"limit": 1000})).json()
    assert {(i["sku"], i["location"]): i["on_hand"] for i in body["items"]} == expected
    assert body["summary"]["skus"] == 9 and body["summary"]["rows"] == 45


async def test_inventory_search_matches_sku_or_location_literally(warehouse) -> None:  # type: ignore[no-untyped-def]
    runtime, client = warehouse()
    apply(
        runtime,
        [
            adj("BOLT-10", "A-01", 5),
            adj("NUT-20", "B-10", 5, 1),
            adj("WASH_3", "C-03", 5, 2),
            adj("PIN%9", "D-04", 5, 3),
        ],
    )

    async def found(q: str) -> set[str]:
        body = (await client.get("/api/inventory", params={"q": q})).json()
        return {i["sku"] for i in body["items"]}

    assert await found("bolt") == {"BOLT-10"}
    assert await found("-10") == {"BOLT-10", "NUT-20"}
    assert await found("_") == {"WASH_3"}
    assert await found("%") == {"PIN%9"}
    page = (await client.get("/inventory", params={"q": "b-1"})).text
    assert re.findall(r'data-sku="([^"]+)"', page) == ["NUT-20"]


async def test_low_stock_follows_default_and_per_sku_reorder_points(warehouse) -> None:  # type: ignore[no-untyped-def]
    runtime, client = warehouse(inventory_reorder_point=10, inventory_reorder_points="BIG=100,NEVER=0")
    apply(
        runtime,
        [
            adj("BIG", "A", 60),
            adj("BIG", "B", 30, 1),
            adj("SMALL", "A", 9, 2),
            adj("OK", "A", 10, 3),
            adj("NEVER", "A", -5, 4),
        ],
    )
    body = (await client.get("/api/inventory", params={"low": "true"})).json()
    assert {i["sku"] for i in body["items"]} == {"BIG", "SMALL"}
    assert body["summary"]["low"] == 2
    assert [s["sku"] for s in body["low_skus"]] == ["SMALL", "BIG"]
    page = (await client.get("/inventory")).text
    lows = dict(re.findall(r'data-sku="([^"]+)"[^>]*data-low="(\d)"', page))
    assert lows == {"BIG": "1", "SMALL": "1", "OK": "0", "NEVER": "0"}
    on_hand = re.findall(r'data-location="A" data-on-hand="(-?\d+)"', page)
    assert on_hand == ["60", "-5", "10", "9"]


async def test_event_text_is_escaped(warehouse) -> None:  # type: ignore[no-untyped-def]
    runtime, client = warehouse()
    apply(
        runtime,
        [
            adj('<img src=x onerror="alert(1)">', "A", 1),
            order("OrderCreated", "<script>x()</script>", 0, customer="<b>bold</b>"),
        ],
    )
    inventory = (await client.get("/inventory")).text
    outbound = (await client.get("/outbound")).text
    assert "<img src=x" not in inventory and "&lt;img src=x" in inventory
    assert "<script>x()" not in outbound and "<b>bold" not in outbound
    timeline = await client.get("/outbound/timeline", params={"order": "<script>x()</script>"})
    assert timeline.status_code == 200 and "&lt;script&gt;" in timeline.text


@pytest.mark.parametrize(
    "url",
    [
        "/inventory?sort=price",
        "/inventory?after=%%%",
        "/inventory?after=WyJhIl0",
        "/inventory?low=maybe",
        "/api/inventory?limit=0",
        "/api/inventory?limit=abc",
        "/api/inventory?limit=1001",
        "/api/inventory?after=WyJhIiwiYiJd&before=WyJhIiwiYiJd",
        "/api/inventory?sort=on_hand&after=WyJhIiwiYiJd",
        "/api/inventory?q=" + "x" * 101,
        "/api/outbound?stage=LOST",
        "/api/outbound?offset=-1",
        "/api/outbound?late=perhaps",
        "/api/outbound?limit=5000",
        "/outbound/timeline",
        "/api/outbound/orders",
        "/outbound?q=" + "y" * 101,
    ],
)
async def test_bad_query_parameters_are_4xx_never_5xx(warehouse, url: str) -> None:  # type: ignore[no-untyped-def]
    runtime, client = warehouse()
    apply(runtime, [adj("S", "A", 1)])
    response = await client.get(url)
    assert 400 <= response.status_code < 500, (url, response.status_code, response.text[:200])
    missing = await client.get("/api/outbound/orders", params={"id": "nope"})
    assert missing.status_code == 404


async def test_late_and_stuck_are_judged_by_the_injected_clock(warehouse, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    runtime, _ = warehouse(outbound_stuck_minutes="CREATED=10,PAID=120,PICKED=60,DISPATCHED=600")
    apply(
        runtime,
        [
            order("OrderCreated", "SO-LATE", 0, due_at="2026-11-27T09:00:00Z"),
            order("PaymentProcessed", "SO-LATE", 1),
            order("OrderCreated", "SO-STUCK", 0, due_at="2026-11-28T09:00:00Z"),
            order("OrderCreated", "SO-FINE", 50, due_at="2026-11-28T09:00:00Z"),
            order("OrderCreated", "SO-DONE", 0, due_at="2026-11-27T08:30:00Z"),
            order("DeliveryCompleted", "SO-DONE", 45),
            order("ShipmentDispatched", "SO-JUMP", 5),
            order("PickCompleted", "SO-JUMP", 4),
        ],
    )
    now = {"ms": T0_MS + 55 * MIN}
    app = FastAPI()
    app.state.runtime = runtime
    app.include_router(outbound_web.router(runtime.engine, runtime.settings, clock=lambda: now["ms"]))
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")

    async def ids(**params: Any) -> set[str]:
        body = (await client.get("/api/outbound", params=params)).json()
        return {i["order_id"] for i in body["items"]}

    assert await ids(late="true") == set()
    assert await ids(stuck="true") == {"SO-STUCK"}
    now["ms"] = T0_MS + 61 * MIN + 1
    assert await ids(late="true") == {"SO-LATE"}
    assert await ids(stuck="true") == {"SO-STUCK", "SO-FINE"}
    body = (await client.get("/api/outbound")).json()
    assert (body["late"], body["stuck"]) == (1, 2)
    assert body["counts"] == {"CREATED": 2, "PAID": 1, "DELIVERED": 1, "DISPATCHED": 1}
    detail = (await client.get("/api/outbound/orders", params={"id": "SO-JUMP"})).json()
    assert detail["stage"] == "DISPATCHED" and detail["out_of_order"] == ["PICKED"]
    assert detail["correlationid"] == "corr-SO-JUMP"
    assert [t["stage"] for t in detail["timeline"]] == ["CREATED", "PAID", "PICKED", "DISPATCHED"]
    assert [t["inferred"] for t in detail["timeline"]] == [True, True, False, False]
    assert [e["note"] for e in detail["events"]] == [
        "skipped ahead: CREATED, PAID, PICKED inferred",
        "out of order",
    ]
    page = (await client.get("/outbound")).text
    cards = dict(
        re.findall(r'data-order="([^"]+)" data-stage="[A-Z_]+"\s+data-sort="[^"]*" data-late="(\d)"', page)
    )
    assert cards == {"SO-LATE": "1", "SO-STUCK": "0", "SO-FINE": "0", "SO-DONE": "0", "SO-JUMP": "0"}
    assert 'data-attention-order="SO-STUCK"' in page
    # the list is capped; what it leaves out is counted (late and stuck overlap counted once)
    monkeypatch.setattr(outbound_web, "ATTENTION_ROWS", 2)
    capped = (await client.get("/outbound")).text
    assert len(re.findall(r"data-attention-order=", capped)) == 2
    assert "+1 more need attention, not shown" in capped
    timeline = (await client.get("/outbound/timeline", params={"order": "SO-LATE"})).text
    assert "corr-SO-LATE" in timeline and "late" in timeline
    # times as the other pages give them (plant time, UTC here), not as ISO stamps ("…T09:00:00Z")
    assert '<dd>2026-11-27 09:00:00 <span class="badge late">late</span>' in timeline
    assert '<span class="at">2026-11-27 08:00:00</span> OrderCreated' in timeline
    # a search counts its own matches per lane: none matching is no lane "+N more waiting"
    for q, created in (("zzzz", 0), ("SO-ST", 1)):
        searched = (await client.get("/outbound", params={"q": q})).text
        assert f'id="lane-count-CREATED" data-total="{created}"' in searched
        more = re.findall(r'id="lane-more-[A-Z_]+"[^>]*data-count="(\d+)"', searched)
        assert len(more) >= 5 and set(more) == {"0"}


async def test_live_patches_carry_only_the_changed_rows(warehouse) -> None:  # type: ignore[no-untyped-def]
    runtime, client = warehouse()
    apply(runtime, [adj("S1", "A", 5), adj("S1", "B", 5, 1), adj("S2", "A", 5, 2)])
    await client.get("/inventory")
    key = inventory_store.stock_key("S1", "B")
    patch = await runtime.hub.views["inventory"].render_patch(frozenset({key}))
    assert re.findall(r'data-sku="([^"]+)" data-location="([^"]+)"', patch) == [("S1", "B")]
    assert 'data-sku-state="S1"' in patch and 'id="inv-summary"' in patch
    apply(runtime, [order("OrderCreated", "SO-9", 0)])
    patch = await runtime.hub.views["outbound"].render_patch(frozenset({"SO-9"}))
    assert '<template data-into="lane-CREATED"><li id="ob-SO-9"' in patch
    assert patch.count("data-order=") == 1


async def test_stock_rows_of_ids_with_separators_never_share_an_element(warehouse) -> None:  # type: ignore[no-untyped-def]
    """`a|b` at `c` and `a` at `b|c` once shared the element id `inv|a|b|c`: a patch for one
    replaced the other on screen."""
    runtime, client = warehouse()
    apply(runtime, [adj("a|b", "c", 5), adj("a", "b|c", 7, 1), adj("a\x1fb", "c", 9, 2)])
    page = (await client.get("/inventory")).text
    ids = re.findall(r'<tr id="([^"]+)" class="stock-row', page)
    assert len(ids) == 3 and len(set(ids)) == 3
    patch = await runtime.hub.views["inventory"].render_patch(
        frozenset({inventory_store.stock_key("a", "b|c")})
    )
    assert re.findall(r'data-sku="([^"]+)" data-location="([^"]+)" data-on-hand="(\d+)"', patch) == [
        ("a", "b|c", "7")
    ]


async def test_pick_rate_countdown_and_coming_deadlines(warehouse) -> None:  # type: ignore[no-untyped-def]
    # T0 is 08:00 UTC; the default day shift began at 06:00. Now: 09:00 (minute 60).
    runtime, _ = warehouse(outbound_stuck_minutes="CREATED=10,PAID=120,PICKED=60")
    tomorrow = "2026-11-28T09:00:00Z"
    events = []
    for order_id, picked, qty in (("SO-A", 10, 3), ("SO-B", 50, 5), ("SO-C", 58, 2)):
        lines = [{"sku": "X", "qty": qty}]
        events += [
            order("OrderCreated", order_id, picked - 2, due_at=tomorrow, lines=lines),
            order("PaymentProcessed", order_id, picked - 1, amount=1.0),
            order("PickCompleted", order_id, picked),
        ]
    events.append(
        order("OrderCreated", "SO-D", 55, due_at="2026-11-27T09:30:00Z", lines=[{"sku": "X", "qty": 1}])
    )
    apply(runtime, events)
    now = {"ms": T0_MS + 60 * MIN}
    app = FastAPI()
    app.state.runtime = runtime
    app.include_router(outbound_web.router(runtime.engine, runtime.settings, clock=lambda: now["ms"]))
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")

    rates = (await client.get("/api/outbound")).json()["pick_rate"]
    # last 15 min: SO-B and SO-C, 7 units in 0.25 h; shift: 3 orders, 10 units in 3 h
    assert {k: rates["last_15_min"][k] for k in ("orders", "units", "orders_per_hour", "units_per_hour")} == {
        "orders": 2,
        "units": 7,
        "orders_per_hour": 8.0,
        "units_per_hour": 28.0,
    }
    assert (rates["shift"]["orders_per_hour"], rates["shift"]["units_per_hour"]) == (1.0, 3.3)

    page = (await client.get("/outbound")).text
    assert 'data-pick-rate="last_15_min" data-orders-per-hour="8.0" data-units-per-hour="28.0"' in page
    card = re.search(r'<li id="ob-SO-D".*?</li>', page, re.S).group(0)  # type: ignore[union-attr]
    assert "due 09:30" in card and ">in 30 min<" in card
    tomorrows = re.search(r'<li id="ob-SO-A".*?</li>', page, re.S).group(0)  # type: ignore[union-attr]
    assert (
        "due Sat\u00a028\u00a0Nov 09:00" in tomorrows
    )  # not a bare "09:00", which reads as half an hour ago
    # The counts' coming flips: SO-D late at minute 90; stuck at 65 (SO-D), 70, 110, 118 (the picks).
    late = re.search(r'class="flag late" data-count="0" data-base="0" data-flips="([^"]*)"', page).group(1)  # type: ignore[union-attr]
    stuck = re.search(r'class="flag stuck" data-count="0" data-base="0" data-flips="([^"]*)"', page).group(1)  # type: ignore[union-attr]
    assert late.split()[0] == str(T0_MS + 90 * MIN) and len(late.split()) == 4
    assert stuck.split() == [str(T0_MS + m * MIN) for m in (65, 70, 110, 118)]

    now["ms"] = T0_MS + 95 * MIN
    page = (await client.get("/outbound")).text
    card = re.search(r'<li id="ob-SO-D".*?</li>', page, re.S).group(0)  # type: ignore[union-attr]
    assert ">5 min late<" in card
    assert 'class="flag late" data-count="1" data-base="1"' in page
