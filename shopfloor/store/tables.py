"""Imports every module that declares tables, so `create_schema` knows them all."""

from shopfloor.store import (  # noqa: F401
    alerts,  # equipment (issue 4)
    bookkeeping,
    equipment,  # equipment (issue 4)
    inventory,
    outbound,
    sensors,  # equipment (issue 4)
    work_orders,
)
