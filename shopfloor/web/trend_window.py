"""What an equipment trend shows for a chosen time range: buckets, limits, annotations, prediction.

Short ranges read the per-second buckets, longer ones the per-minute buckets; a range longer than
the chosen table keeps is answered with what is kept and a note saying so, never padded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from shopfloor import alarm_config
from shopfloor.projections.forecast import predicted_path
from shopfloor.store import alerts as alert_store
from shopfloor.store import lines as line_store
from shopfloor.store import sensors as sensor_store

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
ANNOTATIONS = 200


@dataclass(frozen=True, slots=True)
class Range:
    key: str
    label: str
    span_ms: int
    per_minute: bool

    @property
    def retain_ms(self) -> int:
        return sensor_store.RETAIN_MINUTES_MS if self.per_minute else sensor_store.RETAIN_SECONDS_MS


RANGES = {
    r.key: r
    for r in (
        Range("10m", "10 min", 10 * MINUTE_MS, per_minute=False),
        Range("1h", "1 h", HOUR_MS, per_minute=True),
        Range("8h", "8 h", 8 * HOUR_MS, per_minute=True),
        Range("24h", "24 h", 24 * HOUR_MS, per_minute=True),
        Range("7d", "7 days", 7 * 24 * HOUR_MS, per_minute=True),
    )
}
DEFAULT_RANGE = "10m"


def _hours(ms: int) -> str:
    return f"{ms / HOUR_MS:g} h" if ms >= HOUR_MS else f"{ms // MINUTE_MS} min"


def trend_window(conn: Connection, equipment_id: str, chosen: Range, now_ms: int) -> dict[str, Any]:
    """The range ends at the machine's newest reading (or now, whichever is earlier)."""
    latest = sensor_store.latest_values(conn, [equipment_id]).get(equipment_id, [])
    end = min([now_ms, *(s["at_ms"] for s in latest)]) if latest else now_ms
    since = end - chosen.span_ms
    kept_from = end - chosen.retain_ms
    note = None
    if kept_from > since:
        note = (
            f"{'Per-minute' if chosen.per_minute else 'Per-second'} history is kept for "
            f"{_hours(chosen.retain_ms)}: showing the last {_hours(chosen.retain_ms)} "
            f"of the {chosen.label} asked for."
        )
    points = sensor_store.trend(conn, equipment_id, since, per_minute=chosen.per_minute)
    states = sensor_store.detector_states(conn, equipment_id)
    sensors = {}
    for s in latest:
        forecast = predicted_path(states.get(s["sensor"]))
        sensors[s["sensor"]] = {
            "unit": s["unit"],
            "limit": alarm_config.spec(equipment_id, s["sensor"]).limit,
            "latest": s["value"],
            "points": points.get(s["sensor"], []),
            "prediction": None
            if forecast is None
            else {
                "crossing_ms": forecast.crossing_ms,
                "columns": ["ms", "expected", "low", "high"],
                "points": forecast.points,
            },
        }
    return {
        "equipment_id": equipment_id,
        "range": chosen.key,
        "resolution": "1m" if chosen.per_minute else "1s",
        "from_ms": since,
        "to_ms": end,
        "available_from_ms": max(since, kept_from),
        "note": note,
        "columns": ["bucket_ms", "min", "avg", "max"],
        "sensors": sensors,
        "annotations": annotations(conn, equipment_id, since, now_ms),
    }


def annotations(conn: Connection, equipment_id: str, since: int, until: int) -> list[dict[str, Any]]:
    """Alarms raised, informative notes and status changes in the range, oldest first."""
    marks: list[dict[str, Any]] = []
    for a in alert_store.alarms_between(
        conn, since + 1, until + 1, equipment_id=equipment_id, limit=ANNOTATIONS
    ):
        marks.append(
            {
                "at_ms": a["opened_ms"],
                "kind": "alarm",
                "sensor": a["sensor"],
                "value": a["value"],
                "text": f"{a['kind']} alarm ({a['priority']})",
            }
        )
    for n in alert_store.notes(conn, equipment_id, since, limit=ANNOTATIONS):
        if n["at_ms"] <= until:
            marks.append(
                {
                    "at_ms": n["at_ms"],
                    "kind": "note",
                    "sensor": n["sensor"],
                    "value": n["value"],
                    "text": n["kind"],
                }
            )
    for c in line_store.machine_changes(conn, equipment_id, since, until, limit=ANNOTATIONS):
        text = c["status"] + (f": {c['reason']}" if c["reason"] else "")
        marks.append({"at_ms": c["at_ms"], "kind": "status", "sensor": None, "value": None, "text": text})
    marks.sort(key=lambda m: (m["at_ms"], m["kind"], m["sensor"] or "", m["text"]))
    return marks[-ANNOTATIONS:]
