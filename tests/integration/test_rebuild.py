"""`shopfloor rebuild work-orders` against a running `shopfloor serve`, on SQLite and PostgreSQL.

While events keep arriving and pages keep being served, the rebuild replays the topic into shadow
tables, catches up with the live projector and swaps. A row damaged in the live table beforehand is
repaired by the swap, and the result equals a clean replay.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time

import httpx
from sqlalchemy import text

from shopfloor.runtime import open_store
from shopfloor.transport.kafka import ensure_topics
from tests.integration.harness import projecting, wait_consumed, work_order_state
from tests.integration.scale import scale_settings
from tests.integration.test_worker_group import order_stream
from tests.support import REPO, running_server, settings_env, unique_settings, wait_until


def consumed(engine, group: str, topic: str) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT COALESCE(SUM(next_offset), 0) FROM consumer_positions "
                    "WHERE group_id = :g AND topic = :t"
                ),
                {"g": group, "t": topic},
            ).scalar_one()
        )


async def test_rebuild_swaps_while_pages_keep_serving(kafka, producer, database_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = scale_settings(kafka, database_url, kafka_topic_partitions=3, push_interval_seconds=0.1)
    topic, group = settings.topic_work_orders, settings.kafka_group_id
    await ensure_topics(kafka, settings.topics + [f"{t}.dlq" for t in settings.topics], 3, {})
    stream = order_stream(seed=5)
    first, later = stream[:-600], stream[-600:]
    for key, evt in first:
        await producer.sink.send(topic, json.dumps(evt).encode(), key.encode())
    await producer.sink.flush()
    engine = open_store(settings)

    with running_server(settings) as url:
        await wait_until(lambda: consumed(engine, group, topic) >= len(first), 90, "the live projector")
        with engine.begin() as conn:  # damage the live read model: only a rebuild repairs this
            conn.execute(text("UPDATE work_orders SET status = 'BROKEN' WHERE work_order_id = 'WO-G0001'"))
            conn.execute(text("DELETE FROM work_order_history WHERE work_order_id = 'WO-G0002'"))

        async def keep_producing() -> None:
            for n, (key, evt) in enumerate(later):
                await producer.sink.send(topic, json.dumps(evt).encode(), key.encode())
                if n % 20 == 19:
                    await asyncio.sleep(0.05)
            await producer.sink.flush()

        statuses: list[int] = []

        async def keep_reading() -> None:
            async with httpx.AsyncClient(base_url=url, timeout=10) as client:
                while True:
                    for path in ("/api/work-orders", "/work-orders", "/admin/rebuilds", "/api/rebuilds"):
                        statuses.append((await client.get(path)).status_code)
                    await asyncio.sleep(0.02)

        producing = asyncio.create_task(keep_producing())
        reading = asyncio.create_task(keep_reading())
        started = time.monotonic()
        rebuild = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "shopfloor",
            "rebuild",
            "work-orders",
            env=settings_env(settings),
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(rebuild.communicate(), 120)
        elapsed = time.monotonic() - started
        await producing
        await wait_until(lambda: consumed(engine, group, topic) >= len(stream), 60, "the live projector")
        reading.cancel()
        async with httpx.AsyncClient(base_url=url, timeout=5) as client:
            progress = (await client.get("/api/rebuilds")).json()
            board = await client.get("/work-orders")
    live_state = work_order_state(engine)
    engine.dispose()

    replay = unique_settings(kafka, f"sqlite:///{tmp_path / 'replay.db'}", topic_work_orders=topic)
    async with projecting(replay) as runtime:
        await wait_consumed(runtime, len(stream), timeout=120)
        clean_state = work_order_state(runtime.engine)

    stdout, stderr = out.decode(), err.decode()
    assert rebuild.returncode == 0, stderr[-3000:]
    summary = re.search(r"rebuilt work-orders: (\d+) events in ([\d.]+)s \(([\d,]+) events/s\)", stdout)
    assert summary, stdout
    print(f"\n[{engine.dialect.name}] {summary.group(0)}; wall {elapsed:.1f}s with pages served meanwhile")
    assert "100.0%" in stderr and "SWAPPED" in stderr  # the terminal progress bar
    assert [p["state"] for p in progress if p["model"] == "work-orders"] == ["SWAPPED"]
    assert statuses and set(statuses) == {200}, sorted(set(statuses))
    assert board.status_code == 200 and "BROKEN" not in board.text
    assert live_state == clean_state
