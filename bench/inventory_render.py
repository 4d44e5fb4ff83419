"""How fast is /inventory with 5,000 SKUs x 50 locations (250,000 rows) in the store?

Fills a fresh store by bulk insert, then times GET requests in process (the FastAPI app without a
network hop, so the figure is server time) and reports the median of several requests and the
bytes sent. Usage: python bench/inventory_render.py [--database-url URL] [--requests N]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import Engine, insert

from shopfloor.config import Settings
from shopfloor.runtime import build
from shopfloor.store import inventory as store
from shopfloor.web.app import create_app

CHUNK = 10_000


def fill(engine: Engine, skus: int, locations: int, seed: int = 1) -> float:
    """Bulk-inserts the SKU x location rows and their totals; returns seconds taken."""
    rng = random.Random(seed)
    started = time.perf_counter()
    now_ms = int(time.time() * 1000)
    totals = []
    with engine.begin() as conn:
        batch = []
        for s in range(skus):
            sku, total = f"SKU-{s:05d}", 0
            for loc in range(locations):
                on_hand = (1 if loc < 9 else 0) if s % 97 == 0 else rng.randint(0, 400)
                total += on_hand
                batch.append(
                    {
                        "sku": sku,
                        "location": f"{chr(65 + loc % 26)}-{loc:02d}-{loc % 4 + 1}",
                        "on_hand": on_hand,
                        "warehouse": "WH1",
                        "last_reason": "RECEIPT",
                        "last_delta": on_hand,
                        "last_event_id": f"seed-{s}-{loc}",
                        "correlationid": None,
                        "updated_ms": now_ms - rng.randint(0, 86_400_000),
                        "adjustments": 1,
                    }
                )
                if len(batch) >= CHUNK:
                    conn.execute(insert(store.STOCK), batch)
                    batch = []
            totals.append({"sku": sku, "on_hand": total, "locations": locations, "updated_ms": now_ms})
        if batch:
            conn.execute(insert(store.STOCK), batch)
        conn.execute(insert(store.TOTALS), totals)
        names = {f"{chr(65 + loc % 26)}-{loc:02d}-{loc % 4 + 1}" for loc in range(locations)}
        conn.execute(insert(store.LOCATIONS), [{"location": name, "skus": skus} for name in sorted(names)])
    return time.perf_counter() - started


async def measure(client: httpx.AsyncClient, url: str, requests: int) -> tuple[float, int, int]:
    await client.get(url)  # warm caches and templates
    times, size, status = [], 0, 0
    for _ in range(requests):
        started = time.perf_counter()
        response = await client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        size, status = len(response.content), response.status_code
    return statistics.median(times), size, status


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="store to fill (default: a fresh SQLite file)")
    parser.add_argument("--skus", type=int, default=5000)
    parser.add_argument("--locations", type=int, default=50)
    parser.add_argument("--requests", type=int, default=15)
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    url = args.database_url or f"sqlite:///{Path(tmp.name) / 'bench.db'}"
    settings = Settings(database_url=url, kafka_bootstrap_servers="127.0.0.1:1")
    runtime = build(settings, consume=False, serve_web=False)
    with runtime.engine.begin() as conn:
        conn.execute(store.STOCK.delete())
        conn.execute(store.TOTALS.delete())
        conn.execute(store.LOCATIONS.delete())
    seconds = fill(runtime.engine, args.skus, args.locations)
    rows = args.skus * args.locations
    print(f"store: {url.split('://')[0]}, {rows:,} SKU x location rows bulk-inserted in {seconds:.1f}s")
    app = create_app(runtime)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
        last = (
            await client.get("/api/inventory", params={"sort": "sku", "limit": 1000, "q": "SKU-049"})
        ).json()
        deep = store.encode_cursor("sku", last["items"][-1]) if last["items"] else ""
        cases = [
            ("/inventory", "first page, by SKU"),
            ("/inventory?sort=on_hand", "emptiest locations first"),
            ("/inventory?sort=location", "by location"),
            (f"/inventory?after={deep}", "deep page (keyset)"),
            ("/inventory?q=SKU-0420", "search by SKU"),
            ("/inventory?q=Q-42", "search by location"),
            ("/inventory?q=-0", "search matching 90% of rows"),
            ("/inventory?q=NOTHING", "search matching nothing"),
            ("/inventory?low=true", "low stock only"),
            ("/api/inventory?limit=100", "JSON, 100 rows"),
        ]
        print(f"{'request':44} {'median ms':>10} {'bytes':>8}  ({args.requests} requests each)")
        for path, label in cases:
            median, size, status = await measure(client, path, args.requests)
            assert status == 200, (path, status)
            print(f"{label + ' ' + path[:60]:44.44} {median:10.1f} {size:8,}")
        render = runtime.hub.views["inventory"].render_patch
        keys = frozenset(store.stock_key(f"SKU-{s:05d}", "A-00-1") for s in range(0, 5000, 50))
        took = []
        for _ in range(5):
            started = time.perf_counter()
            patch = await render(keys)
            took.append((time.perf_counter() - started) * 1000)
        print(
            f"live patch for 100 changed rows: median {statistics.median(took):.1f} ms, {len(patch):,} bytes"
        )
    runtime.engine.dispose()
    tmp.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
