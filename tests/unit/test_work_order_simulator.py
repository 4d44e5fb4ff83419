"""The simulated lines as a plant's would look: each runs one order at a time, makes its mix at a
plausible share of the ideal rate (never far beyond it), and some orders finish late, not all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shopfloor.simulator.work_orders import WorkOrderTraffic

START = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
MINUTES = 30


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_lines_run_below_their_ideal_rate_and_some_orders_run_late(seed: int) -> None:
    rate = 20.0
    traffic = WorkOrderTraffic("wo", rate=rate, seed=seed)
    counts: dict[str, tuple[int, int]] = {}
    ideal_s: dict[str, float] = {}
    late = on_time = 0
    running: dict[str, str] = {}  # order -> line, while IN_PROGRESS
    for step in range(int(rate * 60 * MINUTES)):
        at = START + timedelta(seconds=step / rate)
        for produced in traffic.step(at):
            data = produced.event["data"]
            order = data["work_order_id"]
            running.pop(order, None)
            if data["status"] == "IN_PROGRESS":
                assert data["line_id"] not in running.values(), (at, order)  # one order at a time
                running[order] = data["line_id"]
            done, scrap = counts.get(order, (0, 0))
            made = data["quantity_done"] + data["quantity_scrap"] - done - scrap
            counts[order] = (data["quantity_done"], data["quantity_scrap"])
            ideal_s[data["line_id"]] = ideal_s.get(data["line_id"], 0.0) + made * data["ideal_cycle_s"]
            if data["status"] == "COMPLETED":
                if at > datetime.fromisoformat(data["due_at"]):
                    late += 1
                else:
                    on_time += 1
    # performance = ideal time of the units made / time elapsed, per line (no downtime here)
    performance = {line: seconds / (MINUTES * 60) for line, seconds in ideal_s.items()}
    assert len(performance) == 6
    assert all(0.55 <= p <= 1.05 for p in performance.values()), performance
    assert 0.1 <= late / (late + on_time) <= 0.6, (late, on_time)
