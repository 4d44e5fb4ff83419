"""Plan-vs-actual facts per line: machine status changes and cumulative order progress, by event time.

The handlers only record facts (with the line each belongs to resolved); the figures are folded from
them at read time by `projections.lines`, so they hold for any shift and any "now".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, Connection, Index, Table, and_, func, select, union
from sqlmodel import Field, SQLModel

from shopfloor.events.envelope import Envelope
from shopfloor.events.models import EquipmentStatusChanged, WorkOrderStatusChanged
from shopfloor.projections.lines import MachineChange, Progress
from shopfloor.store.changes import Changes
from shopfloor.store.db import insert_ignore, upsert

VIEW = "lines"
UNASSIGNED = "unassigned"


class LineMachineRow(SQLModel, table=True):
    __tablename__ = "line_machines"
    equipment_id: str = Field(primary_key=True)
    line_id: str = Field(index=True)


class LineMachineChangeRow(SQLModel, table=True):
    __tablename__ = "line_machine_changes"
    event_id: str = Field(primary_key=True)
    equipment_id: str = Field(index=True)
    line_id: str = Field(index=True)
    at_ms: int = Field(sa_type=BigInteger, index=True)
    status: str
    reason: str | None = None


class LineOrderRow(SQLModel, table=True):
    __tablename__ = "line_orders"
    work_order_id: str = Field(primary_key=True)
    line_id: str = Field(index=True)
    status: str
    done: int = 0
    scrap: int = 0
    quantity_planned: int | None = None
    ideal_cycle_s: float | None = None
    due_ms: int | None = Field(default=None, sa_type=BigInteger)


class LineProgressRow(SQLModel, table=True):
    __tablename__ = "line_progress"
    event_id: str = Field(primary_key=True)
    work_order_id: str = Field(index=True)
    line_id: str = Field(index=True)
    at_ms: int = Field(sa_type=BigInteger, index=True)
    done: int
    scrap: int
    ideal_cycle_s: float | None = None


MACHINES: Table = LineMachineRow.__table__  # type: ignore[attr-defined]
CHANGES: Table = LineMachineChangeRow.__table__  # type: ignore[attr-defined]
ORDERS: Table = LineOrderRow.__table__  # type: ignore[attr-defined]
PROGRESS: Table = LineProgressRow.__table__  # type: ignore[attr-defined]
# "each machine's / order's latest fact of a line before or within a window" reads these
Index("ix_line_changes_line_machine_at", CHANGES.c.line_id, CHANGES.c.equipment_id, CHANGES.c.at_ms)
Index("ix_line_progress_line_order_at", PROGRESS.c.line_id, PROGRESS.c.work_order_id, PROGRESS.c.at_ms)


def _ms(event: Envelope) -> int:
    return int(event.time.timestamp() * 1000)


class LineMachineHandler:
    """EquipmentStatusChanged -> one status fact on the machine's line."""

    event_types = frozenset({"EquipmentStatusChanged"})

    def apply(self, conn: Connection, events: Sequence[Envelope], changes: Changes) -> None:
        ids = {e.data.entity_id() for e in events}
        lines = dict(conn.execute(select(MACHINES).where(MACHINES.c.equipment_id.in_(ids))).all())
        facts = []
        for event in events:
            data = event.data
            assert isinstance(data, EquipmentStatusChanged)
            line = data.line_id or lines.get(data.equipment_id) or UNASSIGNED
            lines[data.equipment_id] = line
            at = _ms(event)
            facts.append(
                {
                    "event_id": event.id,
                    "equipment_id": data.equipment_id,
                    "line_id": line,
                    "at_ms": at,
                    "status": data.status.value,
                    "reason": data.reason,
                }
            )
            changes.mark(VIEW, line, at)
        insert_ignore(conn, CHANGES, facts)
        upsert(
            conn, MACHINES, [{"equipment_id": i, "line_id": lines[i]} for i in sorted(ids)], ["equipment_id"]
        )


def _pick(new: Any, old: Any) -> Any:
    return old if new is None else new


class LineOrderHandler:
    """WorkOrderStatusChanged -> the order's cumulative counts (fields left out carried forward)."""

    event_types = frozenset({"WorkOrderStatusChanged"})

    def apply(self, conn: Connection, events: Sequence[Envelope], changes: Changes) -> None:
        ids = {e.data.entity_id() for e in events}
        orders = {
            row.work_order_id: dict(row._mapping)
            for row in conn.execute(select(ORDERS).where(ORDERS.c.work_order_id.in_(ids)))
        }
        facts = []
        for event in events:
            data = event.data
            assert isinstance(data, WorkOrderStatusChanged)
            old = orders.get(data.work_order_id, {})
            order = {
                "work_order_id": data.work_order_id,
                "line_id": data.line_id or old.get("line_id") or UNASSIGNED,
                "status": data.status.value,
                "done": _pick(data.quantity_done, old.get("done", 0)),
                "scrap": _pick(data.quantity_scrap, old.get("scrap", 0)),
                "quantity_planned": _pick(data.quantity_planned, old.get("quantity_planned")),
                "ideal_cycle_s": _pick(data.ideal_cycle_s, old.get("ideal_cycle_s")),
                "due_ms": _pick(
                    None if data.due_at is None else int(data.due_at.timestamp() * 1000), old.get("due_ms")
                ),
            }
            orders[data.work_order_id] = order
            at = _ms(event)
            kept = ("work_order_id", "line_id", "done", "scrap", "ideal_cycle_s")
            facts.append({"event_id": event.id, "at_ms": at, **{k: order[k] for k in kept}})
            changes.mark(VIEW, order["line_id"], at)
        insert_ignore(conn, PROGRESS, facts)
        upsert(conn, ORDERS, [orders[i] for i in sorted(ids)], ["work_order_id"])


