"""Which handlers' tables each board reads: a past view loads and replays only their parts.

Sensor readings are most of a plant's traffic and only the equipment board reads what they fold
into; the work-order tables keep every order and only the production boards read them. Any path
not listed reads every part. The work-order board reads only its parts' current state (each
order's status, plan and inspections), not the facts they append (status histories, line progress):
its page, fragment and API load the parts lean (registry.Part.lean); an order's history, under its
API, loads them whole.
"""

from __future__ import annotations

from collections.abc import Sequence

from shopfloor.store.alerts import AlertCommandHandler
from shopfloor.store.changes import Handler
from shopfloor.store.equipment import EquipmentHandler
from shopfloor.store.inventory import InventoryHandler
from shopfloor.store.lines import LineMachineHandler, LineOrderHandler
from shopfloor.store.outbound import OutboundHandler
from shopfloor.store.quality import QualityHandler
from shopfloor.store.registry import Part
from shopfloor.store.sensors import SensorHandler
from shopfloor.store.work_orders import WorkOrderHandler

ORDERS = (WorkOrderHandler, QualityHandler, LineOrderHandler)  # with inspections, due times
LINES = (LineOrderHandler, LineMachineHandler)
MACHINES = (EquipmentHandler, SensorHandler, AlertCommandHandler, LineMachineHandler)  # trend annotations
BOARDS: dict[str, tuple[type[Handler], ...]] = {  # a page; its JSON API under /api reads the same
    "/work-orders": ORDERS,
    "/lines": LINES,
    "/downtime": LINES,
    "/inventory": (InventoryHandler,),
    "/outbound": (OutboundHandler,),
    "/equipment": MACHINES,
    "/alerts": MACHINES,
    "/alarms": MACHINES,
    "/quality": (QualityHandler,),
}
LEAN_PAGES = frozenset({"/work-orders", "/work-orders/board"})  # read no facts (an order's history does)


def parts_for(path: str, parts: Sequence[Part]) -> tuple[Part, ...]:
    """The parts holding what the board at `path` reads (every part for a path not listed), lean
    where it reads no facts."""
    page = path.removeprefix("/api") if path.startswith("/api/") else path
    for prefix, wanted in BOARDS.items():
        if page == prefix or page.startswith(prefix + "/"):
            chosen = [p for p in parts if any(isinstance(h, wanted) for h in p.handlers)]
            return tuple(p.lean() if page in LEAN_PAGES and p.facts else p for p in chosen)
    return tuple(parts)


def lean_parts(parts: Sequence[Part]) -> frozenset[str]:
    """The parts some board loads lean: only these are also snapshotted without their facts."""
    return frozenset(p.base for page in LEAN_PAGES for p in parts_for(page, parts) if p.base != p.name)
