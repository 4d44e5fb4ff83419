"""Imports every module that declares tables, so `create_schema` knows them all."""

from shopfloor.store import bookkeeping, work_orders  # noqa: F401
