"""The SSE stream over real HTTP: status first, catch-up by Last-Event-ID, then live frames."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from collections.abc import AsyncIterator

import httpx

from tests.support import (
    REPO,
    event,
    free_port,
    running_server,
    server_log,
    settings_env,
    unique_settings,
    wait_until,
    wo,
)


async def _frames(lines: AsyncIterator[str], count: int, timeout: float = 15) -> list[dict[str, str]]:
    frames: list[dict[str, str]] = []
    current: dict[str, str] = {}
    async with asyncio.timeout(timeout):
        async for line in lines:
            if not line:
                if current:
                    frames.append(current)
                    current = {}
                    if len(frames) >= count:
                        return frames
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            current[name] = current[name] + "\n" + value if name in current else value
    return frames


async def test_reconnect_with_last_event_id_gets_what_changed_since(kafka, producer, sqlite_url) -> None:  # type: ignore[no-untyped-def]
    settings = unique_settings(kafka, sqlite_url)
    topic = settings.topic_work_orders
    with running_server(settings) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            await producer.event(topic, "WO-A", event("WorkOrderStatusChanged", wo("WO-A", "PLANNED")))

            async def version() -> int:
                return (await client.get("/api/work-orders")).json()["version"]

            await wait_until(lambda: version(), 30, "the first event applied")
            seen = await version()
            await producer.event(topic, "WO-B", event("WorkOrderStatusChanged", wo("WO-B", "RELEASED")))
            await wait_until(lambda: _newer(client, seen), 30, "the second event applied")

            headers = {"Last-Event-ID": str(seen)}
            async with client.stream("GET", "/sse/work-orders", headers=headers) as response:
                assert response.headers["content-type"].startswith("text/event-stream")
                lines = response.aiter_lines()
                status, catch_up = await _frames(lines, 2)
                assert status["event"] == "status"
                assert json.loads(status["data"])["healthy"] is True
                assert catch_up["event"] == "patch"
                assert 'data-work-order="WO-B"' in catch_up["data"]
                assert 'data-work-order="WO-A"' not in catch_up["data"]
                assert int(catch_up["id"]) > seen

                await producer.event(
                    topic, "WO-A", event("WorkOrderStatusChanged", wo("WO-A", "IN_PROGRESS"))
                )
                [live] = await _frames(lines, 1)
                assert live["event"] == "patch"
                assert 'data-work-order="WO-A" data-status="IN_PROGRESS"' in " ".join(live["data"].split())

            async with client.stream("GET", "/sse/work-orders") as response:  # no version: start over
                _, reload = await _frames(response.aiter_lines(), 2)
                assert reload["event"] == "reload"

            bad = await client.get("/sse/work-orders?since=abc")
            assert bad.status_code == 400
            assert (await client.get("/sse/nonsense")).status_code == 404


async def _newer(client: httpx.AsyncClient, than: int) -> bool:
    return (await client.get("/api/work-orders")).json()["version"] > than


async def test_a_server_with_screens_connected_stops_when_asked(kafka, sqlite_url) -> None:  # type: ignore[no-untyped-def]
    """A live stream never ends by itself and uvicorn waits for every open response before it exits,
    so the server ends its streams when told to stop: the screens see their streams complete (and
    reconnect to whatever serves next), and the process exits."""
    settings = unique_settings(kafka, sqlite_url)
    port = free_port()
    env = settings_env(settings)
    env.update(SHOPFLOOR_PORT=str(port), SHOPFLOOR_HOST="127.0.0.1", SHOPFLOOR_AUTH="off")
    log_path = server_log(port)
    with log_path.open("w") as log_file:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "shopfloor",
            "serve",
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:

            async def healthy() -> bool:
                try:
                    return (await client.get("/healthz")).status_code == 200
                except httpx.HTTPError:
                    return False

            await wait_until(healthy, timeout=60, what="the server to answer")
            async with (
                client.stream("GET", "/sse/work-orders") as board,
                client.stream("GET", "/sse/equipment-trend?machine=M-1") as trend,
            ):
                lines = board.aiter_lines()
                assert (await _frames(lines, 1))[0]["event"] == "status"
                process.send_signal(signal.SIGTERM)
                async with asyncio.timeout(60):  # turns a stream that never ends into a failure
                    rest = [line async for line in lines]
                    trend_rest = [line async for line in trend.aiter_lines()]
                assert all(not line.startswith('data: {"session"') for line in rest + trend_rest)
        returncode = await asyncio.wait_for(process.wait(), 60)
        assert returncode in (0, -signal.SIGTERM), log_path.read_text()[-3000:]
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