def line_ids(conn: Connection) -> list[str]:
    query = union(select(MACHINES.c.line_id), select(ORDERS.c.line_id))
    return sorted(line for (line,) in conn.execute(query) if line != UNASSIGNED)


def _with_baseline(
    conn: Connection, table: Table, entity: str, line_id: str, start_ms: int, end_ms: int
) -> list[Any]:
    """Rows of the line in [start_ms, end_ms), plus each entity's latest row before start_ms."""
    key = table.c[entity]
    latest = (
        select(key, func.max(table.c.at_ms).label("at_ms"))
        .where(table.c.line_id == line_id, table.c.at_ms < start_ms)
        .group_by(key)
        .subquery()
    )
    before = select(table).join(latest, and_(key == latest.c[entity], table.c.at_ms == latest.c.at_ms))
    within = select(table).where(
        table.c.line_id == line_id, table.c.at_ms >= start_ms, table.c.at_ms < end_ms
    )
    return [*conn.execute(before.where(table.c.line_id == line_id)), *conn.execute(within)]


def _latest(
    conn: Connection,
    table: Table,
    entity: str,
    line_id: str,
    start_ms: int,
    end_ms: int,
    only: list[str] | None = None,
) -> list[Any]:
    """Each entity's latest row of the line in [start_ms, end_ms) (of the entities in `only`, if given)."""
    key, newer = table.c[entity], table.alias("newer")
    later = (
        select(newer.c.at_ms)
        .where(newer.c.line_id == line_id, newer.c[entity] == key, newer.c.at_ms > table.c.at_ms)
        .where(newer.c.at_ms < end_ms)
        .exists()
    )
    query = select(table).where(
        table.c.line_id == line_id, table.c.at_ms >= start_ms, table.c.at_ms < end_ms, ~later
    )
    if only is not None:
        query = query.where(key.in_(only))
    return list(conn.execute(query))


def machine_facts(conn: Connection, line_id: str, start_ms: int, end_ms: int) -> list[MachineChange]:
    """The line's machine status changes in [start_ms, end_ms), with each machine's state at start."""
    return [
        MachineChange(r.equipment_id, r.at_ms, r.status, r.reason)
        for r in _with_baseline(conn, CHANGES, "equipment_id", line_id, start_ms, end_ms)
    ]


def facts(
    conn: Connection, line_id: str, start_ms: int, end_ms: int
) -> tuple[list[MachineChange], list[Progress]]:
    """What the fold needs for one line over [start_ms, end_ms)."""
    changes = machine_facts(conn, line_id, start_ms, end_ms)
    # progress rows are cumulative with fields carried forward, so per order the last one before the
    # window and the last one in it are all the fold needs: two rows per order, however busy the line
    # (orders with no progress in the window made nothing in it, so only these need a baseline)
    rows = _latest(conn, PROGRESS, "work_order_id", line_id, start_ms, end_ms)
    rows += _latest(conn, PROGRESS, "work_order_id", line_id, 0, start_ms, [r.work_order_id for r in rows])
    progress = [Progress(r.work_order_id, r.at_ms, r.done, r.scrap, r.ideal_cycle_s) for r in rows]
    return changes, progress


def order_plans(conn: Connection, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Due time, plan and rate per work order (for the board's late/at-risk flags)."""
    query = select(ORDERS).where(ORDERS.c.work_order_id.in_(list(ids)))
    return {row.work_order_id: dict(row._mapping) for row in conn.execute(query)}


def machine_changes(
    conn: Connection, equipment_id: str, from_ms: int, to_ms: int, limit: int = 200
) -> list[dict[str, Any]]:
    """A machine's status changes in (from_ms, to_ms], oldest first (trend annotations)."""
    query = (
        select(CHANGES.c.at_ms, CHANGES.c.status, CHANGES.c.reason)
        .where(CHANGES.c.equipment_id == equipment_id, CHANGES.c.at_ms > from_ms, CHANGES.c.at_ms <= to_ms)
        .order_by(CHANGES.c.at_ms.desc(), CHANGES.c.event_id)
        .limit(limit)
    )
    return [dict(r._mapping) for r in reversed(conn.execute(query).all())]
