"""OpenTelemetry traces: Kafka batch -> projection commit -> SSE push, exported over OTLP when configured.

Batches carry thousands of events, so spans are per batch, never per event: `consume batch` (links
to the W3C `traceparent` the records carry, CloudEvents distributed-tracing extension), its child
`apply batch` (the transaction), and on the web side `sse push` with a child `render frame`, linked
to every `apply batch` whose change notice the frame carries (the notice holds that span's
traceparent, in process or through PostgreSQL NOTIFY).

Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) is set: every helper then
returns at its first line, so the hot path pays one global read per batch.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanContext, SpanKind, TraceFlags, Tracer

from shopfloor.store.batch import Rejected

log = logging.getLogger(__name__)
MAX_LINKS = 32
NOOP: contextlib.nullcontext[None] = contextlib.nullcontext()
_tracer: Tracer | None = None
_provider: Any = None


def enabled() -> bool:
    return _tracer is not None


def use(provider: Any | None) -> None:
    """Traces go to `provider` (an SDK TracerProvider), or nowhere with None. Tests pass their own."""
    global _tracer, _provider
    _provider = provider
    _tracer = None if provider is None else provider.get_tracer("shopfloor")


def configure_from_env(role: str) -> bool:
    """Sets up OTLP/HTTP export when the standard OTEL_* variables ask for it; True if on."""
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    if not endpoint or os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    if os.environ.get("OTEL_TRACES_EXPORTER", "otlp").lower() == "none":
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    defaults = {SERVICE_NAME: "shopfloor", "shopfloor.role": role}
    if os.environ.get("OTEL_SERVICE_NAME"):
        defaults.pop(SERVICE_NAME)
    provider = TracerProvider(resource=Resource.create(defaults))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))  # reads OTEL_EXPORTER_OTLP_*
    trace.set_tracer_provider(provider)
    use(provider)
    log.info("OpenTelemetry traces exported over OTLP/HTTP to %s", endpoint)
    return True


def shutdown() -> None:
    """Flushes spans still buffered (the SDK also does this at interpreter exit)."""
    if _provider is not None:
        _provider.shutdown()


def traceparent(span: Span | None) -> str | None:
    """The W3C traceparent of `span`, to carry in a change notice (55 characters)."""
    return None if span is None else traceparent_of(span.get_span_context())


def traceparent_of(ctx: SpanContext) -> str | None:
    if not ctx.is_valid:
        return None
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"


def parse_traceparent(value: str | None) -> SpanContext | None:
    """A remote SpanContext from a W3C traceparent, or None when it is missing or malformed."""
    if not value or len(value) < 55:
        return None
    parts = value.strip().split("-")
    if len(parts) < 4 or len(parts[0]) != 2 or parts[0] == "ff":
        return None
    version, trace_id, span_id, flags = parts[:4]
    if len(trace_id) != 32 or len(span_id) != 16 or len(flags) != 2 or (version == "00" and len(parts) != 4):
        return None
    try:
        ctx = SpanContext(int(trace_id, 16), int(span_id, 16), True, TraceFlags(int(flags, 16) & 1))
    except ValueError:
        return None
    return ctx if ctx.is_valid else None


def _links(traceparents: Iterable[str | None]) -> list[Link]:
    links: list[Link] = []
    seen: set[str] = set()
    for value in traceparents:
        if not value or value in seen:
            continue
        seen.add(value)
        ctx = parse_traceparent(value)
        if ctx is not None:
            links.append(Link(ctx))
            if len(links) >= MAX_LINKS:
                break
    return links


def record_traceparents(records: Sequence[Any], items: Sequence[Any]) -> Iterator[str | None]:
    """Per record: the decoded `traceparent` extension, else a `ce_traceparent`/`traceparent` header."""
    for record, item in zip(records, items, strict=False):
        value = getattr(item, "traceparent", None)
        if value is None:
            for name, raw in record.headers:
                if name in ("ce_traceparent", "traceparent"):
                    value = None if raw is None else raw.decode("ascii", "replace")
                    break
        yield value


def consume_span(records: Sequence[Any], group_id: str) -> contextlib.AbstractContextManager[Span | None]:
    """`consume batch`, current while the batch is decoded and committed; a no-op when tracing is off."""
    if _tracer is None:
        return NOOP
    first: dict[tuple[str, int], int] = {}
    for record in records:  # in log order per partition: the first seen is the lowest offset
        first.setdefault((record.topic, record.partition), record.offset)
    return _tracer.start_as_current_span(
        "consume batch",
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.consumer.group.name": group_id,
            "messaging.batch.message_count": len(records),
            "messaging.destination.name": sorted({t for t, _ in first}),
            "shopfloor.partitions": [f"{t}[{p}]@{offset}" for (t, p), offset in sorted(first.items())],
        },
    )


def decoded(span: Span | None, records: Sequence[Any], items: Sequence[Any], correlation: str | None) -> None:
    """Links `consume batch` to the producers' traces (up to MAX_LINKS) and notes the correlation ids."""
    if span is None:
        return
    for link in _links(record_traceparents(records, items)):
        span.add_link(link.context)
    if correlation:
        span.set_attribute("shopfloor.correlation_ids", correlation)
    undecodable = sum(1 for item in items if isinstance(item, Rejected))
    if undecodable:
        span.set_attribute("shopfloor.undecodable", undecodable)


def apply_span(records: int) -> contextlib.AbstractContextManager[Span | None]:
    """`apply batch`: the one transaction (child of `consume batch`)."""
    if _tracer is None:
        return NOOP
    return _tracer.start_as_current_span("apply batch", attributes={"shopfloor.records": records})


def applied(span: Span | None, result: Any) -> None:
    """Outcome counts and commit time on the `apply batch` span."""
    if span is None or result is None:
        return
    span.set_attributes(
        {
            "shopfloor.applied": result.applied,
            "shopfloor.duplicates": result.duplicates,
            "shopfloor.stale": result.stale,
            "shopfloor.dead_letters": result.dead,
            "shopfloor.commit_ms": round(result.commit_seconds * 1000, 3),
            "shopfloor.version": result.notice.version if result.notice is not None else -1,
        }
    )


def push_span(
    view: str, traceparents: Sequence[str], version: int, keys: int, subscribers: int
) -> contextlib.AbstractContextManager[Span | None]:
    """`sse push` of one frame: child of the oldest batch it carries, linked to all of them."""
    if _tracer is None:
        return NOOP
    links = _links(traceparents)
    parent = trace.set_span_in_context(trace.NonRecordingSpan(links[0].context)) if links else Context()
    return _tracer.start_as_current_span(
        "sse push",
        context=parent,
        kind=SpanKind.PRODUCER,
        links=links,
        attributes={
            "shopfloor.view": view,
            "shopfloor.version": version,
            "shopfloor.keys": keys,
            "shopfloor.subscribers": subscribers,
            "shopfloor.batches": len(traceparents),
        },
    )


def render_span(view: str) -> contextlib.AbstractContextManager[Span | None]:
    """`render frame`: the fragment rendered once for every subscriber (child of `sse push`)."""
    if _tracer is None:
        return NOOP
    return _tracer.start_as_current_span("render frame", attributes={"shopfloor.view": view})
