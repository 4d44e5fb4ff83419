"""SSE fan-out: how long one change takes to reach every connected client, for 100 to 2,000 clients.

One `shopfloor serve` process (SQLite store, Kafka) serves all clients of the work-order board.
The clients live in separate worker processes (250 per process, bare asyncio sockets). For each
client count, a series of work-order changes is produced, one per second, each a new order;
every client notes when the row first arrives. Latency is event `time` -> arrival at the client
(so it includes Kafka, the projector's commit and the render); the spread is arrival minus the
first client's arrival for the same change (the fan-out itself).
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    Producer,
    Services,
    bench_process,
    bench_settings,
    ensure_topics,
    epoch_ms,
    log,
    read_line,
    rss_bytes,
    running_server,
    stop_process,
    summarize,
    wait_ready,
    work_order_event,
)

PER_WORKER = 250
TARGET_P99_MS = 100.0


async def _count(
    server: Any, producer: Producer, topic: str, count: int, changes: int, gap: float
) -> dict[str, Any]:
    workers = [
        bench_process("sse_clients", "--url", server.url, "--count", str(n))
        for n in _split(count, math.ceil(count / PER_WORKER))
    ]
    try:
        connected = failed = 0
        for worker in workers:
            _, ok, bad = (await asyncio.to_thread(read_line, worker, 180, "SSE clients")).split()
            connected, failed = connected + int(ok), failed + int(bad)
        subscribed = await asyncio.to_thread(_wait_subscribed, server.url, connected)
        await asyncio.sleep(1)
        rss_connected = rss_bytes(server.pid)
        sent: list[tuple[str, float]] = []
        started = time.monotonic()
        for k in range(changes):
            order = f"FAN-{count}-{k:03d}"
            event = work_order_event(order, "RELEASED", 1, line="FL1")
            await producer.send_now(topic, order, event)
            sent.append((f"{order}|RELEASED", epoch_ms(event)))
            await asyncio.sleep(max(0.0, started + (k + 1) * gap - time.monotonic()))
        await asyncio.sleep(2 + count / 250)  # late deliveries count as late, not as missing
        seen: dict[str, list[float]] = {}
        lost = 0
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("dump\n")
            worker.stdin.flush()
            report = json.loads(await asyncio.to_thread(read_line, worker, 60, "SSE clients dump"))
            lost += report["lost"]
            for key, times in report["seen"].items():
                seen.setdefault(key, []).extend(times)
    finally:
        for worker in workers:
            if worker.poll() is None and worker.stdin is not None:
                worker.stdin.write("quit\n")
                worker.stdin.flush()
        for worker in workers:
            stop_process(worker)
    latencies: list[float] = []
    spreads: list[float] = []
    to_all: list[float] = []
    missing = 0
    for key, event_ms in sent:
        arrivals = sorted(seen.get(key, []))
        missing += connected - len(arrivals)
        if arrivals:
            latencies += [t - event_ms for t in arrivals]
            spreads += [t - arrivals[0] for t in arrivals]
            to_all.append(arrivals[-1] - event_ms)
    return {
        "clients": count,
        "connected": connected,
        "subscribed_before_changes": subscribed,
        "connect_failed": failed,
        "disconnected_during_run": lost,
        "worker_processes": len(workers),
        "changes": len(sent),
        "deliveries": len(latencies),
        "missing_deliveries": missing,
        "latency": summarize(latencies),
        "spread": summarize(spreads),
        "to_all_clients": summarize(to_all),
        "server_rss_mib": round(rss_connected / 2**20, 1),
    }


def _wait_subscribed(url: str, count: int, timeout: float = 120) -> int:
    """Until the server has subscribed `count` SSE clients (its /metrics gauge): a client whose TCP
    connect succeeded may still wait in the accept backlog, and would miss the first changes."""
    from prometheus_client.parser import text_string_to_metric_families

    deadline = time.monotonic() + timeout
    subscribed = 0
    while time.monotonic() < deadline:
        text = httpx.get(f"{url}/metrics", timeout=10).text
        subscribed = int(
            sum(
                sample.value
                for family in text_string_to_metric_families(text)
                if family.name == "shopfloor_sse_clients"
                for sample in family.samples
            )
        )
        if subscribed >= count:
            break
        time.sleep(0.5)
    return subscribed


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


async def run(services: Services, workdir: Path, *, quick: bool) -> dict[str, Any]:
    counts = [100, 200] if quick else [100, 500, 1000, 2000]
    changes, gap = (3, 0.5) if quick else (20, 1.0)
    settings = bench_settings(services.kafka, f"sqlite:///{workdir / 'fanout.db'}")
    await ensure_topics(services.kafka, settings.topics, settings.kafka_topic_partitions)
    rows: list[dict[str, Any]] = []
    with running_server(settings, workdir) as server:
        await asyncio.to_thread(wait_ready, server.url)
        async with Producer(services.kafka, linger_ms=0) as producer:
            # a board with some orders on it, so each patch is a realistic insert into a lane
            for i in range(50):
                order = f"WO-FAN-{i:03d}"
                await producer.send(
                    settings.topic_work_orders,
                    order,
                    work_order_event(order, "PLANNED", 1, line=f"FL{i % 5}"),
                )
            await producer.flush()
            for count in counts:
                log(f"fanout: {count} SSE clients")
                row = await _count(server, producer, settings.topic_work_orders, count, changes, gap)
                log(
                    f"fanout {count}: latency {row['latency']} spread {row['spread']} "
                    f"missing {row['missing_deliveries']}"
                )
                rows.append(row)
                await asyncio.sleep(2)
    holding = [
        r["clients"]
        for r in rows
        if r["latency"].get("p99", math.inf) <= TARGET_P99_MS and r["missing_deliveries"] == 0
    ]
    return {
        "benchmark": "fanout",
        "store": "sqlite",
        "rows": rows,
        "target_p99_ms": TARGET_P99_MS,
        "largest_holding_target": max(holding) if holding else None,
    }
