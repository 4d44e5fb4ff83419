"""The timeline under a past view: the range a past view can show, and the moments worth a look
(alerts raised, machines stopped, orders falling late), read from the live store."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, or_, select

from shopfloor.store import alerts as alert_store
from shopfloor.store import lines as line_store
from shopfloor.store import outbound as outbound_store

MARKERS_PER_KIND = 200  # a slider a few hundred pixels wide shows no more than that
ENDED = ("COMPLETED", "CANCELLED")
OUTBOUND_ENDED = ("DELIVERED", "CANCELLED", "PAYMENT_FAILED")


def markers(conn: Connection, from_ms: int, to_ms: int) -> list[dict[str, Any]]:
    """Newest first per kind, then merged by time: `{at_ms, kind, label}`."""
    alerts, changes, line_orders = alert_store.ALERTS, line_store.CHANGES, line_store.ORDERS
    orders = outbound_store.ORDERS
    found: list[dict[str, Any]] = []
    window = (from_ms, to_ms)

    def add(kind: str, query: Any, label: Any) -> None:
        for row in conn.execute(query.limit(MARKERS_PER_KIND)):
            found.append({"at_ms": int(row[0]), "kind": kind, "label": label(row)})

    add(
        "alert",
        select(alerts.c.opened_ms, alerts.c.equipment_id, alerts.c.sensor, alerts.c.severity)
        .where(alerts.c.opened_ms.between(*window))
        .order_by(alerts.c.opened_ms.desc()),
        lambda r: f"alert: {r.equipment_id} {r.sensor} ({r.severity.lower()})",
    )
    add(
        "stoppage",
        select(changes.c.at_ms, changes.c.equipment_id, changes.c.line_id, changes.c.reason)
        .where(changes.c.at_ms.between(*window), changes.c.status == "DOWN")
        .order_by(changes.c.at_ms.desc()),
        lambda r: f"stoppage: {r.equipment_id} on line {r.line_id}" + (f" ({r.reason})" if r.reason else ""),
    )
    add(
        "late",
        select(orders.c.due_ms, orders.c.order_id)
        .where(
            orders.c.due_ms.between(*window),
            or_(
                and_(orders.c.delivered_ms.is_(None), orders.c.stage.not_in(OUTBOUND_ENDED)),
                orders.c.delivered_ms > orders.c.due_ms,
            ),
        )
        .order_by(orders.c.due_ms.desc()),
        lambda r: f"late: order {r.order_id}",
    )
    add(
        "late",
        select(line_orders.c.due_ms, line_orders.c.work_order_id, line_orders.c.line_id)
        .where(line_orders.c.due_ms.between(*window), line_orders.c.status.not_in(ENDED))
        .order_by(line_orders.c.due_ms.desc()),
        lambda r: f"late: work order {r.work_order_id} on line {r.line_id}",
    )
    return sorted(found, key=lambda m: (m["at_ms"], m["kind"], m["label"]))
