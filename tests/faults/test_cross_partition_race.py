"""Two workers, each on its own partition, folding events into the same row at the same time: a work
order's quality summary (inspections are keyed by inspection id, so one order's inspections land on
any partition) and an alert (the detector changes it from the sensor partition, a supervisor's
acknowledgement from the command topic). The worker that writes second must fold its events into
what the first committed, never overwrite it with what it read before. The paused-worker test found
this by chance on PostgreSQL; this pins it down on both stores."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, select

from shopfloor import alarm_config
from shopfloor.config import Settings
from shopfloor.events.codec import decode
from shopfloor.events.envelope import Envelope
from shopfloor.projections.alerts import apply_signal
from shopfloor.projections.anomaly import THRESHOLD, Signal
from shopfloor.runtime import open_store
from shopfloor.store import alerts, quality
from shopfloor.store.batch import Batch, apply_in
from shopfloor.store.changes import Changes
from shopfloor.store.db import begin_write, lock_keys, make_engine
from shopfloor.store.faults import transaction_conflict
from shopfloor.store.registry import HANDLERS
from shopfloor.transport.base import TopicPartition
from tests.quality_events import inspection
from tests.support import T0, encode, event

T0_MS = int(T0.timestamp() * 1000)


def _envelope(evt: dict[str, Any]) -> Envelope:
    return decode(*encode(evt))


def _batch(topic: str, partition: int, *events: dict[str, Any]) -> Batch:
    tp = TopicPartition(topic, partition)
    return Batch("g", [_envelope(e) for e in events], expected={tp: None}, next_offsets={tp: len(events)})


Work = Callable[[Connection], None]


def _race(engine: Engine, first: Work, second: Work) -> bool:
    """`first` in an open transaction while another worker does `second` in its own; then the first
    commits. True when the second was still waiting then (so the two really overlapped)."""
    failures: list[BaseException] = []

    def other_worker() -> None:
        try:
            with begin_write(engine) as conn:
                second(conn)
        except BaseException as exc:  # reported below, not lost in the thread
            failures.append(exc)

    with begin_write(engine) as conn:
        first(conn)
        other = threading.Thread(target=other_worker)
        other.start()
        other.join(2)  # a bounded look: it must still be waiting for this transaction
        overlapped = other.is_alive()
    other.join(60)
    assert not failures, failures
    return overlapped


def test_one_orders_inspections_on_two_partitions_both_count(database_url: str) -> None:
    engine = open_store(Settings(database_url=database_url))
    # Worked by hand: Q1 (08:00 REWORK) is WO-7's first inspection, Q2 (09:00 PASS) its latest.
    early = _batch("mes.quality", 0, inspection("Q1", "REWORK", 0, work_order="WO-7"))
    late = _batch("mes.quality", 1, inspection("Q2", "PASS", 1, work_order="WO-7"))
    overlapped = _race(
        engine, lambda conn: apply_in(conn, early, HANDLERS), lambda conn: apply_in(conn, late, HANDLERS)
    )
    with engine.connect() as conn:
        row = conn.execute(select(quality.ORDERS)).one()._mapping
    engine.dispose()
    assert overlapped, "the second worker's batch did not overlap the first's transaction"
    assert (row["inspections"], row["passed"], row["reworked"]) == (2, 1, 1), dict(row)
    assert (row["first_inspection_id"], row["first_result"]) == ("Q1", "REWORK")
    assert (row["latest_inspection_id"], row["latest_result"]) == ("Q2", "PASS")


@pytest.mark.parametrize("first", ["detector", "supervisor"])
def test_an_acknowledgement_and_a_detector_update_of_one_alert_both_stay(
    database_url: str, first: str
) -> None:
    engine = open_store(Settings(database_url=database_url))
    spec = alarm_config.spec("M-1", "vibration")
    opened = Signal(THRESHOLD, T0_MS, True, 7.5)
    with begin_write(engine) as conn:
        alerts.apply_signals(conn, [("M-1", "vibration", opened)], Changes())
    alert = apply_signal(None, "M-1", "vibration", spec, opened)
    assert alert is not None
    worse = Signal(THRESHOLD, T0_MS + 60_000, True, 9.25)  # still over the limit, a new value
    ack = event(
        "AlertAcknowledged",
        {"alert_id": alert.alert_id, "equipment_id": "M-1", "user": "sam"},
        offset_s=90,
    )
    commands = _batch("shopfloor.alert-commands", 0, ack)
    work: dict[str, Work] = {
        "detector": lambda conn: alerts.apply_signals(conn, [("M-1", "vibration", worse)], Changes()),
        "supervisor": lambda conn: apply_in(conn, commands, HANDLERS),
    }
    overlapped = _race(engine, work[first], work["supervisor" if first == "detector" else "detector"])
    with engine.connect() as conn:
        row = conn.execute(select(alerts.ALERTS)).one()._mapping
    engine.dispose()
    assert overlapped, "the two transactions did not overlap"
    assert (row["value"], row["updated_ms"]) == (9.25, T0_MS + 60_000), "the detector's update was lost"
    assert (row["state"], row["acked_by"], row["acked_ms"]) == ("ACKED", "sam", T0_MS + 90_000), (
        "the acknowledgement was lost"
    )


def _hold(engine: Engine, keys: list[str], then: list[str], ready: threading.Barrier, out: list[Any]) -> None:
    """Lock `keys`, wait for the other side to lock its own, then lock `then`: the crossed order."""
    try:
        with begin_write(engine) as conn:
            lock_keys(conn, alerts.ALERTS, keys)
            ready.wait(10)
            lock_keys(conn, alerts.ALERTS, then)
        out.append("committed")
    except Exception as exc:
        out.append(exc)


def test_crossed_locks_end_in_a_conflict_the_projector_retries(postgres: str) -> None:
    """A batch locks alerts twice (detector, then commands); two such batches can cross. PostgreSQL
    ends one with a deadlock, which must read as a conflict to retry, not as the store being down
    or the records being bad (that would dead-letter them)."""
    engine = make_engine(postgres)  # locks need no tables
    ready, outcomes = threading.Barrier(2), [[], []]  # type: ignore[var-annotated]
    workers = [
        threading.Thread(target=_hold, args=(engine, ["X"], ["Y"], ready, outcomes[0])),
        threading.Thread(target=_hold, args=(engine, ["Y"], ["X"], ready, outcomes[1])),
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    engine.dispose()
    results = [o[0] for o in outcomes]
    failed = [r for r in results if isinstance(r, Exception)]
    assert len(failed) == 1 and results.count("committed") == 1, results
    assert transaction_conflict(failed[0]), failed[0]


def test_a_rebuilds_shadow_rows_do_not_wait_for_the_live_ones(postgres: str) -> None:
    engine = make_engine(postgres)  # locks need no tables
    shadow = engine.execution_options(schema_translate_map={None: "shopfloor_rebuild"})
    with begin_write(engine) as live:
        lock_keys(live, quality.ORDERS, ["WO-1"])
        done: list[str] = []

        def rebuild() -> None:
            with begin_write(shadow) as conn:
                lock_keys(conn, quality.ORDERS, ["WO-1"])
            done.append("locked")

        other = threading.Thread(target=rebuild)
        other.start()
        other.join(10)
        assert done == ["locked"], "the shadow's lock waited for the live transaction"
    engine.dispose()
