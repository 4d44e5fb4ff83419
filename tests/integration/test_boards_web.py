"""Each live board in process: its page, its board fragment and its hub patch, from a SQLite store the
real handlers filled, at a fixed "now". Expected markup is worked out by hand from the events."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from shopfloor.events.codec import decode, encode_structured
from shopfloor.live.hub import Hub
from shopfloor.runtime import Runtime, build
from shopfloor.store import inventory as inventory_store
from shopfloor.store.batch import Batch, Rejected, apply_batch
from shopfloor.store.registry import HANDLERS
from shopfloor.transport.base import Record
from shopfloor.web import dead_letters as dead_letters_web
from shopfloor.web import equipment as equipment_web
from shopfloor.web import inventory as inventory_web
from shopfloor.web import lines as lines_web
from shopfloor.web import outbound as outbound_web
from shopfloor.web import overview, work_orders
from shopfloor.web.board import LiveBoard, live_reader
from tests.support import T0, event, unique_settings, wo

MIN = 60_000
T0_MS = int(T0.timestamp() * 1000)
NOON = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

Boards = Callable[[Runtime, lines_web.Plan], list[LiveBoard]]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Callable[..., Runtime]]:
    """A runtime on a fresh SQLite file, filled by the real handlers in ONE batch (store version 1)."""
    made: list[Runtime] = []

    def fill(events: list[dict[str, Any]], rejected: Sequence[Rejected] = (), **overrides: Any) -> Runtime:
        settings = unique_settings(None, f"sqlite:///{tmp_path / 'store.db'}", **overrides)
        runtime = build(settings, consume=False, serve_web=False)
        made.append(runtime)
        items: list[Any] = [decode(*encode_structured(e)) for e in events] + list(rejected)
        apply_batch(runtime.engine, Batch("boards", items, {}, {}), HANDLERS)
        return runtime

    yield fill
    for runtime in made:
        runtime.engine.dispose()


@pytest.fixture
async def served() -> AsyncIterator[Callable[..., Any]]:
    """The boards on a bare app and a fresh hub, all reading the store at `now_ms`."""
    clients: list[httpx.AsyncClient] = []

    def serve(
        runtime: Runtime, boards: Boards, now_ms: int | Callable[[], int]
    ) -> tuple[httpx.AsyncClient, Hub]:
        plan = lines_web.Plan(runtime.settings, clock=now_ms if callable(now_ms) else lambda: now_ms)
        lines_web.use_plant_time(plan)
        reader = live_reader(runtime.engine, plan.clock)
        app, hub = FastAPI(), Hub(0, 0.01)
        app.state.runtime = runtime  # the shared template context reads it (sign-in state)
        for board in boards(runtime, plan):
            board.install(app, hub, reader)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
        clients.append(client)
        return client, hub

    yield serve
    for client in clients:
        await client.aclose()


def live_root(html: str) -> dict[str, str]:
    """The attributes of the page's `#live-root` (the shell every board shares)."""
    tag = re.search(r'<div id="live-root"([^>]*)>', html)
    assert tag is not None, "no #live-root"
    return dict(re.findall(r'([\w-]+)(?:="([^"]*)")?', tag.group(1)))


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


WORK_ORDERS = [
    event("WorkOrderStatusChanged", wo("WO-1", "RELEASED"), at=at(1)),
    event(
        "WorkOrderStatusChanged", wo("WO-1", "IN_PROGRESS", quantity_planned=10, quantity_done=3), at=at(5)
    ),
    event("WorkOrderStatusChanged", wo("WO-2", "ON_HOLD", line="L2", reason="jam"), at=at(6)),
    event("WorkOrderStatusChanged", wo("WO-3", "COMPLETED"), at=at(7)),
]
ROW = re.compile(r'data-work-order="([^"]+)" data-status="([^"]+)" data-line="([^"]+)"')
BAND = re.compile(r'data-line-band="([^"]+)" data-line-state="([^"]+)"')


