"""Past views: how long `?at=` takes for a plant at 1,000 events/s.

The plant's traffic (the simulator's work orders, warehouse and ~950 sensor readings a second) is
generated over `minutes` of event time into the embedded log, as fast as it can be made. Then:
- replay rate: an as-of store for the newest moment, replayed from the beginning (no snapshot);
- snapshots every `interval` minutes of event time, taken as the server's snapshotter takes them;
- as-of latency from the nearest snapshot: moments just before the next snapshot (the most replay
  any moment needs) and half-way (the typical one), each a fresh build (no cache).
A moment 1 h or 24 h back costs the same as any moment covered by a retained snapshot: the snapshot
load plus at most one interval of replay. The sensor board is measured again from one-minute
snapshots of a 12-minute log, with the storage such snapshots take. Without snapshots it is a
replay from the log's beginning, extrapolated here from the measured rate (marked as such).

`demo=True` (`--only history-demo`, or `python bench/history.py --demo`): 24 h and 20 min of
`shopfloor demo`'s traffic at its default rates, snapshots at the default interval, then each board
asked, cold, for the moments exactly 1 h and 24 h before the newest event and for the worst moment
of the interval holding each (just before its next snapshot).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import sqlite3
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete

from bench.common import log
from shopfloor.cli import _parser
from shopfloor.config import Settings
from shopfloor.events.codec import encode_structured
from shopfloor.history.service import History
from shopfloor.history.snapshots import (
    PART_SNAPSHOTS,
    SnapshotStore,
    due_moments,
    pack,
    quiet,
    save_part,
    step_after,
)
from shopfloor.history.views import lean_parts, parts_for
from shopfloor.runtime import tune_gc
from shopfloor.simulator.base import Generator
from shopfloor.simulator.plant import demo_traffic, plant_traffic
from shopfloor.store.db import make_engine
from shopfloor.store.registry import HANDLERS, PARTS, Part
from shopfloor.store.sensors import MINUTE_MS, MINUTES, RETAIN_MINUTES_MS, SensorHandler
from shopfloor.store.work_orders import WorkOrderHandler
from shopfloor.transport.memory import MemoryLog, MemoryReader

RATE = 1000  # events per second of event time
MACHINES = next(p for p in PARTS if any(isinstance(h, SensorHandler) for h in p.handlers))
WORK_ORDERS = next(p for p in PARTS if any(isinstance(h, WorkOrderHandler) for h in p.handlers))
LEAN_PARTS = lean_parts(PARTS)
SNAPSHOTTED = (*PARTS, *(p.lean() for p in PARTS if p.name in LEAN_PARTS))  # each part, and lean ones
ORDER_PARTS = [
    p
    for p in SNAPSHOTTED
    if any(t.name in ("line_orders", "quality_inspections", "work_orders") for t in p.tables)
]
BOARDS = ("/work-orders", "/outbound", "/equipment")  # production, warehouse, machines: every topic group
TARGET_SECONDS = 2.0


def plant(settings: Settings) -> list[Generator]:
    """A plant at RATE events/s, most of them sensor readings."""
    return plant_traffic(settings, rate=25, seed=7, sensor_rate=RATE - 25 - 13)


DEMO = _parser().parse_args(["demo"])  # `shopfloor demo`'s default rates


def demo(settings: Settings) -> list[Generator]:
    """`shopfloor demo`'s traffic at its default rates."""
    return demo_traffic(settings, rate=DEMO.rate, sensor_rate=DEMO.sensor_rate, seed=7)


def fill(log_: MemoryLog, generators: list[Generator], minutes: float, end: datetime) -> int:
    """`minutes` of the generators' traffic, ending at `end`, appended in event-time order."""
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


@dataclass
class Plant:
    """A log of generated traffic, its snapshot store and the service answering `?at=` from both."""

    settings: Settings
    memory: MemoryLog
    store: SnapshotStore
    history: History
    events: int
    start_ms: int
    end_ms: int


