"""What an HTTP flood costs everybody else, measured on a real `shopfloor demo` process.

`python -m bench.http_abuse [--streams 500] [--code DIR]`

Phase 1 (flood): the demo (embedded log, ~1,000 sensor readings/s) with the stream caps raised so
`--streams` trend streams from one address are all accepted; prints the median and p90 latency of
`GET /api/work-orders` before and while they are open, and the server's CPU share.
Phase 2 (defaults): the same server as shipped: how many of 300 streams from one address are
accepted, what 1,000 half-sent request heads do (API latency while they are held, how many the
server has dropped 15 s later), and the status of `offset=2**63`.

`--code DIR` runs the server from another source tree (e.g. the previous commit, for a before/after).
Figures only, no pass/fail: speed is judged in docs/reliability.md, not asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import httpx
import psutil

from bench.common import REPO, free_port, raise_fd_limit


@contextmanager
def demo_server(code: Path, env_extra: dict[str, str]) -> Iterator[tuple[str, int]]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(code), **env_extra}
    env.update(SHOPFLOOR_HOST="127.0.0.1", SHOPFLOOR_PORT=str(port))
    with tempfile.TemporaryDirectory() as workdir:
        process = subprocess.Popen(
            [sys.executable, "-m", "shopfloor", "demo", "--rate", "20", "--sensor-rate", "1000"],
            env=env,
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the demo server did not start")
                time.sleep(0.3)
            time.sleep(5)  # warm-up: the simulator's first burst, trend buckets filling
            yield url, process.pid
        finally:
            process.terminate()
            process.wait(15)


def api_latency(url: str, count: int = 100) -> tuple[float, float]:
    """(median, p90) in ms of sequential GET /api/work-orders."""
    times = []
    with httpx.Client(timeout=30) as client:
        for _ in range(count):
            started = time.perf_counter()
            client.get(f"{url}/api/work-orders", params={"limit": 100}).raise_for_status()
            times.append((time.perf_counter() - started) * 1000)
            time.sleep(0.02)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9)]


class Stream(asyncio.Protocol):
    """A bare SSE client: counts its status and the points frames it receives."""

    def __init__(self, request: bytes, tally: dict[str, int]) -> None:
        self.request = request
        self.tally = tally
        self.first = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        if self.first:
            self.first = False
            status = data[9:12].decode(errors="replace")
            self.tally[status] = self.tally.get(status, 0) + 1
        self.tally["frames"] = self.tally.get("frames", 0) + data.count(b"event: points")


async def open_streams(url: str, machines: list[str], count: int) -> tuple[list[asyncio.BaseTransport], dict]:
    host, port = url.removeprefix("http://").split(":")
    loop = asyncio.get_running_loop()
    tally: dict[str, int] = {}
    transports = []
    for i in range(count):
        machine = quote(machines[i % len(machines)], safe="")
        request = (
            f"GET /sse/equipment-trend?machine={machine} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Accept: text/event-stream\r\n\r\n"
        ).encode()
        transport, _ = await loop.create_connection(lambda r=request: Stream(r, tally), host, int(port))
        transports.append(transport)
        if i % 50 == 49:
            await asyncio.sleep(0.05)
    for _ in range(150):  # up to 30 s, until every stream has its status line (a loaded box is slow)
        if sum(v for k, v in tally.items() if k != "frames") >= count:
            break
        await asyncio.sleep(0.2)
    return transports, tally


def machine_ids(url: str) -> list[str]:
    return [m["equipment_id"] for m in httpx.get(f"{url}/api/equipment").json()["items"]][:20]


def cpu_share(pid: int, seconds: float) -> float:
    process = psutil.Process(pid)
    process.cpu_percent(None)
    time.sleep(seconds)
    return process.cpu_percent(None)


async def flood(url: str, pid: int, streams: int) -> None:
    machines = await asyncio.to_thread(machine_ids, url)
    quiet = await asyncio.to_thread(api_latency, url)
    quiet_cpu = await asyncio.to_thread(cpu_share, pid, 5)
    transports, tally = await open_streams(url, machines, streams)
    await asyncio.sleep(3)
    loaded = await asyncio.to_thread(api_latency, url)
    loaded_cpu = await asyncio.to_thread(cpu_share, pid, 5)
    frames = tally.get("frames", 0)
    for transport in transports:
        transport.close()
    print(f"flood: {streams} trend streams over {len(machines)} machines, statuses {tally}")
    print(
        f"  API /api/work-orders median {quiet[0]:.1f} ms (p90 {quiet[1]:.1f}) quiet, "
        f"server CPU {quiet_cpu:.0f} %"
    )
    print(
        f"  API /api/work-orders median {loaded[0]:.1f} ms (p90 {loaded[1]:.1f}) with the streams open, "
        f"server CPU {loaded_cpu:.0f} %, {frames} points frames received"
    )


async def defaults(url: str) -> None:
    machines = await asyncio.to_thread(machine_ids, url)
    transports, tally = await open_streams(url, machines, 300)
    print(
        f"caps: 300 trend streams from one address -> {tally.get('200', 0)} accepted, "
        f"{tally.get('429', 0)} refused (429)"
    )
    for transport in transports:
        transport.close()
    host, port = url.removeprefix("http://").split(":")
    writers = []
    for _ in range(1000):
        _, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"GET /api/work-orders HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        writers.append(writer)
    held = await asyncio.to_thread(api_latency, url, 50)
    await asyncio.sleep(15)
    dropped = sum(1 for w in writers if w.transport.is_closing() or w.is_closing() or _eof(w))
    print(
        f"slow heads: 1000 half-sent request heads; API median {held[0]:.1f} ms (p90 {held[1]:.1f}) "
        f"while held; {dropped} dropped by the server 15 s later"
    )
    for writer in writers:
        writer.close()
    answer = await asyncio.to_thread(httpx.get, f"{url}/api/work-orders", params={"offset": str(2**63)})
    status = answer.status_code
    print(f"huge integers: /api/work-orders?offset=2**63 -> {status}")


def _eof(writer: asyncio.StreamWriter) -> bool:
    reader = writer._protocol._stream_reader  # type: ignore[attr-defined]
    return reader is not None and reader.at_eof()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=500)
    parser.add_argument("--code", type=Path, default=REPO, help="source tree the server runs from")
    parser.add_argument("--skip-defaults", action="store_true", help="only the flood phase")
    parser.add_argument("--skip-flood", action="store_true", help="only the defaults phase")
    args = parser.parse_args()
    raise_fd_limit()
    raised = {"SHOPFLOOR_STREAMS_PER_CLIENT": str(args.streams + 100), "SHOPFLOOR_LOG_LEVEL": "warning"}
    if not args.skip_flood:
        with demo_server(args.code, raised) as (url, pid):
            asyncio.run(flood(url, pid, args.streams))
    if not args.skip_defaults:
        with demo_server(args.code, {}) as (url, _):
            asyncio.run(defaults(url))


if __name__ == "__main__":
    main()
