"""Past views: how long `?at=` takes for a plant at 1,000 events/s.

The plant's traffic (the simulator's work orders, warehouse and ~950 sensor readings a second) is
generated over `minutes` of event time into the embedded log, as fast as it can be made. Then:
- replay rate: an as-of store for the newest moment, replayed from the beginning (no snapshot);
- snapshots every `interval` minutes of event time, taken as the server's snapshotter takes them;
- as-of latency from the nearest snapshot: moments just before the next snapshot (the most replay
  any moment needs) and half-way (the typical one), each a fresh build (no cache).
A moment 1 h or 24 h back costs the same as any moment covered by a retained snapshot: the snapshot
load plus at most one interval of replay. Without snapshots it is a replay from the log's beginning,
extrapolated here from the measured rate (marked as such).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import log
from shopfloor.config import Settings
from shopfloor.events.codec import encode_structured
from shopfloor.history.service import History
from shopfloor.history.snapshots import SnapshotStore, snapshot_image
from shopfloor.history.views import topics_for
from shopfloor.simulator.plant import plant_traffic
from shopfloor.store.db import make_engine
from shopfloor.store.registry import HANDLERS
from shopfloor.transport.memory import MemoryLog, MemoryReader

RATE = 1000  # events per second of event time
BOARDS = ("/work-orders", "/outbound", "/equipment")  # production, warehouse, machines: every topic group
TARGET_SECONDS = 2.0


def fill(log_: MemoryLog, settings: Settings, minutes: float, end: datetime) -> int:
    """`minutes` of plant traffic at RATE, ending at `end`, appended in event-time order."""
    generators = plant_traffic(settings, rate=25, seed=7, sensor_rate=RATE - 25 - 13)
    seconds = int(minutes * 60)
    start = end - timedelta(seconds=seconds)
    credit = [0.0] * len(generators)
    sent = 0
    for second in range(seconds):
        for tick in range(10):
            now = start + timedelta(seconds=second + tick / 10)
            for i, generator in enumerate(generators):
                credit[i] += generator.rate / 10
                while credit[i] >= 1:
                    credit[i] -= 1
                    for produced in generator.step(now):
                        value, headers = encode_structured(produced.event)
                        log_.append(produced.topic, value, produced.key.encode(), headers)
                        sent += 1
    return sent


async def run(services: Any, workdir: Path, *, quick: bool, minutes: float | None = None) -> dict[str, Any]:
    interval = 1.0 if quick else 3.0
    minutes = minutes or (2.5 if quick else 7.0)
    settings = Settings(database_url=f"sqlite:///{workdir / 'history.db'}")
    memory = MemoryLog(partitions=6)
    end = datetime.now(UTC).replace(microsecond=0)
    began = time.perf_counter()
    events = fill(memory, settings, minutes, end)
    log(f"history: {events:,} events over {minutes} min of event time in {time.perf_counter() - began:.0f} s")
    start_ms = int((end - timedelta(minutes=minutes)).timestamp() * 1000)
    end_ms = int(end.timestamp() * 1000)

    store = SnapshotStore(make_engine(settings.database_url))
    history = History(settings, lambda: MemoryReader(memory), HANDLERS, store)
    step = int(interval * 60_000)
    snapshots = []
    moment = (start_ms // step + 1) * step
    while moment <= end_ms:
        taken = await history.build(moment)
        began = time.perf_counter()
        image = snapshot_image(taken.engine, moment, step)
        stored = store.save(moment, image, taken.replayed.positions)
        snapshots.append(
            {
                "at_ms": moment,
                "replay_s": round(taken.replayed.seconds, 3),
                "records": taken.replayed.records,
                "bytes": len(image),
                "stored_bytes": stored,
                "save_s": round(time.perf_counter() - began, 3),
            }
        )
        taken.engine.dispose()
        moment += step
    rate = sum(s["records"] for s in snapshots) / sum(s["replay_s"] for s in snapshots)
    log(
        f"history: {len(snapshots)} snapshots every {interval} min, {snapshots[-1]['bytes'] / 1e6:.1f} MB "
        f"each ({snapshots[-1]['stored_bytes'] / 1e6:.1f} MB stored, compressed); "
        f"replay {rate:,.0f} records/s (every topic)"
    )

    boards: dict[str, dict[str, Any]] = {}
    for board in BOARDS:
        topics = topics_for(board, settings)
        worst: list[tuple[float, float]] = []
        typical: list[tuple[float, float]] = []
        for snap in snapshots:
            for share, into in ((0.999, worst), (0.5, typical)):
                at = snap["at_ms"] + int(step * share)
                if at > end_ms:
                    continue
                history.snapshots = SnapshotStore(store.engine)  # cold: no image loaded yet
                began, cpu = time.perf_counter(), time.process_time()
                answer = await history.build(at, topics)
                into.append((time.perf_counter() - began, time.process_time() - cpu))
                answer.engine.dispose()
        boards[board] = {
            "worst_s": round(max(w for w, _ in worst), 3),
            "typical_s": round(statistics.median(w for w, _ in typical), 3),
            # CPU seconds of this process: what the build costs on an idle core, whatever else runs
            "worst_cpu_s": round(max(c for _, c in worst), 3),
            "typical_cpu_s": round(statistics.median(c for _, c in typical), 3),
        }
        log(
            f"history: {board}?at= from a snapshot: worst {boards[board]['worst_s']} s "
            f"({boards[board]['worst_cpu_s']} s CPU), typical {boards[board]['typical_s']} s "
            f"({boards[board]['typical_cpu_s']} s CPU)"
        )
    result: dict[str, Any] = {
        "events_per_second": RATE,
        "minutes_of_log": minutes,
        "events": events,
        "snapshot_interval_minutes": interval,
        "replay_records_per_second": round(rate),
        "snapshots": snapshots,
        "boards": boards,
        "no_snapshot_1h_back_s_extrapolated": round(RATE * 3600 / rate, 1),
        "no_snapshot_24h_back_s_extrapolated": round(RATE * 86400 / rate, 1),
        "target_s": TARGET_SECONDS,
    }
    # A moment 1 h or 24 h back is answered from its snapshot like any other: the worst case applies.
    result["missed"] = [
        f"{board}?at= 1 h and 24 h back (worst, from a {interval} min snapshot): "
        f"{figures['worst_s']} s > {TARGET_SECONDS} s"
        for board, figures in boards.items()
        if figures["worst_s"] > TARGET_SECONDS
    ]
    log(
        f"history: without snapshots (extrapolated from {rate:,.0f} records/s): 1 h back "
        f"{result['no_snapshot_1h_back_s_extrapolated']} s, "
        f"24 h back {result['no_snapshot_24h_back_s_extrapolated']} s"
    )
    for missed in result["missed"]:
        log(f"history: MISSED {missed}")
    return result


if __name__ == "__main__":
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        quick = "--quick" in sys.argv
        asyncio.run(run(None, Path(tmp), quick=quick))