def generate(workdir: Path, traffic: Callable[[Settings], list[Generator]], minutes: float) -> Plant:
    workdir.mkdir(parents=True, exist_ok=True)
    settings = Settings(database_url=f"sqlite:///{workdir / 'history.db'}")
    memory = MemoryLog(partitions=6)
    end = datetime.now(UTC).replace(microsecond=0)
    began = time.perf_counter()
    events = fill(memory, traffic(settings), minutes, end)
    log(f"history: {events:,} events over {minutes} min of event time in {time.perf_counter() - began:.0f} s")
    store = SnapshotStore(make_engine(settings.database_url))
    history = History(settings, lambda: MemoryReader(memory), HANDLERS, store)
    start_ms = int((end - timedelta(minutes=minutes)).timestamp() * 1000)
    return Plant(settings, memory, store, history, events, start_ms, int(end.timestamp() * 1000))


async def take_snapshots(plant: Plant, step: int) -> list[dict[str, Any]]:
    """Every `step` ms of event time, as the server's snapshotter takes them: each part from its
    last, a quiet part (snapshots.quiet) left out, a busy one on its finer grid (snapshots.step_after)."""
    snapshots = []
    steps: dict[str, int] = {}
    moment = (plant.start_ms // step + 1) * step
    while moment <= plant.end_ms:
        figures: dict[str, Any] = {"at_ms": moment, "replay_s": 0.0, "records": 0, "bytes": 0}
        figures |= {"stored_bytes": 0, "save_s": 0.0, "parts": {}}
        for part in plant.history.parts:
            for at in due_moments(moment + step, step, plant.store.moments(part.name), steps.get(part.name)):
                taken = await plant.history.build(at, part)
                steps[part.name] = step_after(taken, step)
                figures["replay_s"] += taken.replayed.seconds
                figures["records"] += taken.replayed.records
                if not quiet(taken):
                    began = time.perf_counter()
                    for name, (size, stored) in save_part(
                        plant.store, taken, step, part, lean=part.name in LEAN_PARTS
                    ).items():
                        figures["bytes"] += size
                        figures["stored_bytes"] += stored
                        took = figures["parts"].get(name, {}).get("taken", 0) + 1
                        figures["parts"][name] = {"bytes": size, "stored_bytes": stored, "taken": took}
                    figures["save_s"] += time.perf_counter() - began
                taken.engine.dispose()
        snapshots.append({k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()})
        moment += step
    return snapshots


def loads(store: SnapshotStore, at_ms: int, board: str) -> int:
    """The image bytes a past view of `board` at `at_ms` loads: its parts' newest snapshots only."""
    return sum(image_bytes(store, at_ms, p) for p in parts_for(board, PARTS))


async def cold_build(plant: Plant, at_ms: int, board: str) -> tuple[float, float]:
    """Wall and CPU seconds of a board's as-of store for `at_ms`, as a request builds it, with no
    snapshot image loaded yet. CPU seconds are this process's: what the build costs on an idle core,
    whatever else runs."""
    history = History(
        plant.settings, lambda: MemoryReader(plant.memory), HANDLERS, SnapshotStore(plant.store.engine)
    )
    began, cpu = time.perf_counter(), time.process_time()
    answer = await history.as_of(at_ms, parts_for(board, history.parts))
    figures = time.perf_counter() - began, time.process_time() - cpu
    answer.engine.dispose()
    return figures


async def run(
    services: Any, workdir: Path, *, quick: bool, minutes: float | None = None, demo: bool = False
) -> dict[str, Any]:
    tune_gc()  # the garbage collector's settings of every shopfloor process, set as they start
    if demo:
        return await run_demo(workdir, quick=quick)
    interval = 1.0 if quick else 3.0
    minutes = minutes or (2.5 if quick else 7.0)
    plant_ = generate(workdir / "plant", plant, minutes)
    snapshots, boards, rate = await measure(plant_, interval, BOARDS)
    result: dict[str, Any] = {
        "events_per_second": RATE,
        "minutes_of_log": minutes,
        "events": plant_.events,
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
    if not quick:
        result["denser"] = await denser(workdir / "denser")
    for missed in result["missed"]:
        log(f"history: MISSED {missed}")
    return result


async def measure(
    plant_: Plant, interval: float, boards_: Sequence[str]
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]], float]:
    """Snapshots every `interval` minutes, then each board's worst and typical moment between them."""
    step = int(interval * 60_000)
    snapshots = await take_snapshots(plant_, step)
    rate = sum(s["records"] for s in snapshots) / sum(s["replay_s"] for s in snapshots)
    log(
        f"history: snapshots every {interval} min ({len(snapshots)} intervals), the last interval's "
        f"{snapshots[-1]['bytes'] / 1e6:.1f} MB ({snapshots[-1]['stored_bytes'] / 1e6:.1f} MB stored, "
        "compressed; quiet parts wait, busy ones are taken more often); "
        f"replay {rate:,.0f} records/s (every topic)"
    )
    return snapshots, await time_boards(plant_, snapshots, boards_), rate


