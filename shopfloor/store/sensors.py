"""Sensor read models: latest value (with detector state) and down-sampled trend buckets.

Raw readings are never stored. A batch's readings are aggregated in memory into per-second and
per-minute buckets (count, sum, min, max) and merged with ONE upsert per bucket. Retention is by
event time, never later than the log's timestamp: per-second buckets for 10 minutes, per-minute
buckets for 12 hours, so the store stays bounded at any reading rate (rows <= sensors * (600 + 720)).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, Connection, Table, Text, delete, func, select, update

from shopfloor import alarm_config
from shopfloor.events.envelope import Envelope
from shopfloor.events.models import SensorReading
from shopfloor.projections import anomaly
from shopfloor.projections.frozen import frozen
from shopfloor.store import alerts as alert_store
from shopfloor.store import equipment as equipment_store
from shopfloor.store.changes import Changes
from shopfloor.store.db import upsert, upsert_tuples
from shopfloor.store.entity import columns_of, load
from shopfloor.store.schema import table_of

TREND_VIEW = "sensors"
SECOND_MS, MINUTE_MS = 1000, 60_000
RETAIN_SECONDS_MS = 10 * 60_000
RETAIN_MINUTES_MS = 12 * 3600_000
PRUNE_STEP_MS = 10_000


@frozen
class Latest:
    """A sensor's newest reading, how many it has sent, and its detector's state (JSON)."""

    equipment_id: str
    sensor: str
    value: float
    unit: str | None
    at_ms: int
    readings: int
    detector: str


@frozen
class Bucket:
    """Count, sum, min and max of a sensor's readings in one second or one minute."""

    equipment_id: str
    sensor: str
    bucket_ms: int
    n: int
    vsum: float
    vmin: float
    vmax: float


LATEST = table_of(
    Latest, "sensor_latest", key=("equipment_id", "sensor"), types={"readings": BigInteger, "detector": Text}
)
_BUCKET_KEY = ("equipment_id", "sensor", "bucket_ms")
SECONDS = table_of(
    Bucket,
    "sensor_buckets_1s",
    key=_BUCKET_KEY,
    indexes={"ix_sensor_buckets_1s_time": ("bucket_ms",)},
    without_rowid=True,
)
MINUTES = table_of(
    Bucket,
    "sensor_buckets_1m",
    key=_BUCKET_KEY,
    indexes={"ix_sensor_buckets_1m_time": ("bucket_ms",)},
    without_rowid=True,
)

BUCKET_COLUMNS = columns_of(SECONDS)
Key = tuple[str, str]
Buckets = dict[tuple[str, str, int], list[float]]


def _add(buckets: Buckets, key: tuple[str, str, int], value: float) -> None:
    cell = buckets.get(key)
    if cell is None:
        buckets[key] = [1, value, value, value]
    else:
        cell[0] += 1
        cell[1] += value
        if value < cell[2]:
            cell[2] = value
        if value > cell[3]:
            cell[3] = value


def merge_buckets(conn: Connection, table: Table, buckets: Buckets, cutoff_ms: int) -> None:
    """One upsert per bucket that adds counts and sums and widens min/max (late data merges too)."""
    rows = [
        (eq, s, b, int(c[0]), c[1], c[2], c[3]) for (eq, s, b), c in sorted(buckets.items()) if b >= cutoff_ms
    ]
    upsert_tuples(
        conn, table, BUCKET_COLUMNS, rows, ["equipment_id", "sensor", "bucket_ms"], set_=_merge_counts
    )


def _merge_counts(stmt: Any, dialect: str) -> dict[str, Any]:
    """ON CONFLICT updates of a bucket: add counts and sums, widen min/max."""
    table = stmt.table
    least, greatest = (func.min, func.max) if dialect == "sqlite" else (func.least, func.greatest)
    return {
        "n": table.c.n + stmt.excluded.n,
        "vsum": table.c.vsum + stmt.excluded.vsum,
        "vmin": least(table.c.vmin, stmt.excluded.vmin),
        "vmax": greatest(table.c.vmax, stmt.excluded.vmax),
    }


