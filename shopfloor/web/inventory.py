"""Stock levels: a windowed page over 250,000 SKU x location rows, live row patches, and the JSON API.

Low stock is judged here, at read time, against the configured reorder points. A page shows one
keyset window; live patches replace only rows that are already on a subscriber's page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sqlalchemy import Connection, Engine

from shopfloor.config import Settings
from shopfloor.projections.inventory import is_low, reorder_point
from shopfloor.store import inventory as store
from shopfloor.store.batch import current_version
from shopfloor.store.db import iso
from shopfloor.web.board import LiveBoard, Read, Reader, live_reader

VIEW = store.VIEW
PAGE_ROWS = 50
LOW_PANEL_ROWS = 20
Search = Annotated[str | None, Query(max_length=100, description="part of a SKU or location")]
Sort = Annotated[str, Query(pattern="^(sku|location|on_hand)$", description="sku, location or on_hand")]
Cursor = Annotated[str | None, Query(max_length=600, pattern="^[A-Za-z0-9_-]*$")]
LowOnly = Annotated[bool, Query(description="only SKUs below their reorder point")]


@dataclass(frozen=True)
class ReorderPoints:
    default: int
    overrides: dict[str, int]

    @classmethod
    def from_settings(cls, settings: Settings) -> ReorderPoints:
        return cls(settings.inventory_reorder_point, settings.reorder_points())

    @property
    def ceiling(self) -> int:
        return max([self.default, *self.overrides.values()])

    def of(self, sku: str) -> int:
        return reorder_point(sku, self.default, self.overrides)

    def low(self, sku: str, total: int) -> bool:
        return is_low(sku, total, self.default, self.overrides)


def low_totals(conn: Connection, points: ReorderPoints) -> list[dict[str, Any]]:
    """SKUs below their reorder point, emptiest first (reads only totals under the highest point)."""
    return [t for t in store.totals_below(conn, points.ceiling) if points.low(t["sku"], t["on_hand"])]


def _decorate(rows: list[dict[str, Any]], totals: dict[str, dict[str, Any]], points: ReorderPoints) -> None:
    for row in rows:
        total = totals.get(row["sku"], {}).get("on_hand", row["on_hand"])
        row["total"] = total
        row["reorder_point"] = points.of(row["sku"])
        row["low"] = points.low(row["sku"], total)
        row["row_id"] = store.row_id(row["sku"], row["location"])


def low_sort(total: dict[str, Any]) -> str:
    return f"{total['on_hand'] + 10**12:013d}|{total['sku']}"


def window(
    conn: Connection,
    points: ReorderPoints,
    *,
    q: str | None,
    sort: str,
    after: str | None,
    before: str | None,
    limit: int,
    low_only: bool,
) -> tuple[store.Window, list[dict[str, Any]]]:
    lows = low_totals(conn, points)
    skus = [t["sku"] for t in lows] if low_only else None
    try:
        page = store.stock_window(
            conn, q=q or None, skus=skus, sort=sort, after=after, before=before, limit=limit
        )
    except store.BadCursor as exc:
        raise HTTPException(400, str(exc)) from None
    _decorate(page.rows, store.get_totals(conn, {r["sku"] for r in page.rows}), points)
    return page, lows


def _query_string(**params: Any) -> str:
    from urllib.parse import urlencode

    return urlencode({k: v for k, v in params.items() if v not in (None, "", False, "sku")})


def board(read: Read, points: ReorderPoints, params: dict[str, Any]) -> dict[str, Any]:
    page, lows = window(read.conn, points, limit=PAGE_ROWS, **params)
    summary = store.summary(read.conn)
    filters = {k: params[k] for k in ("q", "sort", "low_only")}
    base = {"q": filters["q"], "sort": filters["sort"], "low": filters["low_only"]}
    return {
        "rows": page.rows,
        "lows": lows[:LOW_PANEL_ROWS],
        "summary": {**summary, "low": len(lows)},
        "next_url": _query_string(**base, after=page.next_cursor) if page.next_cursor else None,
        "prev_url": _query_string(**base, before=page.prev_cursor) if page.prev_cursor else None,
        "board_query": _query_string(**base, after=params["after"], before=params["before"]),
        "points": points,
        "low_sort": low_sort,
        "page_rows": PAGE_ROWS,
        **filters,
    }


def patch(read: Read, points: ReorderPoints, keys: frozenset[str]) -> dict[str, Any]:
    pairs = [store.split_key(k) for k in keys]
    rows = store.get_stock(read.conn, pairs)
    totals = store.get_totals(read.conn, {sku for sku, _ in pairs})
    lows = low_totals(read.conn, points)
    summary = store.summary(read.conn)
    _decorate(rows, totals, points)
    states = [
        {**t, "low": points.low(sku, t["on_hand"]), "reorder_point": points.of(sku)}
        for sku, t in sorted(totals.items())
    ]
    return {"rows": rows, "states": states, "summary": {**summary, "low": len(lows)}, "low_sort": low_sort}


def _api_item(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "sku": row["sku"],
        "location": row["location"],
        "on_hand": row["on_hand"],
        "sku_on_hand": row["total"],
        "reorder_point": row["reorder_point"],
        "low": row["low"],
        "warehouse": row["warehouse"],
        "last_reason": row["last_reason"],
        "last_delta": row["last_delta"],
        "correlationid": row["correlationid"],
        "updated_at": iso(row["updated_ms"]),
    }


def _one_of(after: str | None, before: str | None) -> None:
    if after and before:
        raise HTTPException(400, "give `after` or `before`, not both")


def window_query(
    q: Search = None, sort: Sort = "sku", after: Cursor = None, before: Cursor = None, low: LowOnly = False
) -> dict[str, Any]:
    """The query parameters every inventory view shares, as `window()`/`board()` keyword arguments."""
    _one_of(after, before)
    return {
        "q": (q or "").strip() or None,
        "sort": sort,
        "after": after or None,
        "before": before or None,
        "low_only": low,
    }


WindowQuery = Annotated[dict[str, Any], Depends(window_query)]


def live_board(points: ReorderPoints) -> LiveBoard:
    return LiveBoard(
        view=VIEW,
        path="/inventory",
        page="inventory/page.html",
        board="inventory/board.html",
        patch_template="inventory/patch.html",
        context=lambda read, query: board(read, points, query),
        patch=lambda read, keys: patch(read, points, keys),
        params=window_query,
    )


def router(engine: Engine, settings: Settings, reader: Reader | None = None) -> APIRouter:
    """The board's page and fragment (read through `reader`, the live store by default) and the API."""
    points = ReorderPoints.from_settings(settings)
    reader = reader or live_reader(engine)
    api = live_board(points).router(reader)

    @api.get("/api/inventory")
    def inventory_api(
        request: Request, query: WindowQuery, limit: Annotated[int, Query(ge=1, le=1000)] = 100
    ) -> dict[str, Any]:
        with reader(request) as read:
            conn = read.conn
            version, _, _ = current_version(conn)
            page, lows = window(conn, points, limit=limit, **query)
            summary = store.summary(conn)
        return {
            "version": version,
            "items": [_api_item(r) for r in page.rows],
            "next": page.next_cursor,
            "prev": page.prev_cursor,
            "limit": limit,
            "summary": {**summary, "low": len(lows)},
            "low_skus": [
                {"sku": t["sku"], "on_hand": t["on_hand"], "reorder_point": points.of(t["sku"])}
                for t in lows[:LOW_PANEL_ROWS]
            ],
        }

    return api


def tile(conn: Connection, points: ReorderPoints) -> dict[str, Any]:
    """Figures for the overview page's inventory tile."""
    return {**store.summary(conn), "low": len(low_totals(conn, points))}
