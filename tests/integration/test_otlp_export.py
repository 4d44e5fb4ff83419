"""A real `shopfloor demo` process exports its traces over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set.

The collector here is a plain HTTP server decoding the OTLP protobuf requests the SDK's exporter posts.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.support import running_server, unique_settings, wait_until


class Collector(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Receive)
        self.requests: list[ExportTraceServiceRequest] = []
        self.paths: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def spans(self) -> list[tuple[dict[str, object], object]]:
        """(resource attributes, span) for every span received so far."""
        found = []
        for request in list(self.requests):
            for resource_spans in request.resource_spans:
                resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                for scope in resource_spans.scope_spans:
                    found += [(resource, span) for span in scope.spans]
        return found


class _Receive(BaseHTTPRequestHandler):
    server: Collector

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        self.server.requests.append(request)
        self.server.paths.append(self.path)
        reply = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def collector() -> Iterator[Collector]:
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


async def test_demo_exports_linked_batch_and_push_spans(
    collector: Collector, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "200")
    database = f"sqlite:///{tmp_path / 'demo.db'}"
    settings = unique_settings(None, database)
    with running_server(settings, "--database-url", database, "--rate", "20", command="demo") as url:
        async with (
            httpx.AsyncClient(base_url=url, timeout=30) as client,
            client.stream("GET", "/sse/work-orders") as response,
        ):
            lines = response.aiter_lines()

            def pushed() -> bool:
                names = {span.name for _, span in collector.spans()}
                return {"consume batch", "apply batch", "sse push", "render frame"} <= names

            async for line in lines:  # keep the stream open until a live frame went out
                if line.startswith("event: patch"):
                    break
            await wait_until(pushed, 30, "batch and push spans at the collector")
    spans = collector.spans()
    assert set(collector.paths) == {"/v1/traces"}
    resource, _ = spans[0]
    assert resource["service.name"] == "shopfloor" and resource["shopfloor.role"] == "demo"
    applies = {span.span_id for _, span in spans if span.name == "apply batch"}
    pushes = [span for _, span in spans if span.name == "sse push"]
    assert any(link.span_id in applies for push in pushes for link in push.links)
    consumes = [span for _, span in spans if span.name == "consume batch"]
    assert len(consumes) <= len(applies)  # per batch, never per event