def _cutoff(newest_ms: int, retain_ms: int) -> int:
    """Rounded, so most batches delete nothing and the result does not depend on batch edges."""
    cut = newest_ms - retain_ms
    return cut - cut % PRUNE_STEP_MS


class SensorHandler:
    """Per batch: load detector states for the batch's sensors, fold, then write in bulk."""

    event_types = frozenset({"SensorReading"})
    # Readings also raise alerts and discover machines: a rebuild replays those tables together with
    # these (the registry puts the three handlers in one read model).
    tables = (
        LATEST,
        SECONDS,
        MINUTES,
        equipment_store.EQUIPMENT,
        alert_store.ALERTS,
        alert_store.JOURNAL,
        alert_store.NOTES,
    )
    views = (TREND_VIEW, equipment_store.VIEW)

    def apply(self, conn: Connection, events: Sequence[Envelope], changes: Changes) -> None:
        grouped: dict[Key, list[tuple[int, float, str | None]]] = {}
        for event in events:
            data = event.data
            assert isinstance(data, SensorReading)
            at_ms = event.event_ms
            grouped.setdefault((data.equipment_id, data.sensor), []).append((at_ms, data.value, data.unit))
        keys = sorted(grouped)
        machines = sorted({eq for eq, _ in keys})
        previous = _load_latest(conn, machines)
        context = equipment_store.status_context(conn, machines)
        # Retention follows the events' clocks capped by their log timestamps (Envelope.clock_ms): a
        # reading stamped in the future cannot cut away every machine's recent trend.
        newest = max(event.clock_ms for event in events)
        cut_seconds = _cutoff(newest, RETAIN_SECONDS_MS)
        cut_minutes = _cutoff(newest, RETAIN_MINUTES_MS)
        seconds: Buckets = {}
        minutes: Buckets = {}
        latest_rows: list[dict[str, Any]] = []
        detector_rows: list[dict[str, Any]] = []
        signals: list[alert_store.SignalAt] = []
        first_seen: dict[str, int] = {}
        oldest_per_machine: dict[str, int] = {}
        known_by: dict[str, dict[str, dict[str, Any]]] = {}
        for (m, sensor), row in previous.items():
            known_by.setdefault(m, {})[sensor] = row
        batch_by: dict[str, dict[str, list[tuple[int, float, str | None]]]] = {}
        for m, sensor in keys:
            batch_by.setdefault(m, {})[sensor] = grouped[(m, sensor)]
        for eq in machines:
            known, batch = known_by.get(eq, {}), batch_by[eq]
            now = max(r[0] for readings in batch.values() for r in readings)
            specs = {sensor: alarm_config.spec(eq, sensor) for sensor in known.keys() | batch.keys()}
            # a sensor that did not report is decoded only when it may have gone silent
            known = {
                sensor: row
                for sensor, row in known.items()
                if sensor in batch or now - row["at_ms"] >= specs[sensor].silent_s * 1000
            }
            states = {sensor: anomaly.from_json(row["detector"]) for sensor, row in known.items()}
            folded, raised = anomaly.fold_machine(
                states,
                specs,
                {sensor: [(t, v) for t, v, _ in rs] for sensor, rs in batch.items()},
                context.get(eq, ()),
                now,
            )
            signals.extend((eq, sensor, signal) for sensor, signal in raised)
            for sensor in known:
                state = folded[sensor]
                if sensor not in batch and state is not None and state is not states[sensor]:
                    detector_rows.append(
                        {"equipment_id": eq, "sensor": sensor, "detector": anomaly.to_json(state)}
                    )
            for sensor, readings in batch.items():
                key = (eq, sensor)
                prior = previous.get(key)
                state = folded[sensor]
                assert state is not None
                newest_reading = max(readings, key=lambda r: r[0])
                if prior is not None and prior["at_ms"] > newest_reading[0]:
                    newest_reading = (prior["at_ms"], prior["value"], prior["unit"])
                if prior is None:
                    first_seen[eq] = min(first_seen.get(eq, readings[0][0]), readings[0][0])
                latest_rows.append(
                    {
                        "equipment_id": eq,
                        "sensor": sensor,
                        "value": newest_reading[1],
                        "unit": newest_reading[2] or (prior or {}).get("unit") or specs[sensor].unit or None,
                        "at_ms": newest_reading[0],
                        "readings": (prior["readings"] if prior else 0) + len(readings),
                        "detector": anomaly.to_json(state),
                    }
                )
                for at_ms, value, _ in readings:
                    _add(seconds, (eq, sensor, at_ms - at_ms % SECOND_MS), value)
                    _add(minutes, (eq, sensor, at_ms - at_ms % MINUTE_MS), value)
                oldest = min(r[0] for r in readings)
                oldest_per_machine[eq] = min(oldest_per_machine.get(eq, oldest), oldest)
        for row in detector_rows:
            conn.execute(
                update(LATEST)
                .where(LATEST.c.equipment_id == row["equipment_id"], LATEST.c.sensor == row["sensor"])
                .values(detector=row["detector"])
            )
        upsert(conn, LATEST, latest_rows, ["equipment_id", "sensor"])
        merge_buckets(conn, SECONDS, seconds, cut_seconds)
        merge_buckets(conn, MINUTES, minutes, cut_minutes)
        conn.execute(delete(SECONDS).where(SECONDS.c.bucket_ms < cut_seconds))
        conn.execute(delete(MINUTES).where(MINUTES.c.bucket_ms < cut_minutes))
        equipment_store.ensure_known(conn, first_seen, changes)
        alert_store.apply_signals(conn, signals, changes)
        for eq, oldest in oldest_per_machine.items():
            changes.mark(TREND_VIEW, eq, oldest)


