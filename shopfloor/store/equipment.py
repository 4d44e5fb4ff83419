"""Equipment status table, its batch handler around the pure fold, and the queries pages use."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from sqlalchemy import BigInteger, Connection, select
from sqlmodel import Field, SQLModel

from shopfloor.events.envelope import Envelope
from shopfloor.projections.equipment import Equipment, first_seen, fold
from shopfloor.store.changes import Changes
from shopfloor.store.db import insert_ignore, upsert

VIEW = "equipment"


def tile_key(equipment_id: str) -> str:
    return f"eq:{equipment_id}"


class EquipmentRow(SQLModel, table=True):
    __tablename__ = "equipment"
    equipment_id: str = Field(primary_key=True)
    line_id: str = Field(index=True)
    status: str
    reason: str | None = None
    status_since_ms: int = Field(sa_type=BigInteger)
    updated_ms: int = Field(sa_type=BigInteger)


EQUIPMENT = EquipmentRow.__table__  # type: ignore[attr-defined]


class EquipmentHandler:
    event_types = frozenset({"EquipmentStatusChanged"})

    def apply(self, conn: Connection, events: Sequence[Envelope], changes: Changes) -> None:
        ids = {e.data.entity_id() for e in events}
        states: dict[str, Equipment] = {
            row.equipment_id: Equipment(**row._mapping)
            for row in conn.execute(select(EQUIPMENT).where(EQUIPMENT.c.equipment_id.in_(ids)))
        }
        for event in events:
            state = fold(states.get(event.data.entity_id()), event)
            states[state.equipment_id] = state
            changes.mark(VIEW, tile_key(state.equipment_id), int(event.time.timestamp() * 1000))
        upsert(conn, EQUIPMENT, [asdict(states[i]) for i in sorted(ids)], ["equipment_id"])


def ensure_known(conn: Connection, first_ms: dict[str, int], changes: Changes) -> None:
    """Machines first heard of through their sensors get a grid tile (status UNKNOWN)."""
    if not first_ms:
        return
    known = {
        r
        for (r,) in conn.execute(
            select(EQUIPMENT.c.equipment_id).where(EQUIPMENT.c.equipment_id.in_(first_ms))
        )
    }
    new = {eq: ms for eq, ms in first_ms.items() if eq not in known}
    insert_ignore(conn, EQUIPMENT, [asdict(first_seen(eq, ms)) for eq, ms in sorted(new.items())])
    for eq, ms in new.items():
        changes.mark(VIEW, tile_key(eq), ms)


def list_equipment(conn: Connection, ids: Sequence[str] | None = None) -> list[dict[str, Any]]:
    query = select(EQUIPMENT).order_by(EQUIPMENT.c.line_id, EQUIPMENT.c.equipment_id)
    if ids is not None:
        query = query.where(EQUIPMENT.c.equipment_id.in_(list(ids)))
    return [dict(row._mapping) for row in conn.execute(query)]


def status_context(conn: Connection, ids: Sequence[str]) -> dict[str, tuple[tuple[int, str]]]:
    """Each machine's current status and since when: the operating context its alarms are judged in."""
    if not ids:
        return {}
    query = select(EQUIPMENT.c.equipment_id, EQUIPMENT.c.status, EQUIPMENT.c.status_since_ms).where(
        EQUIPMENT.c.equipment_id.in_(list(ids))
    )
    return {r.equipment_id: ((r.status_since_ms, r.status),) for r in conn.execute(query)}
