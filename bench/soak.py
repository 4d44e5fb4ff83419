"""Soak: N minutes at 1,000 sensor events/s with 50 SSE clients and one Chromium page.

One `shopfloor serve` process (SQLite store) takes 1,000 sensor readings a second from a separate
producer process plus two work-order changes a second from this one; 50 SSE clients and a
Chromium page on the work-order board stay connected throughout. Every minute (every 10 s in
quick mode) it samples the server's RSS and the page's JS heap (CDP `Runtime.getHeapUsage`, after
`HeapProfiler.collectGarbage`, and the DOM node count). Growth is the median of the last three
samples against the median of the first three after warm-up (the first sixth of the run).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    STATUS_CYCLE,
    Producer,
    Services,
    bench_process,
    bench_settings,
    chromium,
    ensure_browser_assets,
    ensure_topics,
    log,
    read_line,
    rss_bytes,
    running_server,
    sensor_load,
    stop_process,
    wait_ready,
    work_order_event,
)

ORDERS = 40
RATE = 1000
CLIENTS = 50
WORK_ORDER_GAP = 0.5


def growth(values: list[float], warmup: int) -> float | None:
    """Relative growth: median of the last (up to) three samples over the first three after warm-up."""
    steady = values[warmup:]
    k = min(3, len(steady) // 2)
    if k < 1:
        return None
    head = statistics.median(steady[:k])
    tail = statistics.median(steady[-k:])
    return round((tail - head) / head * 100, 2) if head else None


async def _sample(server: Any, cdp: Any, page: Any, minute: float) -> dict[str, Any]:
    before = await cdp.send("Runtime.getHeapUsage")
    await cdp.send("HeapProfiler.collectGarbage")
    after = await cdp.send("Runtime.getHeapUsage")
    nodes = await page.evaluate("document.getElementsByTagName('*').length")
    ready = await asyncio.to_thread(httpx.get, f"{server.url}/readyz", timeout=5)
    lag = ready.json().get("consumer", {}).get("lag") if ready.status_code in (200, 503) else None
    return {
        "minute": round(minute, 2),
        "server_rss_mib": round(rss_bytes(server.pid) / 2**20, 2),
        "js_heap_used_mib": round(before["usedSize"] / 2**20, 3),
        "js_heap_after_gc_mib": round(after["usedSize"] / 2**20, 3),
        "dom_nodes": nodes,
        "consumer_lag": lag,
    }


async def run(services: Services, workdir: Path, *, quick: bool, minutes: float) -> dict[str, Any]:
    ensure_browser_assets()
    every = 10.0 if quick else 60.0
    settings = bench_settings(services.kafka, f"sqlite:///{workdir / 'soak.db'}")
    topic = settings.topic_work_orders
    await ensure_topics(services.kafka, settings.topics, settings.kafka_topic_partitions)
    orders = [f"WO-SOAK-{i:03d}" for i in range(ORDERS)]
    samples: list[dict[str, Any]] = []
    async with Producer(services.kafka) as producer:
        for i, order in enumerate(orders):
            await producer.send(topic, order, work_order_event(order, "PLANNED", 1, line=f"SL{i % 4}"))
        await producer.flush()
        with running_server(settings, workdir) as server:
            await asyncio.to_thread(wait_ready, server.url)
            load = sensor_load(services.kafka, settings, RATE, duration=minutes * 60 + 120)
            clients = bench_process("sse_clients", "--url", server.url, "--count", str(CLIENTS))
            errors: list[str] = []
            try:
                read_line(load, 60, "sensor producer")
                ready = read_line(clients, 120, "SSE clients").split()
                async with chromium() as browser:
                    context = await browser.new_context(viewport={"width": 1920, "height": 1080})
                    page = await context.new_page()
                    page.on("pageerror", lambda exc: errors.append(str(exc)))
                    await page.goto(f"{server.url}/work-orders")
                    await page.wait_for_selector('#connection[data-state="live"]', timeout=30_000)
                    cdp = await context.new_cdp_session(page)
                    log(f"soak: {minutes} min at {RATE} events/s, {ready[1]} SSE clients, one Chromium page")
                    started = time.monotonic()
                    next_sample = started
                    sequence = dict.fromkeys(orders, 1)
                    n = 0
                    while True:
                        elapsed = time.monotonic() - started
                        if time.monotonic() >= next_sample:
                            samples.append(await _sample(server, cdp, page, elapsed / 60))
                            log(f"soak sample {samples[-1]}")
                            next_sample += every
                            if elapsed >= minutes * 60:
                                break
                        order = orders[n % ORDERS]
                        sequence[order] += 1
                        status = STATUS_CYCLE[(sequence[order] - 2) % len(STATUS_CYCLE)]
                        await producer.send_now(
                            topic, order, work_order_event(order, status, sequence[order])
                        )
                        n += 1
                        await asyncio.sleep(max(0.0, started + n * WORK_ORDER_GAP - time.monotonic()))
                    connection = await page.get_attribute("#connection", "data-state")
            finally:
                if load.poll() is None and load.stdin is not None:
                    load.stdin.write("quit\n")
                    load.stdin.flush()
                try:
                    load_report = json.loads(read_line(load, 30, "sensor producer report"))
                except (RuntimeError, ValueError) as exc:
                    load_report = {"error": str(exc)}
                stop_process(load)
                stop_process(clients)
    warmup = max(1, len(samples) // 6)
    rss = [s["server_rss_mib"] for s in samples]
    heap = [s["js_heap_after_gc_mib"] for s in samples]
    return {
        "benchmark": "soak",
        "minutes": minutes,
        "sample_every_s": every,
        "rate": RATE,
        "background_achieved": load_report,
        "work_order_changes": n,
        "sse_clients": int(ready[1]) if len(ready) > 1 else 0,
        "samples": samples,
        "warmup_samples": warmup,
        "server_rss_growth_pct": growth(rss, warmup),
        "js_heap_growth_pct": growth(heap, warmup),
        "page_connection_at_end": connection,
        "page_errors": errors[:5],
        "target_growth_pct": 5.0,
    }
