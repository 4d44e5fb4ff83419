"""Which handlers' tables each board reads: a past view loads and replays only their parts.

Sensor readings are most of a plant's traffic and only the equipment board reads what they fold
into; the work-order tables keep every order and only the production boards read them. Any path
not listed reads every part.
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
BOARDS: dict[str, tuple[type[Handler], ...]] = {
    "/work-orders": ORDERS,
    "/api/work-orders": ORDERS,
    "/lines": LINES,
    "/api/lines": LINES,
    "/downtime": LINES,
    "/api/downtime": LINES,
    "/inventory": (InventoryHandler,),
    "/api/inventory": (InventoryHandler,),
    "/outbound": (OutboundHandler,),
    "/api/outbound": (OutboundHandler,),
    "/equipment": MACHINES,
    "/api/equipment": MACHINES,
    "/api/alerts": MACHINES,
    "/alarms": MACHINES,
    "/api/alarms": MACHINES,
    "/quality": (QualityHandler,),
    "/api/quality": (QualityHandler,),
}


def parts_for(path: str, parts: Sequence[Part]) -> tuple[Part, ...]:
    """The parts holding what the board at `path` reads (every part for a path not listed)."""
    for prefix, wanted in BOARDS.items():
        if path == prefix or path.startswith(prefix + "/"):
            return tuple(p for p in parts if any(isinstance(h, wanted) for h in p.handlers))
    return tuple(parts)
