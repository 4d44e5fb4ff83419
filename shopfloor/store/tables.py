"""Imports every module that declares tables, so `create_schema` knows them all."""

from shopfloor.store import bookkeeping, inventory, outbound, work_orders  # noqa: F401