async def test_work_order_board(store, served) -> None:  # type: ignore[no-untyped-def]
    runtime = store(WORK_ORDERS)
    client, hub = served(runtime, lambda *_: [work_orders.BOARD], T0_MS + 60 * MIN)

    page = (await client.get("/work-orders")).text
    assert ROW.findall(page) == [
        ("WO-1", "IN_PROGRESS", "L1"),
        ("WO-3", "COMPLETED", "L1"),
        ("WO-2", "ON_HOLD", "L2"),
    ]
    assert BAND.findall(page) == [("L1", "running"), ("L2", "held")]
    root = live_root(page)
    assert (root["data-view"], root["data-version"], root["data-board-url"]) == (
        "work-orders",
        "1",
        "/work-orders/board",
    )
    assert root["sse-connect"] == "/sse/work-orders?since=1" and "data-filtered" not in root

    filtered = (await client.get("/work-orders", params={"line": "L2"})).text
    assert live_root(filtered)["data-board-url"] == "/work-orders/board?line=L2"
    assert "data-filtered" in live_root(filtered)
    fragment = (await client.get("/work-orders/board", params={"line": "L2"})).text
    assert '<div class="board single-line" id="board" data-version="1">' in fragment
    assert ROW.findall(fragment) == [("WO-2", "ON_HOLD", "L2")] and "live-root" not in fragment

    patch = await hub.views["work-orders"].render_patch(frozenset({"WO-2"}))
    assert re.findall(r'<template data-into="([^"]+)"', patch) == ["lane-L2"]
    assert ROW.findall(patch) == [("WO-2", "ON_HOLD", "L2")] and BAND.findall(patch) == [("L2", "held")]


def adj(sku: str, location: str, delta: int, minute: float) -> dict[str, Any]:
    data = {"sku": sku, "location": location, "delta": delta, "reason": "RECEIPT"}
    return event("InventoryAdjusted", data, at=at(minute))


STOCK = re.compile(r'data-sku="([^"]+)" data-location="([^"]+)" data-on-hand="(-?\d+)" data-low="(\d)"')


async def test_inventory_board(store, served) -> None:  # type: ignore[no-untyped-def]
    # reorder point 20: S1 holds 3 + 30 = 33 (fine), S2 holds 4 (low)
    runtime = store(
        [adj("S1", "A", 5, 1), adj("S1", "B", 30, 2), adj("S2", "A", 4, 3), adj("S1", "A", -2, 4)]
    )
    points = inventory_web.ReorderPoints.from_settings(runtime.settings)
    client, hub = served(runtime, lambda *_: [inventory_web.live_board(points)], T0_MS + 60 * MIN)

    page = (await client.get("/inventory")).text
    assert STOCK.findall(page) == [("S1", "A", "3", "0"), ("S1", "B", "30", "0"), ("S2", "A", "4", "1")]
    assert re.findall(r'data-low-sku="([^"]+)"', page) == ["S2"]
    assert live_root(page)["data-board-url"] == "/inventory/board"
    sorted_page = (await client.get("/inventory", params={"sort": "on_hand", "q": "a"})).text
    assert live_root(sorted_page)["data-board-url"] == "/inventory/board?q=a&amp;sort=on_hand"
    assert STOCK.findall(sorted_page) == [("S1", "A", "3", "0"), ("S2", "A", "4", "1")]
    fragment = (await client.get("/inventory/board", params={"low": "true"})).text
    assert STOCK.findall(fragment) == [("S2", "A", "4", "1")] and "live-root" not in fragment

    patch = await hub.views["inventory"].render_patch(frozenset({inventory_store.stock_key("S1", "A")}))
    assert STOCK.findall(patch) == [("S1", "A", "3", "0")]
    assert '<template data-sku-state="S1" data-low="0" data-total="33">' in patch
    assert '<template data-remove="low-S1">' in patch
    summary = re.search(r'id="inv-summary">(.*?)</dl>', patch, re.S)
    assert summary is not None
    assert re.findall(r"<dd>(\d+)</dd>", summary.group(1)) == ["2", "3", "37", "1"]  # SKUs, rows, units, low


def order(kind: str, order_id: str, minute: float, **data: Any) -> dict[str, Any]:
    return event(kind, {"order_id": order_id, **data}, at=at(minute))


CARD = re.compile(
    r'data-order="([^"]+)" data-stage="([A-Z_]+)"\s+data-sort="[^"]*" data-late="(\d)" data-stuck="(\d)"'
)


