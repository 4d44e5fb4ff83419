"""Many SSE clients in one process, timing when each sees each change.

`python -m bench.sse_clients --url http://127.0.0.1:PORT --path /sse/work-orders --count 500`
connects the clients (a few per millisecond), prints `READY <connected> <failed>`, then answers
lines on stdin: `dump` prints one JSON line with, per work-order change seen
(`"<work_order_id>|<status>"`), the epoch-ms arrival time at every client that saw it, and clears
them; `quit` closes everything.

The client is a bare asyncio protocol on uvloop on purpose: on a 2-core machine the measuring
clients share the CPU with the server under test, so each received chunk costs only a regex scan
and a clock read.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from urllib.parse import urlsplit

import uvloop

MARKER = re.compile(rb'data-work-order="([^"]+)" data-status="([A-Z_]+)"')


class Tally:
    def __init__(self) -> None:
        self.seen: dict[str, list[float]] = {}
        self.connected = 0
        self.failed = 0
        self.lost = 0
        self.frames = 0


class SseClient(asyncio.Protocol):
    def __init__(self, tally: Tally, request: bytes) -> None:
        self._tally = tally
        self._request = request
        self._tail = b""
        self._mine: set[bytes] = set()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not an asyncio.Transport
        self.transport.write(self._request)

    def data_received(self, data: bytes) -> None:
        at = time.time() * 1000
        text = self._tail + data
        for match in MARKER.finditer(text):
            key = match.group(1) + b"|" + match.group(2)
            if key not in self._mine:
                self._mine.add(key)
                self._tally.seen.setdefault(key.decode(), []).append(at)
        self._tally.frames += data.count(b"event: patch")
        self._tail = text[-160:]

    def connection_lost(self, exc: Exception | None) -> None:
        self._tally.lost += 1


async def run(args: argparse.Namespace) -> None:
    url = urlsplit(args.url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    tally = Tally()
    clients: list[SseClient] = []
    loop = asyncio.get_running_loop()
    paths = args.path or ["/sse/work-orders"]

    async def connect(i: int) -> None:
        path = paths[i % len(paths)]
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n"
            "Cache-Control: no-cache\r\n\r\n"
        ).encode()
        try:
            _, client = await asyncio.wait_for(
                loop.create_connection(lambda: SseClient(tally, request), host, port), 30
            )
            clients.append(client)
            tally.connected += 1
        except (OSError, TimeoutError):
            tally.failed += 1

    for start in range(0, args.count, 50):
        await asyncio.gather(*(connect(i) for i in range(start, min(args.count, start + 50))))
        await asyncio.sleep(0.05)
    print(f"READY {tally.connected} {tally.failed}", flush=True)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = (await reader.readline()).decode().strip()
        if line == "dump":
            print(
                json.dumps(
                    {
                        "seen": tally.seen,
                        "connected": tally.connected,
                        "failed": tally.failed,
                        "lost": tally.lost,
                        "frames": tally.frames,
                    }
                ),
                flush=True,
            )
            tally.seen = {}
        elif line in ("quit", ""):
            break
    for client in clients:
        if client.transport is not None:
            client.transport.close()
    await asyncio.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True, help="server base URL (loopback only)")
    parser.add_argument("--path", action="append", help="SSE path(s), round-robin (default /sse/work-orders)")
    parser.add_argument("--count", type=int, required=True)
    args = parser.parse_args()
    if urlsplit(args.url).hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("sse_clients: only loopback targets are allowed")
    uvloop.run(run(args))


if __name__ == "__main__":
    main()
