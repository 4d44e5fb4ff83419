"""Traces with the real OpenTelemetry SDK: a real projector on the embedded log, a real hub subscriber.

One `consume batch` span per batch (linked to the producers' traceparents), its `apply batch` child,
then `sse push` / `render frame` linked to the batch that produced the change; with tracing off
nothing is recorded and nothing breaks.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shopfloor.config import Settings
from shopfloor.consumers.projector import Projector
from shopfloor.live.hub import Frame, Hub
from shopfloor.observability import tracing
from shopfloor.runtime import open_store
from shopfloor.store.batch import decode_notice, encode_notice
from shopfloor.store.changes import ChangeNotice
from shopfloor.store.registry import HANDLERS
from shopfloor.store.work_orders import VIEW
from shopfloor.transport.memory import MemoryLog, MemorySink, MemorySource
from tests.support import encode, event, wait_until, wo

TOPIC = "mes.work-orders"
UPSTREAM_A = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
UPSTREAM_B = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


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


def _fill(log: MemoryLog) -> None:
    """Structured mode with a `traceparent` attribute, binary mode with `ce_traceparent`, one bad record."""
    structured = event("WorkOrderStatusChanged", wo("WO-1", "RELEASED"), correlationid="corr-1")
    structured["traceparent"] = UPSTREAM_A
    log.append(TOPIC, *_keyed(structured, "WO-1"))
    binary = event("WorkOrderStatusChanged", wo("WO-2", "RELEASED"), offset_s=1)
    binary["traceparent"] = UPSTREAM_B
    value, headers = encode(binary, binary=True)
    log.append(TOPIC, value, b"WO-2", headers)
    log.append(TOPIC, b"{not json", b"WO-3", [])


def _keyed(evt: dict[str, object], key: str) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    value, headers = encode(evt)
    return value, key.encode(), headers


@pytest.fixture
async def pipeline(sqlite_url: str) -> AsyncIterator[tuple[Projector, asyncio.Queue[Frame | None]]]:
    """A projector over a 1-partition embedded log, committing into a hub with one subscriber."""
    engine = open_store(Settings(database_url=sqlite_url))
    hub = Hub(version=0, frame=0.05)
    hub.register(VIEW, _render)
    subscriber = hub.subscribe(VIEW)
    log = MemoryLog(partitions=1)
    _fill(log)
    projector = Projector(
        MemorySource(log), MemorySink(log), engine, "g", [TOPIC], HANDLERS, on_commit=hub.publish
    )
    task = asyncio.create_task(projector.run())
    try:
        await wait_until(lambda: projector.status.applied + projector.status.dead >= 3, 20, "3 records")
        yield projector, subscriber.queue
    finally:
        projector.stop()
        await task


def _by_name(spans: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name]


async def test_batch_commit_and_push_are_traced_and_linked(exporter: InMemorySpanExporter, pipeline) -> None:  # type: ignore[no-untyped-def]
    _, queue = pipeline
    frame = await asyncio.wait_for(queue.get(), 5)
    assert frame is not None and frame.event == "patch"
    await wait_until(lambda: len(_by_name(exporter.get_finished_spans(), "sse push")) >= 1, 5, "push span")
    spans = exporter.get_finished_spans()

    [consume] = _by_name(spans, "consume batch")  # one span for the whole batch, not one per event
    assert consume.attributes is not None
    assert consume.attributes["messaging.batch.message_count"] == 3
    assert consume.attributes["messaging.destination.name"] == (TOPIC,)
    assert consume.attributes["shopfloor.partitions"] == (f"{TOPIC}[0]@0",)
    assert consume.attributes["shopfloor.correlation_ids"] == "corr-1"
    assert consume.attributes["shopfloor.undecodable"] == 1
    linked = {tracing.traceparent_of(link.context) for link in consume.links}
    assert linked == {UPSTREAM_A, UPSTREAM_B}  # structured attribute and ce_traceparent header

    [apply] = _by_name(spans, "apply batch")
    assert apply.parent is not None and apply.parent.span_id == consume.context.span_id
    assert apply.attributes is not None
    assert (apply.attributes["shopfloor.applied"], apply.attributes["shopfloor.dead_letters"]) == (2, 1)
    assert apply.attributes["shopfloor.duplicates"] == apply.attributes["shopfloor.stale"] == 0
    assert apply.attributes["shopfloor.commit_ms"] > 0

    [push] = _by_name(spans, "sse push")
    assert [link.context.span_id for link in push.links] == [apply.context.span_id]
    assert push.context.trace_id == apply.context.trace_id  # one trace: record -> commit -> push
    assert push.attributes is not None and push.attributes["shopfloor.subscribers"] == 1
    assert push.attributes["shopfloor.version"] == frame.id
    [render] = _by_name(spans, "render frame")
    assert render.parent is not None and render.parent.span_id == push.context.span_id


async def test_without_an_exporter_nothing_is_recorded(pipeline) -> None:  # type: ignore[no-untyped-def]
    spans = InMemorySpanExporter()
    provider = TracerProvider()  # a working SDK, but never handed to shopfloor
    provider.add_span_processor(SimpleSpanProcessor(spans))
    projector, queue = pipeline
    frame = await asyncio.wait_for(queue.get(), 5)
    assert frame is not None and frame.event == "patch"
    assert projector.status.applied == 2 and projector.status.dead == 1
    assert not tracing.enabled()
    assert spans.get_finished_spans() == ()
    with tracing.consume_span([], "g") as span:
        assert span is None
    assert tracing.traceparent(span) is None
    provider.shutdown()


def test_configure_from_env_is_off_without_an_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    assert tracing.configure_from_env("serve") is False
    assert not tracing.enabled()


def test_notice_carries_the_trace_compactly_and_stays_compatible() -> None:
    notice = ChangeNotice(3, {"v": frozenset({"a"})}, {"v": 5}, trace=UPSTREAM_A)
    payload = encode_notice(notice)
    assert json.loads(payload)["p"] == UPSTREAM_A
    assert decode_notice(payload).trace == UPSTREAM_A
    assert decode_notice(payload) == notice
    untraced = ChangeNotice(3, {"v": frozenset({"a"})}, {"v": 5})
    assert "p" not in json.loads(encode_notice(untraced))  # what older replicas send and read
    assert decode_notice('{"v": 3, "k": {"v": ["a"]}, "t": {"v": 5}}').trace is None


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "garbage",
        "00-" + "0" * 32 + "-b7ad6b7169203331-01",
        UPSTREAM_A[:-1] + "x",
        "ff" + UPSTREAM_A[2:],
    ],
)
def test_malformed_traceparents_are_ignored(value: str | None) -> None:
    assert tracing.parse_traceparent(value) is None


def test_traceparent_round_trip() -> None:
    ctx = tracing.parse_traceparent(UPSTREAM_B)
    assert ctx is not None and ctx.is_remote
    assert tracing.traceparent_of(ctx) == UPSTREAM_B