async def test_outbound_board(store, served) -> None:  # type: ignore[no-untyped-def]
    # now: 09:00 (minute 60). CREATED is stuck after 10 min, PAID after 120.
    runtime = store(
        [
            order("OrderCreated", "SO-LATE", 0, due_at="2026-11-27T08:30:00Z"),
            order("OrderCreated", "SO-OLD", 0, due_at="2026-11-26T17:00:00Z"),  # due yesterday
            order("OrderCreated", "SO-OK", 55, due_at="2026-11-28T09:00:00Z"),
            order("OrderCreated", "SO-PAID", 0),
            order("PaymentProcessed", "SO-PAID", 50, amount=1.0),
            order("OrderCreated", "SO-DONE", 0),
            order("DeliveryCompleted", "SO-DONE", 20),
        ],
        outbound_stuck_minutes="CREATED=10,PAID=120,PICKED=60,DISPATCHED=600",
    )
    client, hub = served(runtime, lambda r, _: [outbound_web.live_board(r.settings)], T0_MS + 60 * MIN)

    page = (await client.get("/outbound")).text
    cards = {o: (stage, late, stuck) for o, stage, late, stuck in CARD.findall(page)}
    assert cards == {
        "SO-LATE": ("CREATED", "1", "1"),  # due 08:30, and 60 min in CREATED
        "SO-OLD": ("CREATED", "1", "1"),
        "SO-OK": ("CREATED", "0", "0"),  # 5 min in CREATED, due tomorrow
        "SO-PAID": ("PAID", "0", "0"),  # 10 of 120 min
        "SO-DONE": ("DELIVERED", "0", "0"),
    }
    due = dict(re.findall(r'data-order="([^"]+)"[^>]*?data-due="(\d*)"', page, re.S))
    assert due["SO-LATE"] == str(T0_MS + 30 * MIN) and due["SO-PAID"] == ""
    assert live_root(page)["data-board-url"] == "/outbound/board"
    found = (await client.get("/outbound", params={"q": "ok"})).text
    assert {k: v for k, v in live_root(found).items() if k in ("data-board-url", "data-q")} == {
        "data-board-url": "/outbound/board?q=ok",
        "data-q": "ok",
    }
    fragment = (await client.get("/outbound/board", params={"q": "ok"})).text
    assert [c[0] for c in CARD.findall(fragment)] == ["SO-OK"]
    attention = re.findall(r'data-attention-order="([^"]+)"', fragment)
    assert sorted(attention) == ["SO-LATE", "SO-OLD"]  # whatever the search
    # a due time of another day carries its day: a bare "17:00" would read as today's, still to come
    assert sorted(re.findall(r"late, due ([^<]+)<", fragment)) == ["08:30", "Thu\u00a026\u00a0Nov 17:00"]

    patch = await hub.views["outbound"].render_patch(frozenset({"SO-OK"}))
    assert re.findall(r'<template data-into="([^"]+)">', patch) == ["lane-CREATED"]
    assert CARD.findall(patch)[0] == ("SO-OK", "CREATED", "0", "0")
    counts = dict(re.findall(r'id="lane-count-([A-Z_]+)" data-total="(\d+)"', patch))
    assert {k: v for k, v in counts.items() if v != "0"} == {"CREATED": "3", "PAID": "1", "DELIVERED": "1"}


TILE = re.compile(r'data-equipment="([^"]+)" data-status="([^"]+)" data-line="([^"]+)"')


