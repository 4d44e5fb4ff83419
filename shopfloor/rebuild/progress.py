"""Rebuild progress in the live store: the command writes it, the admin page of every replica reads it."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import BigInteger, Engine, select

from shopfloor.store.db import begin_write, upsert
from shopfloor.store.schema import table_of


@dataclass
class Progress:
    model: str
    state: str = "REPLAYING"  # REPLAYING, CATCHING_UP, SWAPPING, SWAPPED, FAILED
    started_ms: int = 0
    updated_ms: int = 0
    done: int = 0
    total: int = 0
    rate: float = 0.0
    swapped_version: int | None = None
    message: str = ""

    @property
    def percent(self) -> float:
        return 100.0 if self.total <= 0 else min(100.0, 100.0 * self.done / self.total)


TABLE = table_of(
    Progress,
    "rebuild_progress",
    key=("model",),
    types={"done": BigInteger, "total": BigInteger, "swapped_version": BigInteger},
)


def ensure_table(engine: Engine) -> None:
    TABLE.create(engine, checkfirst=True)


def save(engine: Engine, progress: Progress) -> None:
    progress.updated_ms = int(time.time() * 1000)
    with begin_write(engine) as conn:
        upsert(conn, TABLE, [asdict(progress)], ["model"])


def load_all(engine: Engine) -> list[Progress]:
    with engine.connect() as conn:
        rows = conn.execute(select(TABLE).order_by(TABLE.c.started_ms.desc()))
        return [Progress(**dict(r._mapping)) for r in rows]


def as_dict(progress: Progress) -> dict[str, Any]:
    return {**asdict(progress), "percent": round(progress.percent, 1)}
