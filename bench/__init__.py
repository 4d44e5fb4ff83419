"""Benchmarks: event->pixel latency, ingest throughput, SSE fan-out and a soak (`python bench/run.py`)."""
