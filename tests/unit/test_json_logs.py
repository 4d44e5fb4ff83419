"""JSON logs: one object per line, carrying the correlation ids set where the batch was decoded."""

from __future__ import annotations

import asyncio
import json
import logging

from shopfloor.observability.logs import JsonFormatter, correlation, set_correlation


def _record(message: str) -> logging.LogRecord:
    return logging.LogRecord("shopfloor.test", logging.INFO, __file__, 1, message, (), None)


async def test_correlation_ids_follow_into_tasks_created_after_the_batch() -> None:
    formatter = JsonFormatter()
    seen: list[dict[str, object]] = []

    async def push() -> None:  # like the hub's flush task, created by publish() after the commit
        seen.append(json.loads(formatter.format(_record("pushed frame"))))

    async def batch() -> None:
        set_correlation(["corr-2", None, "corr-1", "corr-2"])
        seen.append(json.loads(formatter.format(_record("applied 3 events"))))
        await asyncio.create_task(push())

    await asyncio.create_task(batch())
    assert [s["msg"] for s in seen] == ["applied 3 events", "pushed frame"]
    assert all(s["correlation_id"] == "corr-1,corr-2" for s in seen)
    assert seen[0]["level"] == "INFO" and seen[0]["logger"] == "shopfloor.test"
    assert correlation.get() is None  # the caller's context is untouched


def test_exceptions_are_one_json_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = JsonFormatter().format(record)
    assert "\n" not in line
    assert "ValueError: boom" in json.loads(line)["exc"]
