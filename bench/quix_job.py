"""The Quix Streams side of the ingest benchmark; runs in its own virtualenv (see bench/ingest.py).

Quix Streams 3.28.1 pins pydantic < 2.14 and pydantic-settings < 2.16, which shopfloor's pins
exclude, so it cannot share shopfloor's environment. This script imports nothing from shopfloor.

`python quix_job.py --bootstrap HOST:PORT --topic T --count N --op latest-status|sum-delta|latest-value`
consumes N records from the beginning, keeps the result in Quix's RocksDB state store, and prints
one JSON line: records, wall seconds, first-to-last-record seconds.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
import uuid
from typing import Any

from quixstreams import Application, State


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--op", required=True, choices=["latest-status", "sum-delta", "latest-value"])
    args = parser.parse_args()
    marks: dict[str, Any] = {"n": 0, "first": None, "last": None}

    def tick() -> None:
        now = time.perf_counter()
        if marks["first"] is None:
            marks["first"] = now
        marks["last"] = now
        marks["n"] += 1

    def latest_status(value: dict[str, Any], state: State) -> None:
        state.set("status", value["data"]["status"])
        tick()

    def sum_delta(value: dict[str, Any], state: State) -> None:
        location = value["data"]["location"]
        state.set(location, state.get(location, 0) + value["data"]["delta"])
        tick()

    def latest_value(value: dict[str, Any], state: State) -> None:
        state.set(value["data"]["sensor"], value["data"]["value"])
        tick()

    operation = {"latest-status": latest_status, "sum-delta": sum_delta, "latest-value": latest_value}[
        args.op
    ]
    with tempfile.TemporaryDirectory(prefix="quix-state-") as state_dir:
        app = Application(
            broker_address=args.bootstrap,
            consumer_group=f"bench-quix-{uuid.uuid4().hex[:8]}",
            auto_offset_reset="earliest",
            state_dir=state_dir,
            loglevel=logging.WARNING,
        )
        topic = app.topic(args.topic, value_deserializer="json", key_deserializer="str")
        sdf = app.dataframe(topic)
        sdf.update(operation, stateful=True)
        started = time.perf_counter()
        app.run(count=args.count, collect=False)
        wall = time.perf_counter() - started
    span = (marks["last"] - marks["first"]) if marks["first"] is not None else 0.0
    print(json.dumps({"records": marks["n"], "wall_s": wall, "span_s": span}), flush=True)


if __name__ == "__main__":
    main()
