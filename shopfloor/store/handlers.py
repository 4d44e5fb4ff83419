"""Every projection's batch handler; the projector dispatches events to them by type."""

from __future__ import annotations

from shopfloor.store.changes import Handler
from shopfloor.store.work_orders import WorkOrderHandler

HANDLERS: list[Handler] = [WorkOrderHandler()]
