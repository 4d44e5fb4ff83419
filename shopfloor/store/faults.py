"""Telling "the store cannot take writes right now" apart from "these records broke the projection".

The first is retried until the store is back (nothing may be dead-lettered for it); the second is
isolated record by record. Read-only databases, full disks, restarts and lost connections are the
first kind on both SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

# SQLSTATE classes/codes: connection (08), read-only transaction (25006), insufficient resources
# such as disk full (53), operator intervention such as admin shutdown (57), system errors (58).
UNAVAILABLE_SQLSTATES = ("08", "25006", "53", "57", "58")


def store_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        sqlstate = getattr(exc.orig, "sqlstate", None) or ""
        return sqlstate.startswith(UNAVAILABLE_SQLSTATES)
    return False


def describe(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return f"{type(orig).__name__}: {str(orig).strip()[:300]}"