async def time_boards(
    plant_: Plant, snapshots: list[dict[str, Any]], boards_: Sequence[str], what: str = ""
) -> dict[str, dict[str, Any]]:
    """Each board's moments just before each next snapshot of its parts or the snapshotter's next
    check (the most replay) and half-way between them (the typical), cold."""
    boards: dict[str, dict[str, Any]] = {}
    for board in boards_:
        parts = {m for p in parts_for(board, PARTS) for m in plant_.store.moments(p.name)}
        taken = sorted(parts | {s["at_ms"] for s in snapshots})  # a quiet part's interval moments too
        worst: list[tuple[float, float]] = []
        typical: list[tuple[float, float]] = []
        for since, until in itertools.pairwise(taken):
            worst.append(await cold_build(plant_, until - 1, board))
            typical.append(await cold_build(plant_, (since + until) // 2, board))
        boards[board] = {
            "loads_bytes": loads(plant_.store, plant_.end_ms, board),
            "moments_timed": len(worst) + len(typical),
            # a quiet part's snapshot can be older than the interval's: any moment may be the worst
            "worst_s": round(max(w for w, _ in worst + typical), 3),
            "typical_s": round(statistics.median(w for w, _ in typical), 3),
            "worst_cpu_s": round(max(c for _, c in worst + typical), 3),
            "typical_cpu_s": round(statistics.median(c for _, c in typical), 3),
        }
        found = boards[board]
        log(
            f"history: {board}?at= from a snapshot{what}: worst {found['worst_s']} s "
            f"({found['worst_cpu_s']} s CPU), typical {found['typical_s']} s "
            f"({found['typical_cpu_s']} s CPU); loads {found['loads_bytes'] / 1e6:.1f} MB of parts"
        )
    return boards


DENSER_MINUTES, DENSER_LOG_MINUTES = 1.0, 12.0
DAY_MS = 24 * 3_600_000


async def denser(workdir: Path) -> dict[str, Any]:
    """The sensor and work-order boards from one-minute snapshots, on a log long enough (12 min) to
    fill the 10-minute window of one-second buckets: what the target costs in snapshot storage.
    Then the tables that go on growing past this log are grown to their size a day in (per-minute
    buckets kept 12 h, finished work orders kept for good) and both boards are timed again."""
    plant_ = generate(workdir, plant, DENSER_LOG_MINUTES)
    boards_ = ("/equipment", "/work-orders")
    snapshots, boards, _ = await measure(plant_, DENSER_MINUTES, boards_)
    intervals_per_day = 24 * 60 / DENSER_MINUTES
    later = snapshots[1:]  # the first takes every part; later ones leave quiet parts out
    takes = {
        p.name: sum(s["parts"].get(p.name, {}).get("taken", 0) for s in later) / len(later)
        for p in SNAPSHOTTED
    }
    newest = {
        p.name: next(s["parts"][p.name] for s in reversed(snapshots) if p.name in s["parts"])
        for p in SNAPSHOTTED
    }
    stored = sum(takes[name] * newest[name]["stored_bytes"] for name in takes)  # per interval
    found = plant_.store.latest_before(plant_.end_ms, MACHINES.name)
    assert found is not None
    rows, row_bytes, sensors = minute_buckets(found[1])
    steady = stored + takes[MACHINES.name] * (sensors * RETAIN_MINUTES_MS // MINUTE_MS - rows) * row_bytes
    for at in plant_.store.moments(MACHINES.name):
        refill(plant_.store, at, MACHINES.name, fill_minute_buckets)
    orders = {p.name: plant_.store.moments(p.name) for p in ORDER_PARTS}
    newest_ms = orders[WORK_ORDERS.name][-1]
    orders_per_day = len(finished_orders(plant_.store, newest_ms)) * DAY_MS / (newest_ms - plant_.start_ms)
    for at in sorted(set().union(*orders.values())):
        ids = finished_orders(plant_.store, at)
        # a day's finished orders in every image (at the log's rate: the first moment's few orders
        # say little about it, and its distance from the log's start depends on the clock)
        copies = max(round(orders_per_day / max(len(ids), 1)) - 1, 0)
        for part in (p for p in ORDER_PARTS if at in orders[p.name]):
            grow = functools.partial(copy_finished_orders, part=part, ids=ids, copies=copies)
            refill(plant_.store, at, part.name, grow)
    full = await time_boards(plant_, snapshots, boards_, " (a day's tables)")
    return {
        "snapshot_interval_minutes": DENSER_MINUTES,
        "minutes_of_log": DENSER_LOG_MINUTES,
        "boards": boards,
        "boards_a_day_in": full,
        "parts_taken_per_interval": {name: round(share, 2) for name, share in takes.items()},
        "parts_newest": newest,
        "stored_bytes_per_interval": round(stored),
        "stored_gb_per_24h": round(stored * intervals_per_day / 1e9, 1),
        "order_parts_stored_bytes": sum(newest[p.name]["stored_bytes"] for p in ORDER_PARTS),
        "minute_bucket_rows": rows,
        "minute_bucket_stored_bytes_per_row": round(row_bytes, 1),
        "steady_stored_bytes_per_interval_estimate": round(steady),
        "steady_stored_gb_per_24h_estimate": round(steady * intervals_per_day / 1e9, 1),
    }


@contextmanager
def opened(image: bytes) -> Iterator[sqlite3.Connection]:
    """A snapshot image as a database of its own, to read or change and serialize again."""
    db = sqlite3.connect(":memory:")
    try:
        db.deserialize(image)
        yield db
    finally:
        db.close()


def image_bytes(store: SnapshotStore, at_ms: int, part: Part) -> int:
    found = store.latest_before(at_ms, part.name)
    assert found is not None
    return len(found[1])


def refill(store: SnapshotStore, at_ms: int, part: str, change: Callable[[sqlite3.Connection], None]) -> None:
    """Replaces a part's snapshot at `at_ms` with the same image after `change`. What a past view then
    costs to load and to replay into is timed; stored sizes are not taken from it (repeated rows
    pack better than real ones)."""
    found = store.latest_before(at_ms, part)
    assert found is not None and found[0] == at_ms
    _, image, positions = found
    with opened(image) as db:
        change(db)
        db.commit()
        image = db.serialize()
    with store.engine.begin() as conn:
        conn.execute(
            delete(PART_SNAPSHOTS).where(PART_SNAPSHOTS.c.at_ms == at_ms, PART_SNAPSHOTS.c.part == part)
        )
    store.forget_loaded()
    store.save(at_ms, part, image, positions)


def fill_minute_buckets(db: sqlite3.Connection) -> None:
    """Per-minute buckets spanning their whole 12-hour window, as a plant's do after 12 hours: each
    sensor's own rows repeated back in time."""
    table, keep = MINUTES.name, RETAIN_MINUTES_MS // MINUTE_MS
    rows = db.execute(f"SELECT * FROM {table} ORDER BY equipment_id, sensor, bucket_ms").fetchall()
    own: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
    for row in rows:
        own.setdefault((row[0], row[1]), []).append(row)
    added = [
        (eq, sensor, series[0][2] - (i + 1) * MINUTE_MS, *series[i % len(series)][3:])
        for (eq, sensor), series in own.items()
        for i in range(keep - len(series))
    ]
    db.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(rows[0]))})", added)


