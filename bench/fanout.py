"""SSE fan-out: how long one change takes to reach every connected client, for 100 to 2,000 clients.

One `shopfloor serve` process (SQLite store, Kafka) serves all clients of the work-order board,
under the plant's background load the whole time: 1,000 sensor events/s from a separate process
and 20 status changes/s to the orders already on the very board the clients watch, so every
client also receives the board's own traffic. The clients live in separate worker processes (250
per process, bare asyncio sockets). For each client count, a series of timed work-order changes
is produced, one per second, each a new order; every client notes when the row first arrives.
Latency is event `time` -> arrival at the client (so it includes Kafka, the projector's commit
and the render); the spread is arrival minus the first client's arrival for the same change (the
fan-out itself).

Then the same with more screens than one process holds, as a plant would deploy them: a
`shopfloor project` process and two `shopfloor web` replicas on one PostgreSQL store (commits told
to the replicas by NOTIFY), the clients spread evenly over the replicas.

A full run measures all of it three times, each round on a store and topics of its own, and
reports each client count's median round: on a shared machine one run's p99 moves with the hour
(the latency benchmark's moved 1.7-1.8x between two runs of the same code).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench.common import (
    STATUS_CYCLE,
    Producer,
    Server,
    Services,
    bench_process,
    bench_settings,
    cpu_seconds,
    ensure_topics,
    epoch_ms,
    log,
    median_round,
    read_line,
    rss_bytes,
    running_projector,
    running_server,
    sample_total,
    sensor_load,
    stop_process,
    stop_sensor_load,
    summarize,
    wait_ready,
    work_order_event,
)
from shopfloor.config import Settings

PER_WORKER = 250
TARGET_P99_MS = 100.0
SENSOR_RATE = 1000
BOARD_CHANGES_PER_S = 20
BOARD_ORDERS = 50
REPLICAS = 2


class BoardTraffic:
    """Status changes to the orders already on the board, one order after another at a steady rate:
    lap n of the orders takes each to the n-th status of the cycle, at sequence n + 2."""

    def __init__(self, producer: Producer, topic: str, rate: float) -> None:
        self._producer, self._topic, self._gap = producer, topic, 1 / rate
        self.sent = 0

    async def run(self) -> None:
        """Until cancelled."""
        started, first = time.monotonic(), self.sent
        while True:
            lap, at = divmod(self.sent, BOARD_ORDERS)
            order = f"WO-FAN-{at:03d}"
            event = work_order_event(order, STATUS_CYCLE[lap % len(STATUS_CYCLE)], lap + 2)
            await self._producer.send(self._topic, order, event)
            self.sent += 1
            await asyncio.sleep(max(0.0, started + (self.sent - first) * self._gap - time.monotonic()))


async def _count(
    servers: list[Server],
    producer: Producer,
    board: BoardTraffic,
    load_pid: int,
    topic: str,
    count: int,
    changes: int,
    gap: float,
    projector_pid: int | None = None,
) -> dict[str, Any]:
    """The clients spread evenly over `servers` (one `serve` process, or web replicas beside a
    projector process, `projector_pid`)."""
    per_server = math.ceil(math.ceil(count / PER_WORKER) / len(servers))  # as many workers on each
    shares = _split(count, per_server * len(servers))
    workers = [
        bench_process("sse_clients", "--url", servers[i % len(servers)].url, "--count", str(n))
        for i, n in enumerate(shares)
    ]
    board_task: asyncio.Task[None] | None = None
    try:
        connected = failed = 0
        for worker in workers:
            _, ok, bad = (await asyncio.to_thread(read_line, worker, 180, "SSE clients")).split()
            connected, failed = connected + int(ok), failed + int(bad)
        subscribed = await asyncio.to_thread(_wait_subscribed, [s.url for s in servers], connected)
        await asyncio.sleep(1)
        board_sent, board_started = board.sent, time.monotonic()
        board_task = asyncio.create_task(board.run())
        await asyncio.sleep(3)  # the board's own traffic reaches every client first
        rss_connected = sum(rss_bytes(s.pid) for s in servers)
        # how the machine's cores are shared while the timed changes go out
        groups = {
            "server": [s.pid for s in servers],
            "clients": [w.pid for w in workers],
            "sensor_producer": [load_pid],
            **({"projector": [projector_pid]} if projector_pid is not None else {}),
        }
        cpu_before = {name: cpu_seconds(pids) for name, pids in groups.items()}
        machine_before = _busy_seconds()
        sent: list[tuple[str, float]] = []
        started = time.monotonic()
        for k in range(changes):
            order = f"FAN-{count}-{k:03d}"
            event = work_order_event(order, "RELEASED", 1, line="FL1")
            await producer.send_now(topic, order, event)
            sent.append((f"{order}|RELEASED", epoch_ms(event)))
            await asyncio.sleep(max(0.0, started + (k + 1) * gap - time.monotonic()))
        timed_s = time.monotonic() - started
        cpu_share = {
            name: round((cpu_seconds(pids) - cpu_before[name]) / timed_s, 2) for name, pids in groups.items()
        }
        cpu_share["machine"] = round((_busy_seconds() - machine_before) / timed_s, 2)
        writes = [await asyncio.to_thread(_gauge, s.url, "shopfloor_sse_write_seconds") for s in servers]
        write_s = sum(writes) / len(writes)
        await asyncio.sleep(2 + count / 250)  # late deliveries count as late, not as missing
        board_rate = (board.sent - board_sent) / (time.monotonic() - board_started)
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
        if board_task is not None:
            board_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await board_task
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
        "web_processes": len(servers),
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
        "board_changes_per_s": round(board_rate, 1),
        "cpu_cores_used": cpu_share,
        "sse_write_us": round(write_s * 1e6, 1),  # as the server measured it; frames last 2x the writes
    }


def _busy_seconds() -> float:
    """CPU time the whole machine has spent running something (iowait, steal and guest not counted)."""
    times = psutil.cpu_times()
    return sum(getattr(times, name, 0.0) for name in ("user", "nice", "system", "irq", "softirq"))


def _gauge(url: str, name: str) -> float:
    """The server's gauge `name` from /metrics, summed over its labels."""
    return sample_total(httpx.get(f"{url}/metrics", timeout=10).text, name)