async def test_equipment_board(store, served) -> None:  # type: ignore[no-untyped-def]
    runtime = store(
        [
            event(
                "EquipmentStatusChanged",
                {"equipment_id": "M1", "status": "RUNNING", "line_id": "L1"},
                at=at(1),
            ),
            event(
                "EquipmentStatusChanged",
                {"equipment_id": "M2", "status": "RUNNING", "line_id": "L1"},
                at=at(2),
            ),
            event(
                "EquipmentStatusChanged", {"equipment_id": "M3", "status": "IDLE", "line_id": "L2"}, at=at(3)
            ),
            event(
                "EquipmentStatusChanged",
                {"equipment_id": "M2", "status": "DOWN", "line_id": "L1", "reason": "jam"},
                at=at(4),
            ),
        ]
    )
    client, hub = served(runtime, lambda *_: [equipment_web.BOARD], T0_MS + 60 * MIN)

    page = (await client.get("/equipment")).text
    assert TILE.findall(page) == [("M1", "RUNNING", "L1"), ("M2", "DOWN", "L1"), ("M3", "IDLE", "L2")]
    assert live_root(page)["data-board-url"] == "/equipment/board"
    assert 'data-trend-machine="M3"' in (await client.get("/equipment", params={"machine": "M3"})).text
    fragment = (await client.get("/equipment/board")).text
    assert TILE.findall(fragment) == TILE.findall(page) and "live-root" not in fragment

    patch = await hub.views["equipment"].render_patch(frozenset({"eq:M2"}))
    assert re.findall(r'<template data-into="([^"]+)"', patch) == ["line-L1"]
    assert TILE.findall(patch) == [("M2", "DOWN", "L1")]


def noon(minutes: float) -> datetime:
    return NOON + timedelta(minutes=minutes)


LINE_DOWN = [  # down from 11:00 to now (12:00); nothing made; the shift began 06:00
    event(
        "EquipmentStatusChanged",
        {"equipment_id": "M9", "status": "DOWN", "line_id": "L2", "reason": "changeover"},
        at=noon(-60),
    )
]
SUMMARY = re.compile(
    r'data-line-summary="([^"]+)" data-line-state="([^"]+)" data-oee="([^"]*)"\s+data-availability="([^"]*)"'
)


async def test_lines_and_downtime_boards(store, served) -> None:  # type: ignore[no-untyped-def]
    runtime = store(LINE_DOWN, breaks="10:00-10:15", line_target_share=1.0)
    noon_ms = int(NOON.timestamp() * 1000)
    client, hub = served(runtime, lambda _, plan: list(lines_web.live_boards(plan)), noon_ms)
    # planned 06:00-12:00 less the 15 min break: 345 min; down 60 of them
    expected = [("L2", "stopped", "", f"{285 / 345:.3f}")]

    page = (await client.get("/lines")).text
    assert SUMMARY.findall(page) == expected
    assert live_root(page)["data-board-url"] == "/lines/board"
    assert SUMMARY.findall((await client.get("/lines/board")).text) == expected
    assert SUMMARY.findall(await hub.views["lines"].render_patch(frozenset({"L2"}))) == expected

    reasons = re.compile(r'<tr data-reason="([^"]+)"><td>[^<]*</td><td>([\d.]+)</td>')
    downtime = (await client.get("/downtime")).text
    assert 'data-downtime-line="L2"' in downtime
    assert reasons.findall(downtime) == [("changeover", "60.0")] * 3  # this shift, 24 h, 7 days
    assert live_root(downtime)["data-board-url"] == "/downtime/board"
    assert reasons.findall((await client.get("/downtime/board")).text) == [("changeover", "60.0")] * 3
    patch = await hub.views["downtime"].render_patch(frozenset({"followed"}))
    assert patch.startswith('<template><div class="downtime-board" id="board"')
    assert reasons.findall(patch) == [("changeover", "60.0")] * 3
    assert hub.views["downtime"].follows == {"lines"}


def _refresh(html: str, element: str) -> dict[str, str]:
    """The htmx attributes on the first tag whose attributes include `element` (e.g. `id="board"`)."""
    tag = re.search(rf"<div [^>]*{re.escape(element)}[^>]*>", html)
    assert tag is not None, f"no {element}"
    return dict(re.findall(r'(hx-[\w-]+)="([^"]*)"', tag.group(0)))