RENAMED = ("work_order_id", "event_id", "inspection_id")  # keys a copy of an order's rows renames


def finished_orders(store: SnapshotStore, at_ms: int) -> list[str]:
    found = store.latest_before(at_ms, WORK_ORDERS.name)
    assert found is not None
    with opened(found[1]) as db:
        query = "SELECT work_order_id FROM work_orders WHERE status IN ('COMPLETED', 'CANCELLED')"
        return [row[0] for row in db.execute(query)]


def copy_finished_orders(db: sqlite3.Connection, part: Part, ids: list[str], copies: int) -> None:
    """`copies` more of these finished orders' rows in the part's tables, under new ids: the tables
    as a day of this traffic leaves them (finished orders are kept for good; open ones do not
    pile up)."""
    db.execute("CREATE TEMP TABLE finished (work_order_id TEXT PRIMARY KEY)")
    db.executemany("INSERT INTO finished VALUES (?)", ((i,) for i in ids))
    for table in (t.name for t in part.tables):
        columns = [row[1] for row in db.execute(f'PRAGMA main.table_info("{table}")')]
        if "work_order_id" not in columns:
            continue  # per line or per shift: does not grow with orders
        rows = db.execute(
            f'SELECT * FROM "{table}" WHERE work_order_id IN (SELECT * FROM finished)'
        ).fetchall()
        renamed = [i for i, name in enumerate(columns) if name in RENAMED]
        marks = ", ".join("?" * len(columns))
        for copy in range(1, copies + 1):
            db.executemany(
                f'INSERT INTO "{table}" VALUES ({marks})',
                (tuple(f"{v}~{copy}" if i in renamed else v for i, v in enumerate(row)) for row in rows),
            )
    db.execute("DROP TABLE finished")


