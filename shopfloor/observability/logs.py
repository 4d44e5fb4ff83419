"""Structured JSON logs carrying the correlation id of the events being handled.

The projector sets `correlation` for each batch (the batch's `correlationid`s); asyncio tasks copy
the context when created, so the frames the hub renders and pushes after that commit log the same
ids. `SHOPFLOOR_LOG_FORMAT=json` switches every process to one JSON object per line.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from contextvars import ContextVar
from datetime import UTC, datetime

correlation: ContextVar[str | None] = ContextVar("shopfloor_correlation", default=None)
MAX_IDS = 20


def set_correlation(ids: Iterable[str | None]) -> None:
    """The distinct correlation ids of what is being processed now (a batch may carry several)."""
    distinct = sorted({i for i in ids if i})
    text = ",".join(distinct[:MAX_IDS]) + (",..." if len(distinct) > MAX_IDS else "")
    correlation.set(text or None)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, correlation id, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "pid": record.process,
        }
        correlation_id = correlation.get()
        if correlation_id:
            entry["correlation_id"] = correlation_id
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_from_env() -> None:
    """Called after logging is set up: JSON on every root handler when SHOPFLOOR_LOG_FORMAT=json."""
    if os.environ.get("SHOPFLOOR_LOG_FORMAT", "text").lower() != "json":
        return
    for handler in logging.getLogger().handlers:
        handler.setFormatter(JsonFormatter())
