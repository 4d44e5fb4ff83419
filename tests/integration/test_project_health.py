"""A `shopfloor project` worker answers for itself when given a port: in a scaled setup its consumer,
lag and batch figures live in its own process, not in any web replica's. And it stops through its
lifespan, so its consumer leaves the group rather than the others waiting out its session."""

from __future__ import annotations

import asyncio
import signal
import socket
from pathlib import Path

import httpx

from bench.common import sample_total, wait_healthy
from shopfloor.transport.kafka import ensure_topics
from tests.integration.scale import Worker, scale_settings
from tests.support import event, free_port, wait_until, wo

TOKEN = "scrape-me"


def _applied(url: str) -> float:
    try:
        text = httpx.get(f"{url}/metrics", headers={"authorization": f"Bearer {TOKEN}"}, timeout=5).text
    except httpx.HTTPError:  # a slow answer on a busy machine: asked again
        return 0.0
    return sample_total(text, "shopfloor_events_total", {"outcome": "applied"})


async def test_a_projector_worker_serves_its_readiness_and_its_metrics(
    kafka, producer, sqlite_url, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    settings = scale_settings(kafka, sqlite_url, project_port=port, metrics_token=TOKEN)
    await ensure_topics(kafka, settings.topics, settings.kafka_topic_partitions, {})
    worker = Worker(settings, tmp_path / "project.log")
    url = f"http://127.0.0.1:{port}"
    try:
        await asyncio.to_thread(wait_healthy, worker.process, url, worker.log_path, 60)
        for n in range(3):
            order = f"WO-H{n}"
            await producer.event(
                settings.topic_work_orders, order, event("WorkOrderStatusChanged", wo(order, "RELEASED"))
            )
        await wait_until(lambda: _applied(url) >= 3, 60, "3 events applied, as the worker's /metrics says")
        ready = await asyncio.to_thread(httpx.get, f"{url}/readyz", timeout=5)
        assert ready.status_code == 200 and ready.json()["consumer"]["applied"] == 3
        refused = await asyncio.to_thread(httpx.get, f"{url}/metrics", timeout=5)  # no token: refused
        assert refused.status_code == 401 and "bearer token" in refused.text
        worker.process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(worker.process.wait, 30) == 0, worker.log_path.read_text()[-3000:]
    finally:
        worker.stop()


async def test_sigterm_ends_a_worker_through_its_lifespan(kafka, sqlite_url, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """It exits 0, where the signal's default action would end it with -15 before its consumer left."""
    settings = scale_settings(kafka, sqlite_url)
    await ensure_topics(kafka, settings.topics, settings.kafka_topic_partitions, {})
    worker = Worker(settings, tmp_path / "project.log")
    try:
        await wait_until(lambda: worker.assignment() is not None, 60, "the worker's first assignment")
        worker.process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(worker.process.wait, 30) == 0, worker.log_path.read_text()[-3000:]
    finally:
        worker.stop()


def test_a_taken_port_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = scale_settings(None, f"sqlite:///{tmp_path / 'store.db'}", project_port=port)
        worker = Worker(settings, tmp_path / "project.log")
        try:
            assert worker.process.wait(60) == 2
        finally:
            worker.stop()
    assert f"shopfloor project: 127.0.0.1:{port} is already in use" in (tmp_path / "project.log").read_text()
