"""Every projection's batch handler; the projector dispatches events to them by type."""

from __future__ import annotations

from shopfloor.store.alerts import AlertCommandHandler
from shopfloor.store.changes import Handler
from shopfloor.store.equipment import EquipmentHandler
from shopfloor.store.inventory import InventoryHandler
from shopfloor.store.lines import LineMachineHandler, LineOrderHandler
from shopfloor.store.outbound import OutboundHandler
from shopfloor.store.quality import QualityHandler
from shopfloor.store.sensors import SensorHandler
from shopfloor.store.work_orders import WorkOrderHandler

HANDLERS: list[Handler] = [WorkOrderHandler()]
HANDLERS += [InventoryHandler(), OutboundHandler()]
HANDLERS += [EquipmentHandler(), SensorHandler(), AlertCommandHandler()]
HANDLERS += [LineOrderHandler(), LineMachineHandler()]  # plan vs actual per line
HANDLERS += [QualityHandler()]  # quality inspections