def _wait_subscribed(urls: list[str], count: int, timeout: float = 120) -> int:
    """Until the servers have subscribed `count` SSE clients (their /metrics gauges): a client whose
    TCP connect succeeded may still wait in the accept backlog, and would miss the first changes."""
    deadline = time.monotonic() + timeout
    subscribed = 0
    while time.monotonic() < deadline:
        subscribed = int(sum(_gauge(url, "shopfloor_sse_clients") for url in urls))
        if subscribed >= count:
            break
        time.sleep(0.5)
    return subscribed


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


async def _series(
    services: Services,
    settings: Settings,
    servers: list[Server],
    counts: list[int],
    changes: int,
    gap: float,
    projector: subprocess.Popen[bytes] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every client count against `servers`, the plant's load behind: the rows, and what the sensor
    producer achieved. With web replicas, `projector` is the process feeding them: a row taken after
    it ended would time nothing, so that ends the series with an error."""
    for server in servers:
        await asyncio.to_thread(wait_ready, server.url)
    rows: list[dict[str, Any]] = []
    async with Producer(services.kafka, linger_ms=0) as producer:
        # a board with some orders on it, so each patch is a realistic insert into a lane
        for i in range(BOARD_ORDERS):
            order = f"WO-FAN-{i:03d}"
            await producer.send(
                settings.topic_work_orders, order, work_order_event(order, "PLANNED", 1, line=f"FL{i % 5}")
            )
        await producer.flush()
        board = BoardTraffic(producer, settings.topic_work_orders, BOARD_CHANGES_PER_S)
        load = sensor_load(services.kafka, settings, SENSOR_RATE)
        try:
            read_line(load, 60, "sensor producer")
            where = "one process" if len(servers) == 1 else f"{len(servers)} web replicas"
            for count in counts:
                log(
                    f"fanout: {count} SSE clients on {where}, {SENSOR_RATE} sensor events/s and "
                    f"{BOARD_CHANGES_PER_S} board changes/s behind"
                )
                row = await _count(
                    servers,
                    producer,
                    board,
                    load.pid,
                    settings.topic_work_orders,
                    count,
                    changes,
                    gap,
                    None if projector is None else projector.pid,
                )
                log(
                    f"fanout {count} on {where}: latency {row['latency']} spread {row['spread']} "
                    f"missing {row['missing_deliveries']} board {row['board_changes_per_s']}/s "
                    f"cores {row['cpu_cores_used']}"
                )
                row["sensor_producer_running"] = load.poll() is None  # else this row had no sensor load
                if projector is not None and projector.poll() is not None:
                    raise RuntimeError(
                        f"shopfloor project ended ({projector.returncode}); its log is in the workdir"
                    )
                rows.append(row)
                await asyncio.sleep(2)
        finally:
            sensors = stop_sensor_load(load)
    return rows, sensors


def _holding(rows: list[dict[str, Any]]) -> int | None:
    """The largest client count whose (median round's) p99 held the target with every delivery made
    in every round."""
    held = [
        r["clients"]
        for r in rows
        if r["latency"].get("p99", math.inf) <= TARGET_P99_MS
        and not any(r.get("rounds_missed") or [r["missing_deliveries"]])
    ]
    return max(held) if held else None


ROUNDS = 3  # a full run's rounds of every client count (quick: one)


async def run(services: Services, workdir: Path, *, quick: bool) -> dict[str, Any]:
    counts = [100, 200] if quick else [100, 500, 1000, 2000]
    replica_counts = [100] if quick else [1000, 2000]
    changes, gap = (3, 0.5) if quick else (20, 1.0)
    rounds = 1 if quick else ROUNDS
    one_process: dict[int, list[dict[str, Any]]] = {count: [] for count in counts}
    on_replicas: dict[int, list[dict[str, Any]]] = {count: [] for count in replica_counts}
    sensors: list[dict[str, Any]] = []
    replica_sensors: list[dict[str, Any]] = []
    for round_ in range(1, rounds + 1):
        log(f"fanout round {round_}/{rounds}")
        # Each round a store and topics of its own: the board's sequences start again every round.
        settings = bench_settings(services.kafka, f"sqlite:///{workdir / f'fanout-r{round_}.db'}")
        await ensure_topics(services.kafka, settings.topics, settings.kafka_topic_partitions)
        with running_server(settings, workdir) as server:
            rows, achieved = await _series(services, settings, [server], counts, changes, gap)
        sensors.append(achieved)
        for row in rows:
            one_process[row["clients"]].append(row)
        # More screens than one process holds go to more web replicas, each with its own event
        # loop, told of every commit by PostgreSQL NOTIFY from the one projector process.
        shared = bench_settings(services.kafka, services.fresh_postgres(f"fanout{round_}"))
        await ensure_topics(services.kafka, shared.topics, shared.kafka_topic_partitions)
        with contextlib.ExitStack() as stack:
            projector = stack.enter_context(running_projector(shared, workdir))
            replicas = [
                stack.enter_context(running_server(shared, workdir, command="web")) for _ in range(REPLICAS)
            ]
            rows, achieved = await _series(
                services, shared, replicas, replica_counts, changes, gap, projector
            )
        replica_sensors.append(achieved)
        for row in rows:
            on_replicas[row["clients"]].append(row)
    rows = [_median_round(one_process[count]) for count in counts]
    replica_rows = [_median_round(on_replicas[count]) for count in replica_counts]
    for row in rows + replica_rows:
        log(
            f"fanout {row['clients']} on {row['web_processes']} process(es), median round: p99 "
            f"{row['latency'].get('p99')} ms (rounds {row['rounds_p99']}), missing {row['rounds_missed']}"
        )
    return {
        "benchmark": "fanout",
        "store": "sqlite",
        "rounds": rounds,
        "background": {
            "sensor_rate": SENSOR_RATE,
            "sensor_achieved": _median_rate(sensors),
            "sensor_achieved_rounds": sensors,
            "board_changes_per_s": BOARD_CHANGES_PER_S,
        },
        "rows": rows,
        "target_p99_ms": TARGET_P99_MS,
        "largest_holding_target": _holding(rows),
        "replicas": {
            "web_processes": REPLICAS,
            "store": "postgresql",
            "sensor_achieved": _median_rate(replica_sensors),
            "sensor_achieved_rounds": replica_sensors,
            "rows": replica_rows,
            "largest_holding_target": _holding(replica_rows),
        },
    }


def _median_round(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The round whose p99 is the median; a round with a delivery never made counts as the slowest."""
    return median_round(results, lambda r: r["latency"].get("p99"), "missing_deliveries")


def _median_rate(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The sensor producer's figures from the round with the median achieved rate."""
    ranked = sorted(rounds, key=lambda r: r.get("rate") or 0.0)
    return ranked[len(ranked) // 2]
