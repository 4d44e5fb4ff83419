"""A `shopfloor project` worker answers for itself when given a port: in a scaled setup its consumer,
lag and batch figures live in its own process, not in any web replica's."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bench.common import wait_healthy
from shopfloor.transport.kafka import ensure_topics
from tests.integration.scale import Worker, scale_settings
from tests.support import event, free_port, wait_until, wo

TOKEN = "scrape-me"


def _applied(url: str) -> float:
    text = httpx.get(f"{url}/metrics", headers={"authorization": f"Bearer {TOKEN}"}, timeout=5).text
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "shopfloor_events_total" and s.labels.get("outcome") == "applied"
    )


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
            await producer.event(
                settings.topic_work_orders,
                f"WO-H{n}",
                event("WorkOrderStatusChanged", wo(f"WO-H{n}", "RELEASED")),
            )
        await wait_until(lambda: _applied(url) >= 3, 60, "3 events applied, as the worker's /metrics says")
        ready = await asyncio.to_thread(httpx.get, f"{url}/readyz", timeout=5)
        assert ready.status_code == 200 and ready.json()["consumer"]["applied"] == 3
        refused = await asyncio.to_thread(httpx.get, f"{url}/metrics", timeout=5)  # no token: refused
        assert refused.status_code == 401 and "bearer token" in refused.text
        worker.process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(worker.process.wait, 20) == 0  # server and consumer stop cleanly
    finally:
        worker.stop()


async def test_a_stopped_worker_leaves_its_group_rather_than_dying(kafka, sqlite_url, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """SIGTERM ends a worker through its lifespan, so its consumer leaves the group and the others take
    its partitions at once; killed by the signal instead, they wait out the session timeout."""
    settings = scale_settings(kafka, sqlite_url)
    await ensure_topics(kafka, settings.topics, settings.kafka_topic_partitions, {})
    worker = Worker(settings, tmp_path / "project.log")
    try:
        await wait_until(lambda: worker.assignment() is not None, 60, "the worker's first assignment")
        worker.process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(worker.process.wait, 30) == 0, worker.log_path.read_text()[-3000:]
    finally:
        worker.stop()
