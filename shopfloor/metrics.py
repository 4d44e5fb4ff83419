"""Prometheus metrics shared by the consumers and the web side."""

from __future__ import annotations

import sys

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2, 5, 10, 30, 60)

EVENTS = Counter("shopfloor_events_total", "Records consumed, by outcome", ["outcome"])
BATCH_SIZE = Histogram(
    "shopfloor_batch_size",
    "Records per applied batch",
    buckets=(1, 10, 50, 100, 500, 1000, 2000, 5000, 10000),
)
COMMIT_SECONDS = Histogram(
    "shopfloor_batch_commit_seconds", "Batch transaction time", buckets=LATENCY_BUCKETS
)
EVENT_TO_COMMIT = Histogram(
    "shopfloor_event_to_commit_seconds", "Event time to read-model commit", buckets=LATENCY_BUCKETS
)
EVENT_TO_PUSH = Histogram(
    "shopfloor_event_to_push_seconds",
    "Event time to SSE send of the change, per view",
    ["view"],
    buckets=LATENCY_BUCKETS,
)
CONSUMER_LAG = Gauge("shopfloor_consumer_lag", "Records behind the log end", ["topic", "partition"])
SSE_CLIENTS = Gauge("shopfloor_sse_clients", "Connected SSE clients", ["view"])
SSE_FRAMES = Counter("shopfloor_sse_frames_total", "SSE frames rendered (sent to every subscriber)", ["view"])
SSE_WRITE_SECONDS = Gauge(
    "shopfloor_sse_write_seconds",
    "Event-loop time one SSE write takes, measured on frames to 100 screens or more; frames last at least "
    "twice the writes of all connected screens",
)
DEAD_LETTERS = Counter(
    "shopfloor_dead_letters_total", "Records dead-lettered (DLQ topic and table), by source topic", ["topic"]
)
PARKED = Counter(
    "shopfloor_parked_records_total",
    "Rejected records the .dlq topic would not take: kept in the dead-letter table only (status PARKED)",
    ["topic"],
)
DEAD_LETTER_EXTRA_COPIES = Counter(
    "shopfloor_dead_letter_extra_copies_total",
    ".dlq copies sent for a batch that was then not committed (a rebalance moved its partition): "
    "the .dlq topic holds this many more records than the dead-letter table",
    ["topic"],
)
REBALANCES = Counter(
    "shopfloor_consumer_rebalances_total", "Partition assignments received (at start and on every rebalance)"
)
REBALANCE_SECONDS = Histogram(
    "shopfloor_consumer_rebalance_seconds",
    "Partitions revoked (or consumer started) until the new assignment resumed from stored positions",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120),
)
ASSIGNED_PARTITIONS = Gauge("shopfloor_consumer_assigned_partitions", "Partitions this consumer owns")
HISTORY_SNAPSHOT_SECONDS = Histogram(
    "shopfloor_history_snapshot_seconds",
    "Building and saving one past-view snapshot of a part (the heaviest background work: it shares "
    "the process's cores with the live path)",
    ["part"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
EVENT_LOOP_WATCH_SECONDS = 0.05
EVENT_LOOP_LAG = Histogram(
    "shopfloor_event_loop_lag_seconds",
    f"How much later than due a {EVENT_LOOP_WATCH_SECONDS * 1000:.0f} ms timer ran: the event loop stalled "
    "(or the process waited for a core) that long, and every screen's pushes with it",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
PYTHON_ALLOCATED_BLOCKS = Gauge(
    "shopfloor_python_allocated_blocks",
    "Memory blocks Python objects hold now: a leak grows it, while RSS also keeps memory the C "
    "allocator has not given back after a peak",
)
PYTHON_ALLOCATED_BLOCKS.set_function(sys.getallocatedblocks)
