"""Soak: N minutes (90 for the report) at 1,000 sensor events/s with 50 SSE clients and every page open.

One `shopfloor serve` process (SQLite store) takes 1,000 sensor readings a second from a separate
producer process plus two work-order changes a second from this one, and every five minutes one of
its four lines stops for a minute with a reason (so the downtime board draws charts whose figures
change, not only once a simulated machine happens to fail); 50 SSE clients and one
Chromium tab per page linked from the overview (`/` and every board it links to, listed once it
links the board of every line the load's machines and work orders run on, so pages added later are
soaked too) stay connected throughout. Every minute (every 10 s in quick mode) it samples
the server's RSS, the `applied_events` rows (the dedup ids), and per tab the JS heap after
`HeapProfiler.collectGarbage` and the DOM node count; the server's RSS alone also every 10 s
(every 2 s in quick mode), which costs nothing.

Memory only plateaus once every bounded store is full: the dedup ids after the dedup window (event
time, `dedup_window_seconds`: 1 h by default, 20 s in quick mode) and the sensor read model's
per-second buckets after 10 minutes. The server's growth is therefore judged only on the samples
after the later of the two (`window_full_minute`), last third against first third. The server's RSS
is a saw-tooth with the history snapshots (a busy part's build holds the image it starts from beside
the store it replays into: about 400 MiB between builds, up to 900 during one, builds taking half
the time or more), so it is given per 10 minutes (lowest, median, highest), and its growth is judged
on the 10-second samples' lows: the 10th percentile of each third, the memory the server holds
between builds, where a leak shows. (Where builds fill more than nine tenths of a third, its 10th
percentile falls inside a build too: the lowest per 10 minutes tells then.) A third's median is no
measure of it: its samples fall in two groups, one from inside builds and one from between, and the
median lands wherever the builds happened to line up with the third. Of the minute samples, five of
a third's ten fell inside builds in one run, and its median was the mean of one low and one high
sample: +6.3 % while the lows were flat. The medians' growth is reported beside it. A run shorter
than the windows reports no growth figure rather than a misleading one.

A page's heap also follows what it shows (the downtime board draws a chart for each line and window
once there is downtime in it), and a tab that has run for a while holds compiled code a new one has
not made yet. So a page is judged against itself opened afresh, twice: once the windows are full and
at the end, every page is opened again in a new tab beside the long-open one, both are sampled
several times once the new one has settled, and the new one is closed. What the long-open tab
holds beyond the fresh one must not grow between the two: content and warm-up are in both, a leak
only in the second.
Even after a collection a chart page's heap swings from one moment to the next (the equipment
board's by 3 MiB of its 15 between minute samples), so each tab is sampled several times, some
seconds apart, and the median taken: one sample of each judged where the swings fell.

Quick mode (the CI check of this harness) opens one page of each kind (every board and one line's
board with work orders rather than all 24) and samples each tab twice per comparison: its figures
are not measurements.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
import statistics
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from bench.common import (
    STATUS_CYCLE,
    Producer,
    Services,
    bench_process,
    bench_settings,
    chromium,
    ensure_topics,
    equipment_event,
    log,
    read_line,
    rss_bytes,
    running_server,
    sensor_load,
    stop_process,
    stop_sensor_load,
    wait_ready,
    work_order_event,
)

ORDERS = 40
LINES = 4
RATE = 1000
CLIENTS = 50
WORK_ORDER_GAP = 0.5
STOP_REASONS = ("jam at infeed", "no material", "changeover", "tool break", "no operator")
SENSOR_WINDOW_MINUTES = 10.0  # per-second trend buckets kept (shopfloor/store/sensors.py)
PAGES_TIMEOUT_S = 180.0  # for the overview to link every line's board
FRESH_SETTLE_S = 90.0  # a fresh tab loads its board, trend and charts and gets its first frames
FRESH_ROUNDS = 5  # samples of each tab per comparison; the median is compared
FRESH_ROUND_GAP_S = 10.0
FRESH_OPENING = 4  # fresh tabs loading at once: all 34 at once timed out on a busy two-core machine
LOAD_LINES = 20  # the sensor load's plant (SensorTraffic's default): lines L1..L20
NOT_PAGES = ("/api", "/static", "/sse", "/metrics", "/healthz", "/readyz", "/logout", "/login")


def growth(values: list[float], after: int, share: float = 0.5) -> float | None:
    """Relative growth of the samples from `after`: the `share` quantile (nearest rank; the median by
    default) of the last third over that of the first. Thirds, not a few samples at each end: a
    few samples are judged where the server's snapshot saw-tooth happened to be."""
    steady = values[after:]
    k = max(1, len(steady) // 3) if len(steady) >= 2 else 0
    if k < 1:
        return None
    head = _quantile(steady[:k], share)
    tail = _quantile(steady[-k:], share)
    return round((tail - head) / head * 100, 2) if head else None


def _quantile(values: list[float], share: float) -> float:
    if share == 0.5:
        return statistics.median(values)
    return sorted(values)[round(share * (len(values) - 1))]


LOWS = 0.1  # the quantile RSS growth is judged on: the server's memory between snapshot builds


def first_full(samples: list[dict[str, Any]], window_full_minute: float) -> int:
    """The index of the first sample taken once the windows are full (len(samples): none was)."""
    return next((i for i, s in enumerate(samples) if s["minute"] >= window_full_minute), len(samples))


def by_window(
    samples: list[dict[str, Any]], after: int, minutes: float = 10.0, key: str = "server_rss_mib"
) -> list[dict[str, float]]:
    """A server figure after the windows are full, per `minutes`: lowest (between snapshots),
    median and highest (while one is built)."""
    windows: dict[int, list[float]] = {}
    start = samples[after]["minute"] if after < len(samples) else 0.0
    for sample in samples[after:]:
        if sample.get(key) is not None:
            windows.setdefault(int((sample["minute"] - start) // minutes), []).append(sample[key])
    fullest = max((len(values) for values in windows.values()), default=0)
    return [
        {
            "from_minute": round(start + i * minutes, 1),
            "low": min(values),
            "median": round(statistics.median(values), 1),
            "high": max(values),
        }
        for i, values in sorted(windows.items())
        if 2 * len(values) >= fullest  # not a window the run ended a sample or two into
    ]


def python_blocks(base_url: str) -> int | None:
    """The server's live Python allocations (its /metrics gauge): the leak RSS alone cannot show,
    since RSS also keeps what the C allocator has not returned after a snapshot build's peak."""
    response = httpx.get(f"{base_url}/metrics", timeout=5)
    for line in response.text.splitlines():
        if line.startswith("shopfloor_python_allocated_blocks "):
            return int(float(line.split()[1]))
    return None


def page_paths(base_url: str) -> list[str]:
    """`/` and every same-site page it links to (the overview links to every board)."""
    import re

    html = httpx.get(f"{base_url}/", timeout=30).text
    found = ["/"]
    for href in re.findall(r'href="([^"#]+)"', html):
        parts = urlsplit(href)
        if parts.netloc or not parts.path.startswith("/") or parts.path.startswith(NOT_PAGES):
            continue
        if "." in parts.path.rsplit("/", 1)[-1]:  # a file (icon, stylesheet), not a page
            continue
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if path not in found:
            found.append(path)
    return found


def all_pages(base_url: str, timeout: float = PAGES_TIMEOUT_S) -> list[str]:
    """The pages once the overview links every line's board: the sensor load announces its machines
    as it starts, and pages found before the server has applied that would leave some unsoaked."""
    lines = [f"SL{i}" for i in range(LINES)] + [f"L{i + 1}" for i in range(LOAD_LINES)]
    deadline = time.monotonic() + timeout
    while True:
        paths = page_paths(base_url)
        missing = [line for line in lines if f"/work-orders?line={line}" not in paths]
        if not missing:
            return paths
        if time.monotonic() > deadline:
            raise RuntimeError(f"the overview never linked the boards of lines {missing}")
        time.sleep(1.0)


def one_of_each(paths: list[str]) -> list[str]:
    """One page per route and set of query keys, in the overview's order: every board once, and for
    the 24 line boards one of a line with work orders (the soak's own SL lines; the load's L lines
    have only machines)."""
    kinds: dict[tuple[str, tuple[str, ...]], str] = {}
    for path in sorted(paths, key=lambda p: "line=SL" not in p):
        parts = urlsplit(path)
        keys = tuple(sorted(parse_qs(parts.query, keep_blank_values=True)))
        kinds.setdefault((parts.path, keys), path)
    chosen = set(kinds.values())
    return [path for path in paths if path in chosen]


def applied_ids(database: Path) -> int | None:
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute("SELECT count(*) FROM applied_events").fetchone()[0])
    except sqlite3.Error:
        return None


async def _page_sample(cdp: Any, page: Any) -> dict[str, Any]:
    await cdp.send("HeapProfiler.collectGarbage")
    after = await cdp.send("Runtime.getHeapUsage")
    nodes = await page.evaluate("document.getElementsByTagName('*').length")
    # A page without live data (the alarm journal) has no connection state: its hidden indicator
    # still says "connecting" and must not be reported as one.
    state = await page.evaluate("document.body.dataset.connection || 'no live data'")
    sample = {
        "heap_after_gc_mib": round(after["usedSize"] / 2**20, 3),
        "dom_nodes": nodes,
        "connection": state,
    }
    if state not in ("live", "no live data"):  # why, in the page's own words
        sample["reason"] = await page.evaluate(
            "document.querySelector('#connection .conn-label')?.textContent"
        )
    return sample


async def _sample(
    server: Any, tabs: dict[str, tuple[Any, Any]], database: Path, minute: float
) -> dict[str, Any]:
    pages = {path: await _page_sample(cdp, page) for path, (page, cdp) in tabs.items()}
    ready = await asyncio.to_thread(httpx.get, f"{server.url}/readyz", timeout=5)
    lag = ready.json().get("consumer", {}).get("lag") if ready.status_code in (200, 503) else None
    return {
        "minute": round(minute, 2),
        "server_rss_mib": round(rss_bytes(server.pid) / 2**20, 2),
        "server_python_blocks": await asyncio.to_thread(python_blocks, server.url),
        "applied_ids": await asyncio.to_thread(applied_ids, database),
        "js_heap_after_gc_mib": round(sum(p["heap_after_gc_mib"] for p in pages.values()), 3),
        "dom_nodes": sum(p["dom_nodes"] for p in pages.values()),
        "pages": pages,
        "consumer_lag": lag,
    }


async def _open_tab(browser: Any, url: str, errors: list[str], label: str) -> tuple[Any, Any]:
    """A tab in a context of its own (one profile allows only 6 connections a host)."""
    context = await browser.new_context(viewport={"width": 1920, "height": 1080})
    try:
        page = await context.new_page()
        page.on("pageerror", lambda exc: errors.append(f"{label}: {exc}"))
        await page.goto(url, wait_until="domcontentloaded")
        return page, await context.new_cdp_session(page)
    except BaseException:
        await context.close()
        raise


async def _against_fresh(
    browser: Any,
    base_url: str,
    tabs: dict[str, tuple[Any, Any]],
    errors: list[str],
    started: float,
    settle: float,
    rounds: int,
    gap: float,
) -> dict[str, Any]:
    """Each long-open tab beside the same page opened now, both sampled `rounds` times `gap` seconds
    apart; the new tabs are closed again after. A failure is recorded, not raised: it must not cost
    the rest of the soak."""
    fresh: dict[str, tuple[Any, Any]] = {}
    opening = asyncio.Semaphore(FRESH_OPENING)

    async def open_fresh(path: str) -> None:
        async with opening:
            try:
                fresh[path] = await _open_tab(browser, f"{base_url}{path}", errors, f"{path} (fresh)")
            except Exception as exc:  # a busy machine can miss a load's 30 s once: not the run's figure
                log(f"soak: opening {path} afresh failed ({exc!r}); once more")
                fresh[path] = await _open_tab(browser, f"{base_url}{path}", errors, f"{path} (fresh)")

    try:
        began = time.monotonic()
        opened = await asyncio.gather(*(open_fresh(path) for path in tabs), return_exceptions=True)
        failed = next((result for result in opened if isinstance(result, BaseException)), None)
        if failed is not None:
            raise failed
        opened_s = time.monotonic() - began
        await asyncio.sleep(settle)
        began = time.monotonic()
        heaps: dict[str, tuple[list[float], list[float]]] = {path: ([], []) for path in tabs}
        nodes: dict[str, tuple[int, int]] = {}
        not_live: list[dict[str, Any]] = []  # the moment pages most often fell behind: judged too
        for round_ in range(rounds):
            if round_:
                await asyncio.sleep(gap)
            for path, (page, cdp) in tabs.items():
                old, new = await _page_sample(cdp, page), await _page_sample(fresh[path][1], fresh[path][0])
                heaps[path][0].append(old["heap_after_gc_mib"])
                heaps[path][1].append(new["heap_after_gc_mib"])
                nodes[path] = (old["dom_nodes"], new["dom_nodes"])
                not_live += [
                    {
                        "round": round_,
                        "page": path,
                        "tab": tab,
                        "connection": p["connection"],
                        "reason": p.get("reason"),
                    }
                    for tab, p in (("long-open", old), ("fresh", new))
                    if p["connection"] not in ("live", "no live data")
                ]
        log(
            f"soak: {len(fresh)} fresh tabs opened in {opened_s:.0f} s; "
            f"{rounds} rounds sampled in {time.monotonic() - began:.0f} s"
        )
        pages = {
            path: {
                "long_open_heap_mib": round(statistics.median(long_open), 3),
                "fresh_heap_mib": round(statistics.median(new_tab), 3),
                "long_open_heap_samples_mib": long_open,
                "fresh_heap_samples_mib": new_tab,
                "long_open_dom_nodes": nodes[path][0],
                "fresh_dom_nodes": nodes[path][1],
            }
            for path, (long_open, new_tab) in heaps.items()
        }
        return {
            "minute": round((time.monotonic() - started) / 60, 2),
            "rounds": rounds,
            "pages": pages,
            "tab_samples": 2 * rounds * len(tabs),
            "not_live": not_live,
        }
    except Exception as exc:
        log(f"soak: comparing with fresh tabs failed: {exc!r}")
        return {"minute": round((time.monotonic() - started) / 60, 2), "error": repr(exc)}
    finally:
        closed = await asyncio.gather(
            *(page.context.close() for page, _ in fresh.values()), return_exceptions=True
        )
        for failed in (result for result in closed if isinstance(result, BaseException)):
            log(f"soak: closing a fresh tab failed: {failed!r}")


def excess_growth(start: dict[str, dict[str, float]], end: dict[str, dict[str, float]]) -> float | None:
    """How much more the long-open tabs hold beyond fresh ones at the end than at the start, as a
    share of their heap at the start: what staying open cost, with content and warm-up taken out."""

    def excess(pages: dict[str, dict[str, float]]) -> float:
        return sum(c["long_open_heap_mib"] - c["fresh_heap_mib"] for c in pages.values())

    base = sum(c["long_open_heap_mib"] for c in start.values())
    return round((excess(end) - excess(start)) / base * 100, 2) if base else None


async def run(services: Services, workdir: Path, *, quick: bool, minutes: float) -> dict[str, Any]:
    every = 10.0 if quick else 60.0
    rss_every = 2.0 if quick else 10.0
    stop_every, stop_for = (20.0, 5.0) if quick else (300.0, 60.0)
    dedup_window_s = 20.0 if quick else 3600.0
    database = workdir / "soak.db"
    settings = bench_settings(services.kafka, f"sqlite:///{database}", dedup_window_seconds=dedup_window_s)
    window_full = max(dedup_window_s / 60, 0.0 if quick else SENSOR_WINDOW_MINUTES)
    settle = 8.0 if quick else FRESH_SETTLE_S
    rounds, gap = (2, 2.0) if quick else (FRESH_ROUNDS, FRESH_ROUND_GAP_S)
    # generously: 30 s for each four tabs opened (34 pages) and for each round of samples
    comparing = 9 * 30 + settle + (rounds - 1) * gap + rounds * 30
    topic = settings.topic_work_orders
    await ensure_topics(services.kafka, settings.topics, settings.kafka_topic_partitions)
    orders = [f"WO-SOAK-{i:03d}" for i in range(ORDERS)]
    samples: list[dict[str, Any]] = []
    rss_samples: list[dict[str, Any]] = []  # the server's RSS alone, every `rss_every`
    async with Producer(services.kafka) as producer:
        for i, order in enumerate(orders):
            await producer.send(topic, order, work_order_event(order, "PLANNED", 1, line=f"SL{i % LINES}"))
        for i in range(LINES):
            await producer.send(
                settings.topic_equipment, f"SM{i}", equipment_event(f"SM{i}", "RUNNING", f"SL{i}")
            )
        await producer.flush()
        with running_server(settings, workdir) as server:
            await asyncio.to_thread(wait_ready, server.url)
            load = sensor_load(
                services.kafka, settings, RATE, duration=minutes * 60 + 240 + PAGES_TIMEOUT_S + comparing
            )
            clients = bench_process("sse_clients", "--url", server.url, "--count", str(CLIENTS))
            errors: list[str] = []
            try:
                read_line(load, 60, "sensor producer")
                ready = read_line(clients, 120, "SSE clients").split()
                paths = await asyncio.to_thread(all_pages, server.url)
                if quick:  # a check of the harness, not a measurement: the line boards are one page
                    paths = one_of_each(paths)
                async with chromium() as browser:
                    tabs: dict[str, tuple[Any, Any]] = {}
                    for path in paths:
                        tabs[path] = await _open_tab(browser, f"{server.url}{path}", errors, path)
                    log(
                        f"soak: {minutes} min at {RATE} events/s, {ready[1]} SSE clients, "
                        f"{len(tabs)} pages open ({' '.join(paths)}); memory judged from minute "
                        f"{window_full:g}"
                    )
                    started = time.monotonic()
                    compare = functools.partial(
                        _against_fresh, browser, server.url, tabs, errors, started, settle, rounds, gap
                    )
                    # The first comparison ends before the samples growth is judged from, so its extra
                    # tabs do not weigh on them; the last runs while the work orders keep coming.
                    first_at = max(0.0, window_full * 60 - comparing - 60)
                    comparisons: list[asyncio.Task[dict[str, Any]]] = []
                    next_sample = next_rss = started
                    sequence = dict.fromkeys(orders, 1)
                    n = 0
                    stops = 0
                    down: tuple[int, float] | None = None  # the line stopped, and until when
                    try:
                        while not (len(comparisons) == 2 and comparisons[1].done()):
                            elapsed = time.monotonic() - started
                            if not comparisons and elapsed >= min(first_at, minutes * 60):
                                log(f"soak: every page opened afresh beside its tab ({settle:g} s)")
                                comparisons.append(asyncio.create_task(compare()))
                            if len(comparisons) < 2 and time.monotonic() >= next_rss:
                                rss = round(rss_bytes(server.pid) / 2**20, 2)
                                rss_samples.append({"minute": round(elapsed / 60, 3), "server_rss_mib": rss})
                                next_rss += rss_every
                                if next_rss <= time.monotonic():  # a page sample held it up: none made up
                                    next_rss = time.monotonic() + rss_every
                            if len(comparisons) < 2 and time.monotonic() >= next_sample:
                                samples.append(await _sample(server, tabs, database, elapsed / 60))
                                log(f"soak sample {samples[-1]}")
                                next_sample += every
                                if elapsed >= minutes * 60:
                                    log(f"soak: every page opened afresh again ({settle:g} s)")
                                    comparisons.append(asyncio.create_task(compare()))
                            if down is not None and elapsed >= down[1]:
                                line = down[0]
                                event = equipment_event(f"SM{line}", "RUNNING", f"SL{line}")
                                await producer.send_now(settings.topic_equipment, f"SM{line}", event)
                                down = None
                            if down is None and elapsed >= stops * stop_every:
                                line, reason = stops % LINES, STOP_REASONS[stops % len(STOP_REASONS)]
                                event = equipment_event(f"SM{line}", "DOWN", f"SL{line}", reason)
                                await producer.send_now(settings.topic_equipment, f"SM{line}", event)
                                down = (line, elapsed + stop_for)
                                stops += 1
                            order = orders[n % ORDERS]
                            sequence[order] += 1
                            status = STATUS_CYCLE[(sequence[order] - 2) % len(STATUS_CYCLE)]
                            await producer.send_now(
                                topic, order, work_order_event(order, status, sequence[order])
                            )
                            n += 1
                            await asyncio.sleep(max(0.0, started + n * WORK_ORDER_GAP - time.monotonic()))
                        against_fresh = [await task for task in comparisons]
                    finally:
                        for task in comparisons:
                            task.cancel()
                    connection = {path: sample["connection"] for path, sample in samples[-1]["pages"].items()}
            finally:
                load_report = stop_sensor_load(load)
                stop_process(clients)
    compared = all("pages" in c for c in against_fresh)
    full_from = first_full(samples, window_full)
    rss_full_from = first_full(rss_samples, window_full)
    rss = [s["server_rss_mib"] for s in rss_samples]
    heap = [s["js_heap_after_gc_mib"] for s in samples]
    blocks = [s["server_python_blocks"] for s in samples]
    per_page = {
        path: growth([s["pages"][path]["heap_after_gc_mib"] for s in samples], full_from) for path in paths
    }
    return {
        "benchmark": "soak",
        "minutes": minutes,
        "sample_every_s": every,
        "rate": RATE,
        "background_achieved": load_report,
        "work_order_changes": n,
        "machine_stops": stops,
        "sse_clients": int(ready[1]) if len(ready) > 1 else 0,
        "samples": samples,
        "pages": paths,
        "dedup_window_s": dedup_window_s,
        "window_full_minute": window_full,
        "samples_after_window_full": len(samples) - full_from,
        "rss_samples": rss_samples,
        "rss_sample_every_s": rss_every,
        "rss_samples_after_window_full": len(rss_samples) - rss_full_from,
        "server_rss_growth_pct": growth(rss, rss_full_from, LOWS),
        "server_rss_median_growth_pct": growth(rss, rss_full_from),
        "server_python_blocks_growth_pct": None if None in blocks else growth(blocks, full_from),
        "js_heap_growth_pct": growth(heap, full_from),
        "js_heap_growth_pct_per_page": per_page,
        "against_fresh": against_fresh,
        "js_heap_excess_growth_pct": excess_growth(against_fresh[0]["pages"], against_fresh[1]["pages"])
        if compared
        else None,
        "js_heap_excess_growth_pct_per_page": {
            path: excess_growth(
                {path: against_fresh[0]["pages"][path]}, {path: against_fresh[1]["pages"][path]}
            )
            for path in paths
        }
        if compared
        else {},
        "page_connection_at_end": connection,
        "pages_not_live": [
            {"minute": s["minute"], "page": path, "connection": p["connection"], "reason": p.get("reason")}
            for s in samples
            for path, p in s["pages"].items()
            if p["connection"] not in ("live", "no live data")
        ],
        "page_errors": errors[:5],
        "target_growth_pct": 5.0,
    }
