"""Inventory tables, the batch handler around the pure folds, and the windowed queries pages use.

Pages never read all 250,000 SKU x location rows: every list is a keyset window over an index
(`(sku, location)`, `(location, sku)` or `(on_hand, sku, location)`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    String,
    and_,
    bindparam,
    false,
    func,
    or_,
    select,
    tuple_,
)
from sqlalchemy import column as sql_column
from sqlalchemy import values as sql_values
from sqlalchemy.dialects import postgresql

from shopfloor.events.envelope import Envelope
from shopfloor.projections.frozen import frozen
from shopfloor.projections.inventory import SkuTotal, StockLevel, fold_stock, fold_total
from shopfloor.store.changes import Changes
from shopfloor.store.db import execute_cached, upsert_tuples
from shopfloor.store.entity import CHUNK, bump, columns_of, like, load
from shopfloor.store.schema import row_values, table_of

VIEW = "inventory"


@frozen
class Location:
    """Every location and how many SKUs it holds: lets a search find matching locations cheaply."""

    location: str
    skus: int


STOCK = table_of(
    StockLevel,
    "inventory_stock",
    key=("sku", "location"),
    indexes={
        "ix_inventory_stock_location_sku": ("location", "sku"),
        "ix_inventory_stock_on_hand": ("on_hand", "sku", "location"),
    },
)
TOTALS = table_of(SkuTotal, "inventory_totals", key=("sku",), index=("on_hand",))
LOCATIONS = table_of(Location, "inventory_locations", key=("location",))
SEARCH_SORT_LIMIT = 20_000

SORTS: dict[str, tuple[str, ...]] = {
    "sku": ("sku", "location"),
    "location": ("location", "sku"),
    "on_hand": ("on_hand", "sku", "location"),
}


def stock_key(sku: str, location: str) -> str:
    """One string per (sku, location) pair, whatever characters the ids hold: the pair as JSON
    (a separator character would let `a|b`+`c` and `a`+`b|c` meet on one key, and one page row)."""
    if _plain(sku) and _plain(location):  # what json.dumps leaves as it is
        return f'["{sku}","{location}"]'
    return json.dumps([sku, location], separators=(",", ":"))


def _plain(text: str) -> bool:
    """Printable ASCII but `"` and `\\`: the characters json.dumps writes as they are."""
    return text.isascii() and text.isprintable() and '"' not in text and "\\" not in text


def split_key(key: str) -> tuple[str, str]:
    sku, location = json.loads(key)
    return sku, location


def row_id(sku: str, location: str) -> str:
    """The page element id of a stock row (unique per pair, like stock_key)."""
    return f"inv{stock_key(sku, location)}"


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _stock_rows(conn: Connection, pairs: Sequence[tuple[str, str]]) -> list[Any]:
    """Stock rows for (sku, location) pairs, joined on the primary key. PostgreSQL: two arrays
    unnested, one short statement for any number of pairs (a statement with a thousand placeholders
    costs psycopg more to convert, uncached, than the server to run). SQLite: a VALUES list, as it
    scans row-value IN lists and OR-ed equalities are as slow to build as to plan; padded to one of a
    few lengths with ("", ""), which no row has (ids are non-empty), so a handful of statements, each
    compiled once, serve every batch."""
    if conn.dialect.name == "postgresql" and not conn.get_execution_options().get("schema_translate_map"):
        return conn.exec_driver_sql(
            _PG_STOCK_SQL, ([s for s, _ in pairs], [loc for _, loc in pairs])
        ).fetchall()
    return [row for chunk in _chunks(pairs) for row in _stock_chunk(conn, chunk)]


def _stock_chunk(conn: Connection, pairs: Sequence[tuple[str, str]]) -> Any:
    size = next((n for n in (8, 16, 32, 64, 128, 256) if n >= len(pairs)), max(CHUNK, len(pairs)))
    statement = _STOCK_QUERIES.get(size)
    if statement is None:
        rows = [(bindparam(f"s{i}", type_=String), bindparam(f"l{i}", type_=String)) for i in range(size)]
        wanted = sql_values(sql_column("sku", String), sql_column("location", String), name="wanted")
        wanted_rows = wanted.data(rows).cte()
        statement = _STOCK_QUERIES[size] = select(*(STOCK.c[name] for name in STOCK_COLUMNS)).join(
            wanted_rows, and_(STOCK.c.sku == wanted_rows.c.sku, STOCK.c.location == wanted_rows.c.location)
        )
    params: dict[str, str] = {}
    for i in range(size):
        sku, location = pairs[i] if i < len(pairs) else ("", "")
        params[f"s{i}"] = sku
        params[f"l{i}"] = location
    return execute_cached(conn, statement, params)


_STOCK_QUERIES: dict[int, Any] = {}
STOCK_COLUMNS = columns_of(STOCK)
_PG = postgresql.dialect().identifier_preparer
_PG_STOCK_SQL = (
    f"SELECT {', '.join(f's.{_PG.quote(c)}' for c in STOCK_COLUMNS)} FROM {_PG.format_table(STOCK)} AS s "
    "JOIN unnest(CAST(%s AS text[]), CAST(%s AS text[])) AS wanted(sku, location) "
    "ON s.sku = wanted.sku AND s.location = wanted.location"
)
TOTAL_COLUMNS = columns_of(TOTALS)
_stock_tuple = row_values(STOCK)  # a row's parameters straight from the folded state
_total_tuple = row_values(TOTALS)


class InventoryHandler:
    event_types = frozenset({"InventoryAdjusted"})
    tables = (STOCK, TOTALS, LOCATIONS)
    views = (VIEW,)

    def apply(self, conn: Connection, events: Sequence[Envelope], changes: Changes) -> None:
        pairs = sorted({(e.data.sku, e.data.location) for e in events})  # type: ignore[attr-defined]
        skus = sorted({sku for sku, _ in pairs})
        levels: dict[tuple[str, str], StockLevel] = {}
        levels.update({(r[0], r[1]): StockLevel(*r) for r in _stock_rows(conn, pairs)})
        totals = {r[0]: SkuTotal(*r) for r in load(conn, TOTALS, TOTAL_COLUMNS, "sku", skus)}
        new_locations: dict[str, int] = {}
        oldest_ms: int | None = None
        for event in events:
            data = event.data
            pair = (data.sku, data.location)  # type: ignore[attr-defined]
            current = levels.get(pair)
            if current is None:
                new_locations[pair[1]] = new_locations.get(pair[1], 0) + 1
            levels[pair] = fold_stock(current, event)
            totals[pair[0]] = fold_total(totals.get(pair[0]), event, new_location=current is None)
            at_ms = event.event_ms
            if oldest_ms is None or at_ms < oldest_ms:
                oldest_ms = at_ms
        if oldest_ms is not None:
            changes.mark_many(VIEW, [stock_key(*pair) for pair in pairs], oldest_ms)
        upsert_tuples(
            conn, STOCK, STOCK_COLUMNS, [_stock_tuple(levels[p]) for p in pairs], ["sku", "location"]
        )
        upsert_tuples(conn, TOTALS, TOTAL_COLUMNS, [_total_tuple(totals[s]) for s in skus], ["sku"])
        bump(conn, LOCATIONS, new_locations, "skus")


# --- reads -----------------------------------------------------------------------------------


class BadCursor(ValueError):
    """A page cursor that this server did not hand out."""


def encode_cursor(sort: str, row: dict[str, Any]) -> str:
    values = [row[c] for c in SORTS[sort]]
    return base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(sort: str, cursor: str) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except ValueError:
        raise BadCursor("cursor is not one this server handed out") from None
    columns = SORTS[sort]
    if not isinstance(values, list) or len(values) != len(columns):
        raise BadCursor(f"cursor does not fit sort={sort}")
    for column, value in zip(columns, values, strict=True):
        expected = int if column == "on_hand" else str
        if not isinstance(value, expected) or isinstance(value, bool):
            raise BadCursor(f"cursor does not fit sort={sort}")
    return values


@dataclass(frozen=True)
class Window:
    rows: list[dict[str, Any]]
    next_cursor: str | None
    prev_cursor: str | None


def _search(conn: Connection, q: str) -> Any:
    """Rows whose SKU or location contains `q`.

    Few matching rows: look the SKUs up in the totals and the locations in their own table, then
    read just those rows through the indexes. Many: scan in page order, which stops early.
    """
    pattern = like(q)
    skus = conn.execute(
        select(TOTALS.c.sku, TOTALS.c.locations).where(TOTALS.c.sku.ilike(pattern, escape="\\"))
    ).all()
    locations = conn.execute(
        select(LOCATIONS.c.location, LOCATIONS.c.skus).where(LOCATIONS.c.location.ilike(pattern, escape="\\"))
    ).all()
    if sum(n for _, n in skus) + sum(n for _, n in locations) > SEARCH_SORT_LIMIT:
        return or_(STOCK.c.sku.ilike(pattern, escape="\\"), STOCK.c.location.ilike(pattern, escape="\\"))
    conditions = []
    if skus:
        conditions.append(STOCK.c.sku.in_([sku for sku, _ in skus]))
    if locations:
        conditions.append(STOCK.c.location.in_([loc for loc, _ in locations]))
    return or_(*conditions) if conditions else false()


def stock_window(
    conn: Connection,
    *,
    q: str | None = None,
    skus: Sequence[str] | None = None,
    sort: str = "sku",
    after: str | None = None,
    before: str | None = None,
    limit: int = 50,
) -> Window:
    """One page of stock rows in `sort` order, after (or before) a cursor; never a full read."""
    columns = [STOCK.c[c] for c in SORTS[sort]]
    query = select(STOCK)
    if q:
        query = query.where(_search(conn, q))
    if skus is not None:
        query = query.where(STOCK.c.sku.in_(list(skus)))
    backwards = before is not None and after is None
    if after is not None:
        query = query.where(tuple_(*columns) > tuple_(*decode_cursor(sort, after)))
    elif before is not None:
        query = query.where(tuple_(*columns) < tuple_(*decode_cursor(sort, before)))
    order = [c.desc() for c in columns] if backwards else columns
    rows = [dict(r._mapping) for r in conn.execute(query.order_by(*order).limit(limit + 1))]
    more = len(rows) > limit
    rows = rows[:limit]
    if backwards:
        rows.reverse()
    has_next = more if not backwards else True
    has_prev = (after is not None) if not backwards else more
    return Window(
        rows=rows,
        next_cursor=encode_cursor(sort, rows[-1]) if rows and has_next else None,
        prev_cursor=encode_cursor(sort, rows[0]) if rows and has_prev else None,
    )


def get_stock(conn: Connection, pairs: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in _stock_rows(conn, sorted(pairs))]


def get_totals(conn: Connection, skus: Iterable[str]) -> dict[str, dict[str, Any]]:
    columns = columns_of(TOTALS)
    return {
        r[0]: dict(zip(columns, r, strict=True))
        for r in load(conn, TOTALS, columns, "sku", sorted(set(skus)))
    }


def totals_below(conn: Connection, ceiling: int) -> list[dict[str, Any]]:
    """SKU totals under `ceiling` (the highest reorder point), lowest first; uses the on_hand index."""
    query = select(TOTALS).where(TOTALS.c.on_hand < ceiling).order_by(TOTALS.c.on_hand, TOTALS.c.sku)
    return [dict(r._mapping) for r in conn.execute(query)]


def summary(conn: Connection) -> dict[str, int]:
    skus, rows, units = conn.execute(
        select(
            func.count(),
            func.coalesce(func.sum(TOTALS.c.locations), 0),
            func.coalesce(func.sum(TOTALS.c.on_hand), 0),
        )
    ).one()
    return {"skus": int(skus), "rows": int(rows), "units": int(units)}
