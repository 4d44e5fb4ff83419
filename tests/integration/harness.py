"""Runs the real projector in process against the real broker, and reads back what it built."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Engine, select, text

from shopfloor.config import Settings
from shopfloor.runtime import Runtime, build
from shopfloor.store import work_orders as wo_store
from tests.support import wait_until


@asynccontextmanager
async def projecting(settings: Settings) -> AsyncIterator[Runtime]:
    runtime = build(settings, consume=True, serve_web=False)
    async with runtime.lifespan(None):
        yield runtime


def applied_total(runtime: Runtime) -> int:
    assert runtime.projector is not None
    status = runtime.projector.status
    return status.consumed


async def wait_consumed(runtime: Runtime, count: int, timeout: float = 60) -> None:
    await wait_until(lambda: applied_total(runtime) >= count, timeout, f"{count} records consumed")


def table_rows(engine: Engine, table: Any, order_by: list[str]) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(table).order_by(*[table.c[c] for c in order_by]))
        return [dict(r._mapping) for r in rows]


def work_order_state(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Everything the work-order read models hold, in a canonical order, for equality checks."""
    return {
        "orders": table_rows(engine, wo_store.ORDERS, ["work_order_id"]),
        "history": table_rows(engine, wo_store.HISTORY, ["work_order_id", "position"]),
        "counts": [r for r in table_rows(engine, wo_store.COUNTS, ["line_id", "status"]) if r["count"]],
    }


def count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
