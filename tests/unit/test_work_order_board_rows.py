"""The work-order board reads every open order and only the newest finished ones of each lane: the
lanes it shows equal those of a reference that reads every order (finished orders are kept for
good, so reading them all made every page load slower with the store's age)."""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy import insert

from shopfloor.history.replay import memory_store
from shopfloor.store.work_orders import COUNTS, ORDERS
from shopfloor.web.board import Read
from shopfloor.web.work_orders import FINISHED_ROWS, board

STATUSES = ("PLANNED", "RELEASED", "IN_PROGRESS", "ON_HOLD", "COMPLETED", "CANCELLED")  # the contract's
OPEN = {"PLANNED", "RELEASED", "IN_PROGRESS", "ON_HOLD"}


def _orders(seed: int) -> list[dict[str, Any]]:
    pick = random.Random(seed)
    return [
        {
            "work_order_id": f"WO-{i:04d}",
            "status": pick.choice(STATUSES),
            "line_id": pick.choice(("L1", "L2", "L3")),
            "created_ms": 0,
            "updated_ms": 0,
            "status_since_ms": pick.randrange(0, 50) * 1000,  # ties: the id decides
            "history_count": 1,
        }
        for i in range(400)
    ]


def _reference(orders: list[dict[str, Any]], line: str | None) -> dict[str, tuple[list[str], list[str]]]:
    lanes: dict[str, tuple[list[str], list[str]]] = {}
    for order in orders:
        if line and order["line_id"] != line:
            continue
        open_, done = lanes.setdefault(order["line_id"], ([], []))
        (open_ if order["status"] in OPEN else done).append(order)
    return {
        lane: (
            sorted(o["work_order_id"] for o in open_),
            [
                o["work_order_id"]
                for o in sorted(done, key=lambda o: (-o["status_since_ms"], o["work_order_id"]))
            ][:FINISHED_ROWS],
        )
        for lane, (open_, done) in lanes.items()
    }


def test_the_board_shows_every_open_order_and_each_lanes_newest_finished() -> None:
    for seed in range(5):
        orders = _orders(seed)
        counts: dict[tuple[str, str], int] = {}
        for order in orders:
            key = (order["line_id"], order["status"])
            counts[key] = counts.get(key, 0) + 1
        store = memory_store()
        with store.begin() as conn:
            conn.execute(insert(ORDERS), orders)
            conn.execute(
                insert(COUNTS), [{"line_id": k[0], "status": k[1], "count": n} for k, n in counts.items()]
            )
        for line in (None, "L2"):
            with store.connect() as conn:
                shown = board(Read(conn, 0), line)["lanes"]
            found = {
                lane: (
                    sorted(o["work_order_id"] for o in rows["open"]),
                    [o["work_order_id"] for o in rows["done"]],
                )
                for lane, rows in shown.items()
            }
            assert found == _reference(orders, line), (seed, line)
