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


# Transaction rollback: serialization failure, deadlock detected. The batch met another worker's
# transaction; run again, it goes through.
CONFLICT_SQLSTATES = ("40001", "40P01")


def transaction_conflict(exc: BaseException) -> bool:
    return isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) in CONFLICT_SQLSTATES


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


def describe_failure(exc: BaseException) -> str:
    """Why a batch failed, for logs and dead-letter reasons: the error's class and, for database
    errors, its SQLSTATE and the constraint, table and column involved, never the SQL statement or
    its parameters (which carry other records' data)."""
    orig = getattr(exc, "orig", None)
    if orig is None:
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    parts: list[str] = []
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate:
        parts.append(f"SQLSTATE {sqlstate}")
    diag = getattr(orig, "diag", None)
    for label, attribute in (
        ("constraint", "constraint_name"),
        ("table", "table_name"),
        ("column", "column_name"),
    ):
        name = getattr(diag, attribute, None) if diag is not None else None
        if name:
            parts.append(f"{label} {name}")
    if sqlstate is None:  # SQLite: its message names the constraint ("UNIQUE constraint failed: t.c")
        first = (str(orig).strip().splitlines() or [""])[0][:200]
        if first:
            parts.append(first)
    return f"{type(orig).__name__}" + (f" ({', '.join(parts)})" if parts else "")