def _load_latest(conn: Connection, machines: Sequence[str]) -> dict[Key, dict[str, Any]]:
    """Every known sensor of these machines: the silent ones are judged too."""
    columns = columns_of(LATEST)
    rows = [dict(zip(columns, r, strict=True)) for r in load(conn, LATEST, columns, "equipment_id", machines)]
    return {(r["equipment_id"], r["sensor"]): r for r in rows}


def latest_values(
    conn: Connection, equipment_ids: Sequence[str] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Latest value per sensor, grouped by machine (without the detector's internals)."""
    columns = [c for c in LATEST.c if c.name != "detector"]
    query = select(*columns).order_by(LATEST.c.equipment_id, LATEST.c.sensor)
    if equipment_ids is not None:
        query = query.where(LATEST.c.equipment_id.in_(list(equipment_ids)))
    result: dict[str, list[dict[str, Any]]] = {}
    for row in conn.execute(query):
        result.setdefault(row.equipment_id, []).append(dict(row._mapping))
    return result


def trend(
    conn: Connection, equipment_id: str, since_ms: int, *, per_minute: bool = False, sensor: str | None = None
) -> dict[str, list[list[float]]]:
    """Buckets after `since_ms` per sensor as [bucket_ms, min, avg, max]; never touches raw readings."""
    table = MINUTES if per_minute else SECONDS
    query = (
        select(table)
        .where(table.c.equipment_id == equipment_id, table.c.bucket_ms > since_ms)
        .order_by(table.c.sensor, table.c.bucket_ms)
    )
    if sensor is not None:
        query = query.where(table.c.sensor == sensor)
    result: dict[str, list[list[float]]] = {}
    for r in conn.execute(query):
        result.setdefault(r.sensor, []).append([r.bucket_ms, r.vmin, round(r.vsum / r.n, 4), r.vmax])
    return result


def bucket_counts(conn: Connection) -> tuple[int, int]:
    """How many per-second and per-minute buckets exist (retention checks)."""
    seconds = conn.execute(select(func.count()).select_from(SECONDS)).scalar_one()
    minutes = conn.execute(select(func.count()).select_from(MINUTES)).scalar_one()
    return seconds, minutes


def detector_states(conn: Connection, equipment_id: str) -> dict[str, anomaly.DetectorState | None]:
    """Each sensor's detector state as last stored (what the trend's prediction is drawn from)."""
    query = select(LATEST.c.sensor, LATEST.c.detector).where(LATEST.c.equipment_id == equipment_id)
    return {r.sensor: anomaly.from_json(r.detector) for r in conn.execute(query)}
