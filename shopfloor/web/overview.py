"""The plant overview: one tile per board with its headline figures, kept live."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, func, select

from shopfloor.projections.work_orders import OPEN_STATUSES
from shopfloor.store import alerts as alert_store
from shopfloor.store import equipment as equipment_store
from shopfloor.store import work_orders as wo_store
from shopfloor.web import inventory as inventory_web
from shopfloor.web import lines as lines_web
from shopfloor.web import outbound as outbound_web
from shopfloor.web.board import LiveBoard, Read

VIEW = "overview"
FOLLOWS = frozenset(
    {wo_store.VIEW, inventory_web.VIEW, outbound_web.VIEW, equipment_store.VIEW, lines_web.VIEW}
)


def _equipment(conn: Connection) -> dict[str, Any]:
    status = equipment_store.EQUIPMENT.c.status
    by_status = dict(conn.execute(select(status, func.count()).group_by(status)).all())
    standing = conn.execute(
        select(func.count()).select_from(alert_store.ALERTS).where(alert_store.ALERTS.c.state != "CLEARED")
    ).scalar_one()
    return {"machines": sum(by_status.values()), "down": by_status.get("DOWN", 0), "alerts": standing}


def tiles(
    read: Read,
    points: inventory_web.ReorderPoints,
    limits_ms: Mapping[str, int],
    plan: lines_web.Plan,
) -> dict[str, Any]:
    conn = read.conn
    counts = wo_store.line_counts(conn)
    open_orders = sum(n for per_line in counts.values() for s, n in per_line.items() if s in OPEN_STATUSES)
    return {
        "wo_open": open_orders,
        "wo_lines": len(counts),
        "lines": sorted(counts),
        "inventory": inventory_web.tile(conn, points),
        "outbound": outbound_web.tile(conn, limits_ms, read.now_ms),
        "equipment": _equipment(conn),
        # the strip: the same bands as /lines
        "line_bands": lines_web.summaries(conn, plan, read.now_ms)["lines"],
    }


def live_board(
    points: inventory_web.ReorderPoints, limits_ms: Mapping[str, int], plan: lines_web.Plan
) -> LiveBoard:
    """Every frame re-renders all tiles (it follows the other boards' views)."""

    def context(read: Read, _params: Any = None) -> dict[str, Any]:
        return tiles(read, points, limits_ms, plan)

    return LiveBoard(
        view=VIEW,
        path="/",
        page="index.html",
        board="overview/tiles.html",
        board_route=False,
        patch_template="overview/patch.html",
        context=context,
        patch=lambda read, _keys: context(read),
        follows=FOLLOWS,
        page_name="overview",
    )
