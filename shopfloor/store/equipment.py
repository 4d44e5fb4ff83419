"""Equipment status table, its batch handler around the pure fold, and the queries pages use."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select

from shopfloor.projections.equipment import Equipment, first_seen, fold
from shopfloor.projections.frozen import as_dict
from shopfloor.store.changes import Changes
from shopfloor.store.db import insert_ignore
from shopfloor.store.entity import EntityHandler, load
from shopfloor.store.schema import table_of

VIEW = "equipment"


def tile_key(equipment_id: str) -> str:
    return f"eq:{equipment_id}"


EQUIPMENT = table_of(Equipment, "equipment", key=("equipment_id",), index=("line_id",))


class EquipmentHandler(EntityHandler):
    event_types = frozenset({"EquipmentStatusChanged"})
    table, fold, view = EQUIPMENT, staticmethod(fold), VIEW

    def mark(self, state: Equipment) -> str:
        return tile_key(state.equipment_id)


def ensure_known(conn: Connection, first_ms: dict[str, int], changes: Changes) -> None:
    """Machines first heard of through their sensors get a grid tile (status UNKNOWN)."""
    known = {eq for (eq,) in load(conn, EQUIPMENT, ("equipment_id",), "equipment_id", first_ms)}
    new = {eq: ms for eq, ms in first_ms.items() if eq not in known}
    insert_ignore(conn, EQUIPMENT, [as_dict(first_seen(eq, ms)) for eq, ms in sorted(new.items())])
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
