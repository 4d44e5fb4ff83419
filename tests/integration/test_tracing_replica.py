"""The batch's trace context reaches a web replica through PostgreSQL NOTIFY.

A real projector commits into PostgreSQL and hands its notices to nobody in process; a hub fed only by
a NotifyListener (what a `shopfloor web` replica runs) pushes the frame, and that `sse push` span is
linked to, and in the same trace as, the projector's `apply batch`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from bench.common import fresh_postgres_database
from shopfloor.consumers.projector import Projector
from shopfloor.live.hub import Hub
from shopfloor.live.notify_listener import NotifyListener
from shopfloor.observability import tracing
from shopfloor.runtime import open_store
from shopfloor.store.registry import HANDLERS
from shopfloor.store.work_orders import VIEW
from shopfloor.transport.memory import MemoryLog, MemorySink, MemorySource
from tests.support import encode, event, unique_settings, wait_until, wo


@pytest.fixture
def postgres_url(postgres: str) -> Iterator[str]:
    yield from fresh_postgres_database(postgres)


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    tracing.use(provider)
    try:
        yield spans
    finally:
        tracing.use(None)
        provider.shutdown()


async def _render(keys: frozenset[str]) -> str:
    return ",".join(sorted(keys))


async def test_push_on_a_replica_links_to_the_committing_batch(
    postgres_url: str, exporter: InMemorySpanExporter
) -> None:
    engine = open_store(unique_settings(None, postgres_url))
    replica = Hub(0, 0.01)
    replica.register(VIEW, _render)
    subscriber = replica.subscribe(VIEW)
    listener = NotifyListener(postgres_url, replica)
    listening = asyncio.create_task(listener.run())
    log = MemoryLog(partitions=1)
    projector = Projector(
        MemorySource(log),
        MemorySink(log),
        engine,
        "g",
        ["mes.work-orders"],
        HANDLERS,
        on_commit=lambda n: None,
    )
    projecting: asyncio.Task[None] | None = None
    try:
        await wait_until(lambda: listener.status.connected, 15, "the listener to connect")
        projecting = asyncio.create_task(projector.run())
        value, headers = encode(event("WorkOrderStatusChanged", wo("WO-1", "RELEASED")))
        log.append("mes.work-orders", value, b"WO-1", headers)
        frame = await asyncio.wait_for(subscriber.queue.get(), 15)
        assert frame is not None and frame.event == "patch" and frame.data == "WO-1"
        await wait_until(
            lambda: any(s.name == "sse push" for s in exporter.get_finished_spans()), 5, "the push span"
        )
    finally:
        projector.stop()
        if projecting is not None:
            await projecting
        listening.cancel()
        with pytest.raises(asyncio.CancelledError):
            await listening
        engine.dispose()
    spans = exporter.get_finished_spans()
    [apply] = [s for s in spans if s.name == "apply batch"]
    [push] = [s for s in spans if s.name == "sse push"]
    assert [link.context.span_id for link in push.links] == [apply.context.span_id]
    assert push.context.trace_id == apply.context.trace_id
