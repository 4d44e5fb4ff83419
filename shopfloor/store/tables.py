"""Imports every module that declares tables, so `create_schema` knows them all."""

from shopfloor.auth import tables as auth_tables  # noqa: F401  (sign-in and audit, issue 6)
from shopfloor.store import (  # noqa: F401
    alerts,  # equipment (issue 4)
    bookkeeping,
    equipment,  # equipment (issue 4)
    inventory,
    lines,  # plan vs actual per line
    outbound,
    sensors,  # equipment (issue 4)
    work_orders,
)