def minute_buckets(image: bytes) -> tuple[int, float, int]:
    """The per-minute buckets in a snapshot image: rows, stored (packed) bytes a row, sensors. Their
    window is 12 h, so a log of minutes holds a sliver of them; at that size a plant's snapshot is
    its stored size plus the missing rows at this cost (an estimate: later minutes pack alike)."""
    table = MINUTES.name
    with opened(image) as db:
        rows, sensors = db.execute(
            f"SELECT count(*), count(DISTINCT equipment_id || '/' || sensor) FROM {table}"
        ).fetchone()
        db.execute(f"DELETE FROM {table}")
        db.commit()
        db.execute("VACUUM")
        without = len(pack(db.serialize()))
    return rows, (len(pack(image)) - without) / max(rows, 1), sensors


async def run_demo(workdir: Path, *, quick: bool) -> dict[str, Any]:
    """The moments the targets name, 1 h and 24 h back, under `shopfloor demo`'s traffic."""
    settings = Settings()
    interval = settings.history_snapshot_minutes
    back_minutes = (10.0, 30.0) if quick else (60.0, 24 * 60.0)
    minutes = back_minutes[-1] + 2 * interval  # the oldest moment has a snapshot before it
    plant_ = generate(workdir, demo, minutes)
    step = int(interval * 60_000)
    began = time.perf_counter()
    snapshots = await take_snapshots(plant_, step)
    log(
        f"history demo: {len(snapshots)} snapshots every {interval} min in "
        f"{time.perf_counter() - began:.0f} s, the newest {snapshots[-1]['bytes'] / 1e6:.1f} MB "
        f"({snapshots[-1]['stored_bytes'] / 1e6:.1f} MB stored)"
    )
    moments: list[dict[str, Any]] = []
    for back in back_minutes:
        at = plant_.end_ms - int(back * 60_000)
        worst = (at // step + 1) * step - 1  # the last moment answered from the same snapshot
        for board in BOARDS:
            for kind, moment in (("exact", at), ("worst", worst)):
                wall, cpu = await cold_build(plant_, moment, board)
                moments.append(
                    {
                        "back_minutes": back,
                        "moment": kind,
                        "board": board,
                        "wall_s": round(wall, 3),
                        "cpu_s": round(cpu, 3),
                    }
                )
                log(
                    f"history demo: {board}?at= {back / 60:g} h back ({kind}): {wall:.2f} s ({cpu:.2f} s CPU)"
                )
    return {
        "traffic": f"shopfloor demo --rate {DEMO.rate:g} --sensor-rate {DEMO.sensor_rate:g}",
        "minutes_of_log": minutes,
        "events": plant_.events,
        "snapshot_interval_minutes": interval,
        "snapshots": snapshots,
        "moments": moments,
        "target_s": TARGET_SECONDS,
        "missed": [
            f"{m['board']}?at= {m['back_minutes'] / 60:g} h back ({m['moment']}): "
            f"{m['wall_s']} s > {TARGET_SECONDS} s"
            for m in moments
            if m["wall_s"] > TARGET_SECONDS
        ],
    }


if __name__ == "__main__":
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(None, Path(tmp), quick="--quick" in sys.argv, demo="--demo" in sys.argv))
