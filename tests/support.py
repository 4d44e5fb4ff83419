"""Helpers the tests share: event builders, producing to Kafka, polling for a condition, servers."""

from __future__ import annotations

import asyncio
import os
import random
import socket
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import free_port as bench_free_port
from bench.common import started_process, wait_healthy
from shopfloor.config import Settings
from shopfloor.events.codec import cloud_event, encode_binary, encode_structured

REPO = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def event(
    event_type: str,
    data: dict[str, Any],
    *,
    source: str = "test/line",
    event_id: str | None = None,
    sequence: int | None = None,
    at: datetime | None = None,
    correlationid: str | None = None,
    offset_s: float = 0,
) -> dict[str, Any]:
    return cloud_event(
        event_type,
        data,
        source=source,
        event_id=event_id or uuid.uuid4().hex,
        sequence=sequence,
        time=at or (T0 + timedelta(seconds=offset_s)),
        correlationid=correlationid,
    )


def wo(work_order_id: str, status: str, *, line: str | None = "L1", **extra: Any) -> dict[str, Any]:
    data = {"work_order_id": work_order_id, "status": status, **extra}
    if line is not None:
        data["line_id"] = line
    return data


def encode(evt: dict[str, Any], binary: bool = False) -> tuple[bytes, list[tuple[str, bytes]]]:
    return (encode_binary if binary else encode_structured)(evt)


def unique_settings(bootstrap: str | None, database_url: str, **overrides: Any) -> Settings:
    """Settings with topics and group of their own, so tests never see each other's events."""
    tag = uuid.uuid4().hex[:8]
    values: dict[str, Any] = {
        "kafka_bootstrap_servers": bootstrap,
        "database_url": database_url,
        "kafka_group_id": f"test-{tag}",
        "kafka_topic_partitions": 3,
        "topic_work_orders": f"t{tag}.mes.work-orders",
        "topic_equipment": f"t{tag}.mes.equipment",
        "topic_sensors": f"t{tag}.iot.sensors",
        "topic_inventory": f"t{tag}.wms.inventory",
        "topic_outbound": f"t{tag}.wms.outbound",
        "topic_quality": f"t{tag}.mes.quality",
        "push_interval_seconds": 0.05,
    }
    values.update(overrides)
    return Settings(**values)


def settings_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    for name, value in settings.model_dump().items():
        if value is not None:
            env[f"SHOPFLOOR_{name.upper()}"] = str(value)
    return env


async def wait_until(
    check: Callable[[], Awaitable[bool]] | Callable[[], bool], timeout: float = 30, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.1)


# Ports for servers the tests start under pytest-xdist, one block per worker: below the kernel's
# ephemeral range (32768 up), above the clones' own services (dev/env.sh: 20000-29999).
WORKER_PORTS = range(30000, 32768)


def free_port() -> int:
    """A port free now, for a process started next. Under pytest-xdist each worker takes ports from
    a block of its own, so two workers never hand out one port while the first's process starts."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers == 1:
        return bench_free_port()
    mine = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")) % workers
    size = len(WORKER_PORTS) // workers
    block = range(WORKER_PORTS.start + mine * size, WORKER_PORTS.start + (mine + 1) * size)
    for port in random.sample(block, len(block)):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {block} for xdist worker {mine}")


def server_log(port: int) -> Path:
    """Where `running_server` on `port` writes the process's output."""
    return Path(os.environ.get("PYTEST_TMP", "/tmp")) / f"shopfloor-{port}.log"


@contextmanager
def running_server(
    settings: Settings,
    *args: str,
    command: str = "serve",
    timeout: float = 60,
    auth: bool = False,
    port: int | None = None,
) -> Iterator[str]:
    """A real `shopfloor` process; yields its base URL once /healthz answers. `auth` turns sign-in on;
    `port` lets a restarted server come back where open pages expect it."""
    port = port or free_port()
    env = settings_env(settings)
    env.update(SHOPFLOOR_PORT=str(port), SHOPFLOOR_HOST="127.0.0.1", SHOPFLOOR_AUTH="on" if auth else "off")
    log_path = server_log(port)
    argv = [sys.executable, "-m", "shopfloor", command, *args]
    with started_process(argv, env, REPO, log_path) as process:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(process, url, log_path, timeout)
        yield url
