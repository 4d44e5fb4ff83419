"""What a clean replay must equal: every read-model table, rows in a canonical order."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select
from sqlmodel import SQLModel

import shopfloor.store.tables  # noqa: F401  (registers every table)

# Bookkeeping and security tables differ between runs by design (wall-clock stamps, positions, ids).
NOT_READ_MODELS = {
    "applied_events",
    "consumer_positions",
    "dead_letters",
    "store_version",
    "audit_log",
    "auth_sessions",
    "kiosk_links",
    "users",
}


def read_models(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    state: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for name, table in sorted(SQLModel.metadata.tables.items()):
            if name in NOT_READ_MODELS:
                continue
            rows = [tuple(r) for r in conn.execute(select(table))]
            if name == "work_order_counts":  # a line's count that went back to 0 may or may not keep a row
                rows = [r for r in rows if r[-1]]
            state[name] = sorted(rows, key=repr)
    return state


def differences(a: dict[str, list[tuple[Any, ...]]], b: dict[str, list[tuple[Any, ...]]]) -> list[str]:
    """Table names whose rows differ, with a sample, for a readable failure."""
    out = []
    for name in sorted(set(a) | set(b)):
        left, right = a.get(name, []), b.get(name, [])
        if left != right:
            only_left = [r for r in left if r not in right][:2]
            only_right = [r for r in right if r not in left][:2]
            out.append(f"{name}: {len(left)} vs {len(right)} rows; e.g. {only_left} / {only_right}")
    return out