async def test_shift_figures_turn_over_on_a_quiet_plant(store, served) -> None:  # type: ignore[no-untyped-def]
    """A quiet plant sends no event when a shift ends, so nothing would push the new shift's figures:
    the downtime board and the overview (its line strip is this shift's) ask again every 30 s, and
    asked after 14:00 with no new event, they show the shift that began then."""
    runtime = store(LINE_DOWN, line_target_share=1.0)
    now = {"ms": int(NOON.timestamp() * 1000)}
    points = inventory_web.ReorderPoints.from_settings(runtime.settings)

    def boards(r: Runtime, plan: lines_web.Plan) -> list[LiveBoard]:
        return [*lines_web.live_boards(plan), overview.live_board(points, r.settings.stuck_limits_ms(), plan)]

    client, _ = served(runtime, boards, lambda: now["ms"])
    reasons = re.compile(r'<tr data-reason="([^"]+)"><td>[^<]*</td><td>([\d.]+)</td>')
    downtime = (await client.get("/downtime")).text
    assert _refresh(downtime, 'id="board"') == {
        "hx-get": "/downtime/board",
        "hx-trigger": "every 30s",
        "hx-swap": "outerHTML",
    }
    assert reasons.findall(downtime) == [("changeover", "60.0")] * 3  # down since 11:00; shift from 06:00
    home = (await client.get("/")).text
    assert _refresh(home, 'id="tiles"') == {
        "hx-get": "/",
        "hx-select": "#tiles",
        "hx-trigger": "every 30s",
        "hx-swap": "outerHTML",
    }
    run = re.compile(r"run ([\d.]+) of ([\d.]+) planned min")  # the line strip's shift so far
    assert run.findall(home) == [("300.0", "360.0")]  # 06:00-12:00, down since 11:00

    now["ms"] = int((NOON + timedelta(hours=2, minutes=5)).timestamp() * 1000)  # 14:05, no new event
    later = (await client.get("/downtime/board")).text
    # this shift 14:00-14:05, the last 24 h and 7 days 11:00-14:05
    assert reasons.findall(later) == [("changeover", "5.0"), ("changeover", "185.0"), ("changeover", "185.0")]
    assert run.findall((await client.get("/")).text) == [("0.0", "5.0")]  # 14:00-14:05, down throughout


async def test_overview_board(store, served) -> None:  # type: ignore[no-untyped-def]
    runtime = store(WORK_ORDERS)
    points = inventory_web.ReorderPoints.from_settings(runtime.settings)

    def boards(r: Runtime, plan: lines_web.Plan) -> list[LiveBoard]:
        return [overview.live_board(points, r.settings.stuck_limits_ms(), plan)]

    client, hub = served(runtime, boards, T0_MS + 60 * MIN)
    page = (await client.get("/")).text
    assert re.findall(r'data-figure="wo-open">(\d+)<', page) == ["2"]  # WO-1 in progress, WO-2 on hold
    assert re.findall(r'data-line-summary="([^"]+)"', page) == ["L1", "L2"]
    root = live_root(page)
    assert root["data-view"] == "overview" and "data-board-url" not in root
    assert (await client.get("/board")).status_code == 404  # the overview reloads whole
    patch = await hub.views["overview"].render_patch(frozenset({"followed"}))
    assert patch.startswith('<template><div id="tiles"') and 'data-figure="wo-open">2<' in patch
    assert hub.views["overview"].follows == {"work-orders", "inventory", "outbound", "equipment", "lines"}


async def test_dead_letter_board(store, served) -> None:  # type: ignore[no-untyped-def]
    bad = [
        Rejected(Record("mes.equipment", 0, 7, b"M1", b"{not json"), "undecodable: bad json"),
        Rejected(Record("wms.inventory", 2, 9, b"S1", b'{"type": "Nope"}'), "unknown type Nope"),
    ]
    runtime = store([], bad)
    client, hub = served(runtime, lambda *_: [dead_letters_web.BOARD], T0_MS)
    letter = re.compile(
        r'data-topic="([^"]+)" data-partition="(\d+)"\s+data-offset="(\d+)" data-state="([A-Z]+)"'
    )

    page = (await client.get("/dead-letters")).text  # sign-in off: a local supervisor
    assert letter.findall(page) == [("wms.inventory", "2", "9", "NEW"), ("mes.equipment", "0", "7", "NEW")]
    assert re.findall(r'data-count="NEW">(\d+) new', page) == ["2"]
    assert live_root(page)["data-board-url"] == "/dead-letters/board?status=NEW"
    fragment = (await client.get("/dead-letters/board", params={"status": "DISCARDED"})).text
    assert letter.findall(fragment) == [] and "live-root" not in fragment
    assert (await client.get("/dead-letters", params={"status": "nope"})).status_code in (400, 422)
    assert await hub.views["dead-letters"].render_patch(frozenset({"*"})) == ""  # new letters reload
