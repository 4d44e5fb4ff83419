"""Imports every module that declares tables, so `create_schema` knows them all."""

from shopfloor.auth import tables as auth_tables  # noqa: F401  (sign-in and audit)
from shopfloor.store import (  # noqa: F401
    alerts,
    bookkeeping,
    equipment,
    inventory,
    lines,  # plan vs actual per line
    notifications,  # alarm webhook deliveries: created with the store, even before a webhook is set
    outbound,
    quality,
    sensors,
    work_orders,
)
