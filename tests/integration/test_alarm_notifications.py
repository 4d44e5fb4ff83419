"""Unacknowledged critical alarms go to a real local webhook (retried with back-off), then escalate."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from shopfloor import alarm_config
from shopfloor.alarm_notify import Notifier, Policy
from shopfloor.events.codec import decode, encode_structured
from shopfloor.runtime import build
from shopfloor.store import notifications
from shopfloor.store.batch import Batch, apply_batch
from shopfloor.store.registry import HANDLERS
from tests.support import T0, event, unique_settings

T0_S = T0.timestamp()


class Receiver:
    """A webhook on 127.0.0.1 that answers 500 to its first `failures` posts, then 200, each after
    `delay_s`."""

    def __init__(self, failures: int, delay_s: float = 0.0) -> None:
        self.failures, self.bodies, self.statuses = failures, [], []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                time.sleep(delay_s)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.bodies.append(json.loads(body))
                status = 500 if len(receiver.bodies) <= receiver.failures else 200
                receiver.statuses.append(status)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _raise_alarm(engine: Any, machine: str) -> None:
    """Six vibration readings over the limit, one a second from T0: an alarm raised at the fifth."""
    readings = [
        event(
            "SensorReading",
            {"equipment_id": machine, "sensor": "vibration", "value": 9.0},
            at=T0 + timedelta(seconds=i),
        )
        for i in range(6)
    ]
    apply_batch(engine, Batch("n", [decode(*encode_structured(e)) for e in readings], {}, {}), HANDLERS)


@pytest.fixture
def critical_vibration() -> Iterator[Callable[[], None]]:
    """Call after `build` (which installs the process's configuration): vibration alarms are critical."""

    def install() -> None:
        alarm_config.install(
            alarm_config.load(None, env={"SHOPFLOOR_ALARM_PRIORITIES": "vibration=critical"})
        )

    yield install
    alarm_config.install(alarm_config.AlarmConfig())


async def test_unacknowledged_critical_alarm_is_sent_retried_and_escalated(
    database_url, critical_vibration
) -> None:  # type: ignore[no-untyped-def]
    runtime = build(unique_settings("127.0.0.1:1", database_url), consume=False, serve_web=False)
    critical_vibration()
    _raise_alarm(runtime.engine, "M-1")
    first, second = Receiver(failures=2), Receiver(failures=0)
    now = [T0_S + 5 * 60]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    policy = Policy(first.url, 600, second.url, 1800, retries=4, backoff_s=1.0)
    notifier = Notifier(runtime.engine, policy, clock=lambda: now[0], sleep=sleep)
    try:
        assert await notifier.run_once() == []  # 5 minutes unacknowledged: not yet
        now[0] = T0_S + 11 * 60
        [sent] = await notifier.run_once()
        assert (sent["level"], sent["status"], sent["attempts"]) == (1, "DELIVERED", 3)
        assert first.statuses == [500, 500, 200] and slept == [1.0, 2.0]  # back-off doubles
        body = first.bodies[-1]
        assert (body["equipment_id"], body["kind"], body["priority"], body["escalation"]) == (
            "M-1",
            "THRESHOLD",
            "critical",
            False,
        )
        assert body["unacknowledged_s"] == 11 * 60 - 4  # raised at the fifth reading over the limit (4 s)
        assert await notifier.run_once() == []  # never twice
        now[0] = T0_S + 31 * 60
        [escalated] = await notifier.run_once()
        assert (escalated["level"], escalated["target"], escalated["status"]) == (2, second.url, "DELIVERED")
        assert second.bodies[-1]["escalation"] is True
        with runtime.engine.connect() as conn:
            assert [(d["level"], d["status"]) for d in notifications.deliveries(conn)] == [
                (1, "DELIVERED"),
                (2, "DELIVERED"),
            ]
    finally:
        first.close()
        second.close()
        await notifier.client.aclose()
        runtime.engine.dispose()


async def test_workers_configured_alike_send_each_alarm_once(database_url, critical_vibration) -> None:  # type: ignore[no-untyped-def]
    """Every projector worker may carry the webhook URL: while one is sending (a slow webhook here),
    the others' passes send nothing, and the alarm reaches the webhook once."""
    runtime = build(unique_settings("127.0.0.1:1", database_url), consume=False, serve_web=False)
    critical_vibration()
    _raise_alarm(runtime.engine, "M-3")
    slow = Receiver(failures=0, delay_s=1.0)
    workers = [Notifier(runtime.engine, Policy(slow.url, 60), clock=lambda: T0_S + 3600) for _ in range(3)]
    try:
        passes = await asyncio.gather(*(w.run_once() for w in workers))
        again = await asyncio.gather(*(w.run_once() for w in workers))
    finally:
        slow.close()
        for w in workers:
            await w.client.aclose()
        runtime.engine.dispose()
    assert sorted(len(sent) for sent in passes) == [0, 0, 1], passes
    assert len(slow.bodies) == 1 and again == [[], [], []], slow.bodies


async def test_a_webhook_that_never_answers_is_recorded_as_failed(sqlite_url, critical_vibration) -> None:  # type: ignore[no-untyped-def]
    runtime = build(unique_settings("127.0.0.1:1", sqlite_url), consume=False, serve_web=False)
    critical_vibration()
    _raise_alarm(runtime.engine, "M-2")
    down = Receiver(failures=0)
    url = down.url
    down.close()  # nothing listens there any more

    async def sleep(_: float) -> None:
        pass

    notifier = Notifier(runtime.engine, Policy(url, 60, retries=3), clock=lambda: T0_S + 3600, sleep=sleep)
    try:
        [failed] = await notifier.run_once()
        assert (failed["status"], failed["attempts"]) == ("FAILED", 3)
        assert "ConnectError" in failed["last_error"]
    finally:
        await notifier.client.aclose()
        runtime.engine.dispose()
