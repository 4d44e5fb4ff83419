"""Plan-vs-actual facts per line: machine status changes and cumulative order progress, by event time.

The handlers only record facts (with the line each belongs to resolved); the figures are folded from
them at read time by `projections.lines`, so they hold for any shift and any "now".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table, and_, func, select, union

from shopfloor.events.envelope import Envelope
from shopfloor.events.models import EquipmentStatusChanged, WorkOrderStatusChanged
from shopfloor.projections.frozen import frozen
from shopfloor.projections.lines import MachineChange, Progress
from shopfloor.store.db import to_ms
from shopfloor.store.entity import EntityHandler
from shopfloor.store.schema import table_of

VIEW = "lines"
UNASSIGNED = "unassigned"


@frozen
class LineMachine:
    equipment_id: str
    line_id: str


@frozen
class MachineFact:
    """A machine status change, on the line the machine belonged to then."""

    event_id: str
    equipment_id: str
    line_id: str
    at_ms: int
    status: str
    reason: str | None


@frozen
class LineOrder:
    """A work order's latest counts and plan (fields an event left out carried forward)."""

    work_order_id: str
    line_id: str
    status: str
    done: int
    scrap: int
    quantity_planned: int | None
    ideal_cycle_s: float | None
    due_ms: int | None


@frozen
class ProgressFact:
    """A work order's cumulative counts as of one event."""

    event_id: str
    work_order_id: str
    line_id: str
    at_ms: int
    done: int
    scrap: int
    ideal_cycle_s: float | None


MACHINES = table_of(LineMachine, "line_machines", key=("equipment_id",), index=("line_id",))
# Facts are read as "each machine's / order's latest of a line before or within a window": keyed
# (line, machine or order, time) and stored in that order (SQLite: once, without a rowid copy), so
# those reads are ranges of the key and a fact costs one row instead of a row and two index entries.
CHANGES = table_of(
    MachineFact,
    "line_machine_changes",
    key=("line_id", "equipment_id", "at_ms", "event_id"),
    index=("at_ms",),  # the timeline's stoppages, every line
    indexes={"ix_line_changes_machine_at": ("equipment_id", "at_ms")},  # a machine's trend annotations
    without_rowid=True,
)
ORDERS = table_of(LineOrder, "line_orders", key=("work_order_id",), index=("line_id",))
PROGRESS = table_of(
    ProgressFact,
    "line_progress",
    key=("line_id", "work_order_id", "at_ms", "event_id"),
    without_rowid=True,
)


@frozen
class MachineFolded:
    machine: LineMachine
    fact: MachineFact


@frozen
class OrderFolded:
    order: LineOrder
    fact: ProgressFact


def fold_machine(current: LineMachine | None, event: Envelope) -> MachineFolded:
    """EquipmentStatusChanged -> one status fact on the machine's line (a missing line: where it was)."""
    data = event.data
    assert isinstance(data, EquipmentStatusChanged)
    line = data.line_id or (current.line_id if current is not None else None) or UNASSIGNED
    fact = MachineFact(event.id, data.equipment_id, line, event.event_ms, str(data.status), data.reason)
    return MachineFolded(LineMachine(data.equipment_id, line), fact)


def _pick(new: Any, old: Any) -> Any:
    return old if new is None else new


def fold_order(current: LineOrder | None, event: Envelope) -> OrderFolded:
    """WorkOrderStatusChanged -> the order's cumulative counts (fields left out carried forward)."""
    data = event.data
    assert isinstance(data, WorkOrderStatusChanged)
    due_ms = None if data.due_at is None else to_ms(data.due_at)
    order = LineOrder(
        work_order_id=data.work_order_id,
        line_id=data.line_id or (current.line_id if current is not None else None) or UNASSIGNED,
        status=str(data.status),
        done=_pick(data.quantity_done, 0 if current is None else current.done),
        scrap=_pick(data.quantity_scrap, 0 if current is None else current.scrap),
        quantity_planned=_pick(data.quantity_planned, None if current is None else current.quantity_planned),
        ideal_cycle_s=_pick(data.ideal_cycle_s, None if current is None else current.ideal_cycle_s),
        due_ms=_pick(due_ms, None if current is None else current.due_ms),
    )
    fact = ProgressFact(
        event.id,
        order.work_order_id,
        order.line_id,
        event.event_ms,
        order.done,
        order.scrap,
        order.ideal_cycle_s,
    )
    return OrderFolded(order, fact)


class LineMachineHandler(EntityHandler):
    """Machine status changes as facts on the line each machine belonged to then."""

    event_types = frozenset({"EquipmentStatusChanged"})
    table, fold, view = MACHINES, staticmethod(fold_machine), VIEW
    appends = {MachineFact: CHANGES}

    def mark(self, state: LineMachine) -> str:
        return state.line_id


class LineOrderHandler(EntityHandler):
    """Work-order progress as facts on the order's line."""

    event_types = frozenset({"WorkOrderStatusChanged"})
    table, fold, view = ORDERS, staticmethod(fold_order), VIEW
    appends = {ProgressFact: PROGRESS}

    def mark(self, state: LineOrder) -> str:
        return state.line_id


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
