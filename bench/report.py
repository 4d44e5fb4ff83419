"""Renders a run's results as Markdown with PNG plots (docs/benchmarks.md, or bench/results/ in quick mode).

`python bench/report.py [RUN.json]` re-renders a report from a saved run (default
bench/results/latest.json) without measuring anything again.
"""

# Markdown table rows and their format strings read best unwrapped.
# ruff: noqa: E501

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import DOCS, REPO, RESULTS
from bench.ingest import TARGETS as INGEST_TARGETS
from bench.soak import by_window, first_full

ANALYSIS = REPO / "bench" / "analysis.md"
NAMES = {"work_orders": "work orders", "inventory": "inventory", "sensors": "sensors"}


def _fmt(value: Any, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, int | float):
        return f"{value:,.{digits}f}"
    return str(value)


def _met(ok: bool | None) -> str:
    return "—" if ok is None else ("**met**" if ok else "**missed**")


def _other_machine(base: dict[str, Any], other: dict[str, Any]) -> str:
    """A benchmark run on another machine says so: its figures do not compare with the base run's."""
    if (other.get("cpu"), other.get("nproc")) == (base.get("cpu"), base.get("nproc")):
        return "."
    return f" on another machine: {other.get('nproc')} cores ({other.get('cpu') or 'CPU model unknown'})."


# --- plots --------------------------------------------------------------------------------------


def _rss_series(soak: dict[str, Any]) -> list[dict[str, Any]]:
    """The server's RSS samples: every 10 s, or only the minute samples in runs from before those."""
    return soak.get("rss_samples") or soak["samples"]


def _plots(run: dict[str, Any], img: Path, prefix: str) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    img.mkdir(parents=True, exist_ok=True)
    made: dict[str, str] = {}
    results = run["results"]

    if "latency" in results:
        fig, ax = plt.subplots(figsize=(8, 4.5))
        for level, style in zip(results["latency"]["levels"], ("-", "--"), strict=False):
            for key, label, color in (
                ("sse_ms", "SSE push", "tab:blue"),
                ("polling_ms", "htmx polling 2 s", "tab:red"),
            ):
                values = sorted(v for v in level[key] if v > 0)
                if values:
                    ys = [(i + 1) / len(values) for i in range(len(values))]
                    rate = level["background_rate"]
                    ax.plot(values, ys, style, color=color, label=f"{label}, {rate:,} sensor ev/s")
        ax.axvline(50, color="grey", lw=0.8, ls=":")
        ax.set_xscale("log")
        ax.set_xlabel("event time → DOM change in Chromium (ms, log scale)")
        ax.set_ylabel("fraction of changes")
        ax.set_title("Event → pixel latency, work-order board")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        made["latency"] = _save(fig, img / f"{prefix}latency.png")

    if "ingest" in results:
        rows = results["ingest"]["rows"]
        fig, ax = plt.subplots(figsize=(9, 4.5))
        labels = [f"{NAMES[r['projection']]}\n{r['store']}" for r in rows]
        width = 0.2
        for i, (key, label, color) in enumerate(
            (
                ("shopfloor", "shopfloor projector", "tab:blue"),
                ("quix", "Quix Streams 3.28.1, same work", "tab:green"),
                ("quix_bare", "Quix Streams 3.28.1, bare", "tab:olive"),
                ("naive", "baseline: aiokafka, commit per event", "tab:red"),
            )
        ):
            values = [(r.get(key) or {}).get("rate") or 0 for r in rows]
            ax.bar([x + (i - 1.5) * width for x in range(len(rows))], values, width, label=label, color=color)
        ax.set_yscale("log")
        ax.set_xticks(range(len(rows)), labels, fontsize=8)
        ax.set_ylabel("events/s (log scale)")
        ax.set_title("Ingest throughput, one process, from Kafka into the read model")
        ax.legend(fontsize=8)
        ax.grid(axis="y", alpha=0.3)
        made["ingest"] = _save(fig, img / f"{prefix}ingest.png")

    if "fanout" in results:
        rows = results["fanout"]["rows"]
        fig, ax = plt.subplots(figsize=(8, 4.5))
        xs = [r["clients"] for r in rows]
        for key, label, style in (("p50", "p50", "o-"), ("p99", "p99", "s-")):
            ax.plot(xs, [r["latency"].get(key) for r in rows], style, label=f"event → client, {label}")
        ax.plot(xs, [r["spread"].get("p99") for r in rows], "^--", label="spread across clients, p99")
        ax.axhline(100, color="grey", lw=0.8, ls=":")
        ax.set_xlabel("concurrent SSE clients on one server process")
        ax.set_ylabel("ms")
        ax.set_title("SSE fan-out of one change")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        made["fanout"] = _save(fig, img / f"{prefix}fanout.png")

    if "soak" in results:
        soak = results["soak"]
        samples = soak["samples"]
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 5.5), sharex=True)
        minutes = [s["minute"] for s in samples]
        rss = _rss_series(soak)
        top.plot([s["minute"] for s in rss], [s["server_rss_mib"] for s in rss], "-", color="tab:blue")
        top.set_ylabel("server RSS (MiB)")
        top.grid(alpha=0.3)
        bottom.plot(minutes, [s["js_heap_after_gc_mib"] for s in samples], "o-", color="tab:orange")
        bottom.set_ylabel("JS heap after GC, all pages (MiB)")
        bottom.set_xlabel("minutes")
        bottom.grid(alpha=0.3)
        for ax in (top, bottom):
            ax.axvline(soak["window_full_minute"], color="grey", lw=0.8, ls=":")
        top.set_title(
            f"Soak: {soak['rate']:,} events/s, {soak['sse_clients']} SSE clients + {len(soak['pages'])} pages"
            " (dotted: stores full)"
        )
        made["soak"] = _save(fig, img / f"{prefix}soak.png")
    return made


def _save(fig: Any, path: Path) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path.name


# --- text ---------------------------------------------------------------------------------------


def _summary(results: dict[str, Any]) -> list[str]:
    lines = ["| aim | measured | target |", "|---|---|---|"]
    if "latency" in results:
        for level in results["latency"]["levels"]:
            p99 = level["sse"].get("p99")
            ok = (
                p99 is not None and p99 <= 50 and _none_missed(level)
                if level["background_rate"] == 1000
                else None
            )
            lines.append(
                f"| p99 event→pixel, {level['background_rate']:,} sensor events/s | "
                f"{_fmt(p99)} ms{_round_p99s(level)}; p50 {_fmt(level['sse'].get('p50'))} ms, "
                f"missed {_missed(level)}; polling p50 "
                f"{_fmt(level['polling'].get('p50'))} ms, {_fmt(level.get('ratio_p50'), 1)}× slower | "
                f"{'≤ 50 ms, none missed: ' + _met(ok) if ok is not None else 'reported'} |"
            )
        for level in results["latency"].get("watched", []):
            p99 = level["sse"].get("p99")
            ok = not level["missed_targets"]
            lines.append(
                f"| p99 event→pixel, watched board at {level['change_rate']} changes/s | {_fmt(p99)} ms"
                f"{_round_p99s(level)}; p50 {_fmt(level['sse'].get('p50'))} ms, missed {_missed(level)} | "
                f"≤ {_fmt(level['target_p99_ms'])} ms, none missed: {_met(ok)} |"
            )
    if "ingest" in results:
        for row in results["ingest"]["rows"]:
            target = INGEST_TARGETS.get((row["projection"], row["store"]))  # today's, also for older runs
            rate = row["shopfloor"].get("rate")
            vs = (row.get("ratio_vs_quix") or 0) >= 1  # the median of the rounds' own ratios
            own = "" if target is None else f"≥ {target:,}/s: {_met(rate is not None and rate >= target)}; "
            lines.append(
                f"| ingest {NAMES[row['projection']]}, {row['store']} | {_fmt(rate)} events/s "
                f"({_fmt(row.get('ratio_vs_quix'), 2)}× Quix doing the same work, {_fmt(row.get('ratio_vs_naive'), 0)}× the naive baseline) | "
                f"{own}≥ Quix (same work): {_met(vs)} |"
            )
    if "fanout" in results:
        best = results["fanout"]["largest_holding_target"]
        behind = results["fanout"].get("background")
        under = (
            f", {behind['sensor_rate']:,} sensor events/s and {behind['board_changes_per_s']} board changes/s behind"
            if behind
            else ", idle server"
        )
        lines.append(
            f"| SSE clients per process at p99 ≤ 100 ms{under} | {_fmt(best)} | ≥ 1,000: {_met(best is not None and best >= 1000)} |"
        )
        replicas = results["fanout"].get("replicas")
        if replicas:
            tried = ", ".join(
                f"{r['clients']:,}: p99 {_fmt(r['latency'].get('p99'), 0)} ms{_round_p99s(r)}"
                for r in replicas["rows"]
            )
            lines.append(
                f"| SSE clients on {replicas['web_processes']} web replicas (PostgreSQL, one projector process) "
                f"at p99 ≤ 100 ms, same load ({tried}) | {_fmt(replicas['largest_holding_target'])} | reported |"
            )
    if "history" in results:
        history = results["history"]
        target = history["target_s"]

        def row(board: str, figures: dict[str, Any], how: str) -> str:
            worst = figures["worst_s"]
            return (
                f"| `{board}?at=`{how} | worst {_fmt(worst, 2)} s (typical {_fmt(figures['typical_s'], 2)} s) "
                f"| ≤ {_fmt(target)} s: {_met(worst <= target)} |"
            )

        rate = f"{history['events_per_second']:,} events/s, snapshot every"
        every = f" 1 h or 24 h back, {rate} {_fmt(history['snapshot_interval_minutes'])} min"
        lines += [row(board, figures, every) for board, figures in history["boards"].items()]
        dense = history.get("denser")
        if dense:
            denser = (
                f", {rate} {_fmt(dense['snapshot_interval_minutes'])} min "
                f"({_fmt(dense['stored_gb_per_24h'])} GB stored per 24 h on this young store, about "
                f"{_fmt(dense['steady_stored_gb_per_24h_estimate'])} GB once the per-minute buckets fill)"
            )
            lines += [row(board, figures, denser) for board, figures in dense["boards"].items()]
            full = (
                f", {rate} {_fmt(dense['snapshot_interval_minutes'])} min, tables a day in (per-minute "
                "buckets full, a day of finished orders)"
            )
            lines += [row(b, f, full) for b, f in dense["boards_a_day_in"].items()]
    if "history-demo" in results:
        demo = results["history-demo"]
        for back in sorted({m["back_minutes"] for m in demo["moments"]}):
            here = [m for m in demo["moments"] if m["back_minutes"] == back]
            slowest = max(here, key=lambda m: m["wall_s"])
            lines.append(
                f"| any board `?at=` {_fmt(back / 60)} h back, `{demo['traffic']}` | slowest {_fmt(slowest['wall_s'], 2)} s "
                f"(`{slowest['board']}`, {slowest['moment']}) | ≤ {_fmt(demo['target_s'])} s: "
                f"{_met(slowest['wall_s'] <= demo['target_s'])} |"
            )
    if "soak" in results:
        soak = results["soak"]
        growth = soak.get("server_rss_growth_pct")
        judged = "lows between snapshot builds" if soak.get("rss_samples") else "median of each third"
        lines.append(
            f"| server RSS growth once the dedup window is full ({judged}), {_fmt(soak['minutes'])} min soak | "
            f"{_fmt(growth, 1)} % | "
            f"≤ 5 %: {_met(growth is not None and growth <= 5)} |"
        )
        if soak.get("server_python_blocks_growth_pct") is not None:
            lines.append(
                f"| server Python heap (live allocations) growth once the dedup window is full, "
                f"{_fmt(soak['minutes'])} min soak | {_fmt(soak['server_python_blocks_growth_pct'], 1)} % | reported |"
            )
        if soak.get("js_heap_excess_growth_pct") is not None:
            grown = soak["js_heap_excess_growth_pct"]
            start, end = soak["against_fresh"]
            judged = {
                path: g for path, g in soak["js_heap_excess_growth_pct_per_page"].items() if g is not None
            }
            worst_path, worst = max(judged.items(), key=lambda item: item[1])
            lines.append(
                f"| page JS heap beyond the same pages opened afresh, growth from minute {_fmt(start['minute'], 0)} "
                f"to {_fmt(end['minute'], 0)} of a {_fmt(soak['minutes'])} min soak | {_fmt(grown, 1)} % "
                f"(all {len(start['pages'])} pages; most `{worst_path}` {_fmt(worst, 1)} %) | "
                f"≤ 5 %: {_met(grown <= 5)} |"
            )
        else:
            growth = soak.get("js_heap_growth_pct")
            lines.append(
                f"| page JS heap growth once the dedup window is full, {_fmt(soak['minutes'])} min soak | {_fmt(growth, 1)} % | "
                f"≤ 5 %: {_met(growth is not None and growth <= 5)} |"
            )
    return lines


def _per_round(values: Sequence[Any], digits: int = 0) -> str:
    """Each round's figure in run order, when a level ran more than once (its own are the median's)."""
    return f" (rounds {', '.join(_fmt(v, digits) for v in values)})" if len(values) > 1 else ""


def _round_p99s(level: dict[str, Any], digits: int = 0) -> str:
    return _per_round(level.get("rounds_p99") or [], digits)


def _missed(level: dict[str, Any]) -> str:
    """Changes never shown in the median round, and in each round when there were several."""
    return f"{level['sse_missed']}{_per_round(level.get('rounds_missed') or [])}"


def _none_missed(level: dict[str, Any]) -> bool:
    return not any(level.get("rounds_missed") or [level["sse_missed"]])


def _latency(result: dict[str, Any]) -> list[str]:
    rounds = result.get("rounds", 1)
    lines = [
        "This run measured each level once."
        if rounds == 1
        else f"This run measured each level {rounds} times; the figures are each level's median round.",
        "",
        "| background | delivery | n | p50 | p95 | p99 | max | missed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for level in result["levels"]:
        for key, label in (("sse", "SSE push (shopfloor)"), ("polling", "htmx polling every 2 s")):
            s = level[key]
            lines.append(
                f"| {level['background_rate']:,} ev/s (achieved {_fmt(level['background_achieved'].get('rate'))}) | {label} | "
                f"{s.get('n', 0)} | {_fmt(s.get('p50'))} | {_fmt(s.get('p95'))} | {_fmt(s.get('p99'))}"
                f"{_round_p99s(level) if key == 'sse' else ''} | {_fmt(s.get('max'))} | "
                f"{_missed(level) if key == 'sse' else level['polling_missed']} |"
            )
        lines.append(
            f"| | **polling ÷ SSE** | | **{_fmt(level.get('ratio_p50'), 1)}×** | | **{_fmt(level.get('ratio_p99'), 1)}×** | | |"
        )
    if result.get("watched"):
        lines += [
            "",
            "The watched board under its own load (changes to the board the page shows, 1,000 sensor events/s "
            "and 100 other SSE clients behind):",
            "",
            "| changes/s on the watched board | n | p50 | p95 | p99 | max | missed | target p99 | targets missed |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for level in result["watched"]:
            s = level["sse"]
            lines.append(
                f"| {level['change_rate']} | {s.get('n', 0)} | {_fmt(s.get('p50'))} | {_fmt(s.get('p95'))} | "
                f"{_fmt(s.get('p99'))}{_round_p99s(level)} | {_fmt(s.get('max'))} | {_missed(level)} | "
                f"≤ {_fmt(level['target_p99_ms'])} ms | "
                f"{'; '.join(level['missed_targets']) or 'none'} |"
            )
    return lines


def _ingest(result: dict[str, Any]) -> list[str]:
    lines = [
        "| projection | store | shopfloor events/s | shopfloor bare events/s | Quix same work events/s | Quix bare events/s | baseline (naive) events/s | shopfloor ÷ Quix same | shopfloor ÷ Quix bare | shopfloor ÷ naive | shopfloor wall s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        bare = r.get("quix_bare") or {}
        lines.append(
            f"| {NAMES[r['projection']]} | {r['store']} | {_fmt(r['shopfloor'].get('rate'))} | "
            f"{_fmt((r.get('shopfloor_bare') or {}).get('rate'))} | {_fmt(r['quix'].get('rate'))} | "
            f"{_fmt(bare.get('rate'))} | {_fmt(r['naive'].get('rate'))} | {_ratio(r, 'ratio_vs_quix')} | "
            f"{_ratio(r, 'ratio_vs_quix_bare')} | {_fmt(r.get('ratio_vs_naive'), 0)}× | "
            f"{_fmt(r['shopfloor'].get('wall_s'), 1)} |"
        )
    return lines


def _rounds(result: dict[str, Any]) -> str:
    rounds = result.get("rounds", 1)
    if rounds == 1:
        return ""
    return (
        f"; every contender ran {rounds} times and its figures are its median run, each ratio the median of "
        "the rounds' ratios (in brackets, round by round)"
    )


def _ratio(row: dict[str, Any], key: str) -> str:
    """The median ratio, and each round's when there were several."""
    each = row.get(f"{key}_each") or []
    rounds = f" ({', '.join(f'{x:.2f}' for x in each)})" if len(each) > 1 else ""
    return f"{_fmt(row.get(key), 2)}×{rounds}"


def _fanout(result: dict[str, Any]) -> list[str]:
    rounds = result.get("rounds", 1)
    lines = [
        "This run measured each client count once."
        if rounds == 1
        else f"This run measured each client count {rounds} times, the counts in turn within each round; "
        "the figures are each count's median round by p99 (a round with a delivery never made counts as "
        "the slowest), every round's p99 and missing deliveries in brackets.",
        "",
        *_fanout_rows(result["rows"]),
    ]
    background = result.get("background")
    if background:
        stopped = [
            f"{r['clients']:,}"
            for r in result["rows"]
            if any(x.get("sensor_producer_running") is False for x in [r, *r.get("other_rounds", [])])
        ]
        lines += [
            "",
            f"Background throughout: {background['sensor_rate']:,} sensor events/s asked, "
            f"{_achieved(background)} achieved; "
            f"{background['board_changes_per_s']} status changes/s asked on the watched board's own orders "
            "(sent per client count above, from 3 s before the timed changes to the end of their wait)."
            + (
                f" **The sensor producer had stopped by the end of: {', '.join(stopped)} clients.**"
                if stopped
                else ""
            ),
        ]
    else:
        lines += ["", "Measured on an otherwise idle server (no background load)."]
    replicas = result.get("replicas")
    if replicas:
        projector = [r.get("cpu_cores_used", {}).get("projector") for r in replicas["rows"]]
        lines += [
            "",
            f"The same load with the clients spread over {replicas['web_processes']} `shopfloor web` replicas "
            f"beside one `shopfloor project` process, on PostgreSQL (each commit told to the replicas by "
            f"NOTIFY); {_achieved(replicas)} sensor events/s achieved. Server RSS and cores are "
            "the replicas' together; the projector used "
            f"{' / '.join(_fmt(c, 2) for c in projector)} of a core (counted in the machine's):",
            "",
            *_fanout_rows(replicas["rows"]),
        ]
    return lines


def _achieved(block: dict[str, Any]) -> str:
    """The sensor producer's achieved rate (the median round's), each round's, and any error."""
    rounds = block.get("sensor_achieved_rounds") or [block.get("sensor_achieved", {})]
    errors = "; ".join(r["error"] for r in rounds if r.get("error"))
    return (
        f"{_fmt(block.get('sensor_achieved', {}).get('rate'), 0)}"
        f"{_per_round([r.get('rate') for r in rounds])}{f' ({errors})' if errors else ''}"
    )


def _fanout_rows(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| clients | connected | deliveries | missing | p50 ms | p99 ms | max ms | spread p99 ms | last client p50 ms | server RSS MiB | board changes/s behind | cores used: server / clients / machine | one write, as the server measured it (µs) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        cores = r.get("cpu_cores_used", {})
        lines.append(
            f"| {r['clients']:,} | {r['connected']:,} | {r['deliveries']:,} | "
            f"{r['missing_deliveries']}{_per_round(r.get('rounds_missed') or [])} | "
            f"{_fmt(r['latency'].get('p50'), 1)} | {_fmt(r['latency'].get('p99'), 1)}{_round_p99s(r, 1)} | "
            f"{_fmt(r['latency'].get('max'), 1)} | "
            f"{_fmt(r['spread'].get('p99'), 1)} | {_fmt(r['to_all_clients'].get('p50'), 1)} | {_fmt(r['server_rss_mib'], 1)} | "
            f"{_fmt(r.get('board_changes_per_s'), 1)} | "
            f"{_fmt(cores.get('server'), 2)} / {_fmt(cores.get('clients'), 2)} / {_fmt(cores.get('machine'), 2)} | "
            f"{_fmt(r.get('sse_write_us'), 1)} |"
        )
    return lines


def _soak(result: dict[str, Any]) -> list[str]:
    lines = [
        "| minute | server RSS MiB | dedup ids | JS heap MiB after GC (all pages) | DOM nodes (all pages) | consumer lag |",
        "|---|---|---|---|---|---|",
    ]
    for s in result["samples"]:
        lines.append(
            f"| {s['minute']:.1f} | {s['server_rss_mib']:.1f} | {_fmt(s.get('applied_ids'))} | "
            f"{s['js_heap_after_gc_mib']:.2f} | {s['dom_nodes']} | {_fmt(s['consumer_lag'])} |"
        )
    if result.get("js_heap_excess_growth_pct") is not None:
        start, end = result["against_fresh"]
        lines += [
            "",
            f"Each page beside the same page opened afresh, at minute {_fmt(start['minute'], 0)} and at the end "
            f"(minute {_fmt(end['minute'], 0)}), heap after GC in MiB"
            + (
                f" (median of {start['rounds']} samples of each tab; DOM nodes from the last)"
                if "rounds" in start
                else ""
            )
            + ":",
            "",
            "| page | long-open | fresh | long-open at the end | fresh at the end | growth of the difference | "
            "DOM nodes long-open / fresh at the end |",
            "|---|---|---|---|---|---|---|",
        ]
        for path, growth in result["js_heap_excess_growth_pct_per_page"].items():
            a, b = start["pages"][path], end["pages"][path]
            lines.append(
                f"| `{path}` | {a['long_open_heap_mib']:.2f} | {a['fresh_heap_mib']:.2f} | {b['long_open_heap_mib']:.2f} | "
                f"{b['fresh_heap_mib']:.2f} | {_fmt(growth, 1)} % | {b['long_open_dom_nodes']} / {b['fresh_dom_nodes']} |"
            )
    return lines


def render(run: dict[str, Any], *, quick: bool, extra: Sequence[dict[str, Any]] = ()) -> Path:
    """Writes the report; returns its path. `extra`: runs of other benchmarks (`--only`) reported
    beside this one's, each named with its own command, time and commit."""
    if quick:
        target, img, prefix, img_ref = RESULTS / "benchmarks-quick.md", RESULTS, "quick-", ""
    else:
        target, img, prefix, img_ref = DOCS / "benchmarks.md", DOCS / "img", "bench-", "img/"
    results = dict(run["results"])
    for other in extra:
        results.update({name: result for name, result in other["results"].items() if name not in results})
    plots = _plots({**run, "results": results}, img, prefix)
    m = run["machine"]
    out = [
        "# Benchmarks",
        "",
        f"Measured by `{run['command']}` on {run['stamp']} ({'quick mode: a harness check, not the figures' if quick else 'full run'}).",
        "Generated by `bench/report.py` from the JSON in `bench/results/`; the raw results of each benchmark are in "
        "`docs/benchmarks/raw/` (every sample, so every figure can be re-derived); the analysis section is `bench/analysis.md`.",
        *(
            f"`{', '.join(other['results'])}` from `{other['command']}` on {other['stamp']} "
            f"(commit {other['machine'].get('commit', 'unknown')}), run separately"
            + _other_machine(m, other["machine"])
            for other in extra
        ),
        "",
        "## Summary",
        "",
        *_summary(results),
        "",
    ]
    if run.get("errors"):
        out += ["**Benchmarks that failed in this run:** " + ", ".join(sorted(run["errors"])), ""]
    out += [
        "## Machine",
        "",
        f"- {m['nproc']} cores ({m['cpu'] or 'CPU model unknown'}), {m['memory_gib']} GiB memory, Linux {m['kernel']}",
        f"- code: commit {m.get('commit', 'unknown')}",
        f"- load average at start {', '.join(f'{x:.2f}' for x in m['load_average'])} (the machine is shared with other test runs: figures are noisy)",
        f"- Python {m['python']}, SQLite {m['sqlite']}, {m['postgresql']}, {m['kafka']} (single KRaft node), {m['chromium']}",
        "- " + ", ".join(f"{k} {v}" for k, v in m["packages"].items()) + f", Quix Streams {m['quixstreams']}",
        "",
        "## Reproduce",
        "",
        "```sh",
        "bash dev/setup.sh test && pip install -e '.[bench]'   # matplotlib, psutil, py-spy, pyinstrument",
        "python bench/run.py                    # everything (about 2 h 30 min, 96 min of it the soak)",
        "python bench/run.py --quick            # harness check, about 5 min, results in bench/results/ only",
        "python bench/run.py --only latency     # one benchmark: latency | ingest | fanout | history | history-demo | soak",
        "python bench/run.py --soak-minutes 10  # shorter soak",
        "python bench/report.py bench/results/latest.json [OTHER.json]   # re-render this page from saved results",
        "python bench/report.py --raw                                     # or from the committed raw results",
        "```",
        "",
        "Kafka and PostgreSQL are started through `dev/kafka.sh start` and `dev/postgres.sh start` (left running);",
        "every benchmark uses topics, consumer groups and databases of its own. Quix Streams is installed by",
        "the ingest benchmark into its own virtualenv (`bench/requirements-quix.txt`) because its pins",
        "(pydantic < 2.14, pydantic-settings < 2.16) conflict with shopfloor's.",
        "",
        "For comparing a change with its parent, quicker than a full run: `python bench/ingest_hot.py`",
        "(the projector alone through Kafka, or `cpu` for decode and apply in process) and",
        "`python bench/instructions.py` (instructions an event for decode and apply, counted by valgrind:",
        "a figure a busy machine cannot move).",
        "",
    ]
    if "latency" in results:
        out += ["## Event → pixel latency", "", _doc("latency"), "", *_latency(results["latency"]), ""]
        if "latency" in plots:
            out += [f"![event to pixel latency]({img_ref}{plots['latency']})", ""]
    if "ingest" in results:
        out += ["## Ingest throughput", "", _doc("ingest"), "", *_ingest(results["ingest"]), ""]
        out += [
            f"Each run consumed {results['ingest']['events_per_projection']:,} events per projection"
            f"{_rounds(results['ingest'])}. The naive consumer is time-boxed "
            f"({results['ingest']['rows'][0]['naive'].get('time_boxed_s')} s of records); its rate is the rate it held meanwhile.",
            "",
        ]
        if "ingest" in plots:
            out += [f"![ingest throughput]({img_ref}{plots['ingest']})", ""]
    if "fanout" in results:
        out += ["## SSE fan-out", "", _doc("fanout"), "", *_fanout(results["fanout"]), ""]
        out += [
            f"Largest client count holding p99 ≤ 100 ms with every delivery made: **{_fmt(results['fanout']['largest_holding_target'])}**.",
            "",
        ]
        if "fanout" in plots:
            out += [f"![fan-out latency]({img_ref}{plots['fanout']})", ""]
    if "soak" in results:
        soak = results["soak"]
        out += ["## Soak", "", _doc("soak"), "", *_soak(soak), ""]
        out += [
            f"Growth once the dedup window ({_fmt(soak['dedup_window_s'] / 60)} min) and the sensor window are full "
            f"(from minute {_fmt(soak['window_full_minute'])}, {soak['samples_after_window_full']} samples"
            + (
                f"; the server's RSS {soak['rss_samples_after_window_full']}, one every "
                f"{_fmt(soak['rss_sample_every_s'])} s"
                if soak.get("rss_samples")
                else ""
            )
            + f"): server RSS {_fmt(soak['server_rss_growth_pct'], 1)} %"
            + (
                f" (10th percentile of each third: the lows between snapshot builds; medians "
                f"{_fmt(soak.get('server_rss_median_growth_pct'), 1)} %)"
                if soak.get("rss_samples")
                else " (median of each third)"
            )
            + "; JS heap of the long-open pages (content included, so not the "
            f"judged figure when the comparison with fresh tabs above is there) {_fmt(soak['js_heap_growth_pct'], 1)} % "
            f"(per page: {', '.join(f'`{p}` {_fmt(g, 1)} %' for p, g in soak['js_heap_growth_pct_per_page'].items())}); "
            f"connection state at the end: {soak['page_connection_at_end']}; "
            f"sensor producer achieved {_fmt(soak['background_achieved'].get('rate'))} events/s.",
            "",
        ]
        not_live = soak.get("pages_not_live")
        if not_live is not None:
            out += [
                "Pages not live at a sample: "
                + (
                    "; ".join(
                        f"minute {_fmt(n['minute'])} `{n['page']}` {n['connection']} ({n['reason']})"
                        for n in not_live
                    )
                    or "none"
                )
                + ".",
                "",
            ]
        for compared in soak.get("against_fresh", []):
            if "not_live" in compared:
                out += [
                    f"Tabs not live while every page was opened afresh (until minute {_fmt(compared['minute'])}): "
                    f"{len(compared['not_live'])} of {compared['tab_samples']} tab samples"
                    + "".join(
                        f"; round {n['round'] + 1} `{n['page']}` ({n['tab']}) {n['connection']} ({n['reason']})"
                        for n in compared["not_live"]
                    )
                    + ".",
                    "",
                ]
        samples = soak["samples"]
        for key, what, unit in (
            ("server_rss_mib", "Server RSS", "MiB"),
            ("server_python_blocks", "Server Python heap (live allocations)", "thousand blocks"),
        ):
            scale = 1000 if unit == "thousand blocks" else 1
            series = _rss_series(soak) if key == "server_rss_mib" else samples
            windows = by_window(series, first_full(series, soak["window_full_minute"]), key=key)
            if windows:
                out += [
                    f"{what} after the windows are full, per 10 minutes (lowest: between snapshots; highest: "
                    f"while one is built), {unit}: "
                    + "; ".join(
                        f"from minute {_fmt(w['from_minute'], 0)} {_fmt(w['low'] / scale, 0)} / "
                        f"{_fmt(w['median'] / scale, 0)} / {_fmt(w['high'] / scale, 0)}"
                        for w in windows
                    )
                    + " (lowest / median / highest).",
                    "",
                ]
        if "soak" in plots:
            out += [f"![soak memory]({img_ref}{plots['soak']})", ""]
    if "history" in results:
        history = results["history"]
        out += ["## Past views (`?at=`)", "", _doc("history"), ""]
        out += ["| board | worst | typical |", "|---|---|---|"]
        out += [
            f"| `{b}` | {_fmt(f['worst_s'], 2)} s | {_fmt(f['typical_s'], 2)} s |"
            for b, f in history["boards"].items()
        ]
        out += [
            "",
            f"{history['events']:,} events over {_fmt(history['minutes_of_log'])} min; replay "
            f"{_fmt(history['replay_records_per_second'])} records/s through the live projector's path; "
            f"the last interval's images {_fmt(history['snapshots'][-1]['bytes'] / 1e6, 1)} MB (quiet parts "
            "wait, a busy one is taken more often). "
            "Without snapshots (extrapolated): "
            f"1 h back {_fmt(history['no_snapshot_1h_back_s_extrapolated'])} s, 24 h back "
            f"{_fmt(history['no_snapshot_24h_back_s_extrapolated'])} s.",
            "",
        ]
        dense = history.get("denser")
        if dense:
            taken = dense["parts_taken_per_interval"]
            out += [
                f"From one-minute snapshots of a {_fmt(dense['minutes_of_log'])}-minute log (the one-second "
                "buckets' 10-minute window full), "
                + "; ".join(
                    f"`{b}` worst {_fmt(f['worst_s'], 2)} s, typical {_fmt(f['typical_s'], 2)} s, loading "
                    f"{_fmt(f['loads_bytes'] / 1e6, 1)} MB of snapshot parts"
                    for b, f in dense["boards"].items()
                )
                + ". Parts taken per interval (a part with few records since its last snapshot waits, a busy "
                "one is taken more often): "
                + ", ".join(f"{name} {_fmt(share, 2)}" for name, share in taken.items())
                + f"; {_fmt(dense['stored_bytes_per_interval'] / 1e6, 1)} MB stored per interval, "
                f"{_fmt(dense['stored_gb_per_24h'])} GB per 24 h on this young store; about "
                f"{_fmt(dense['steady_stored_gb_per_24h_estimate'])} GB once the per-minute buckets (kept "
                f"12 h) fill, at {_fmt(dense['minute_bucket_stored_bytes_per_row'], 1)} stored bytes a row "
                "(estimated), plus the growth of the order tables (docs/history.md). With each snapshot's "
                "tables grown to their size a day in (per-minute buckets filled to 12 h with each sensor's own "
                "rows, the orders finished so far copied to make a day's), "
                + "; ".join(
                    f"`{b}` worst {_fmt(f['worst_s'], 2)} s, typical {_fmt(f['typical_s'], 2)} s, loading "
                    f"{_fmt(f['loads_bytes'] / 1e6, 1)} MB"
                    for b, f in dense["boards_a_day_in"].items()
                )
                + ".",
                "",
            ]
    if "history-demo" in results:
        demo = results["history-demo"]
        if "history" not in results:
            out += ["## Past views (`?at=`)", ""]
        out += [
            f"Under `{demo['traffic']}` ({demo['events']:,} events over {_fmt(demo['minutes_of_log'])} min, "
            f"snapshots every {_fmt(demo['snapshot_interval_minutes'])} min), each build cold:",
            "",
            "| board | back | moment | wall | CPU |",
            "|---|---|---|---|---|",
        ]
        out += [
            f"| `{m['board']}` | {_fmt(m['back_minutes'] / 60)} h | {m['moment']} | {_fmt(m['wall_s'], 2)} s | "
            f"{_fmt(m['cpu_s'], 2)} s |"
            for m in demo["moments"]
        ]
        out += [""]
    if ANALYSIS.exists():
        out += [ANALYSIS.read_text().strip(), ""]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(out))
    return target


def _doc(module: str) -> str:
    """The method, as the benchmark module's docstring says it (one source of truth)."""
    import importlib

    doc = importlib.import_module(f"bench.{module}").__doc__ or ""
    return doc.split("\n\n", 1)[-1].strip()


def runs_from_raw() -> list[dict[str, Any]]:
    """The committed raw results as runs, one per stamp, the full run first: the page as committed
    can be rendered again without bench/results/."""
    from bench.raw import RAW

    runs: dict[str, dict[str, Any]] = {}
    for path in sorted(RAW.glob("*.json")):
        record = json.loads(path.read_text())
        run = runs.setdefault(record["stamp"], {k: record[k] for k in ("stamp", "command", "machine")})
        run.setdefault("results", {})[path.stem] = record["result"]
    return sorted(runs.values(), key=lambda r: (r["command"] != "python bench/run.py", r["stamp"]))


def main() -> None:
    """`report.py [RUN.json [OTHER-RUN.json ...]]`: the first run's report, with the other runs'
    benchmarks that the first lacks; `report.py --raw`: from docs/benchmarks/raw/."""
    if sys.argv[1:] == ["--raw"]:
        run, *extra = runs_from_raw()
    else:
        paths = [Path(a) for a in sys.argv[1:]] or [RESULTS / "latest.json"]
        run, *extra = (json.loads(path.read_text()) for path in paths)
    print(render(run, quick=run.get("quick", False), extra=extra))


if __name__ == "__main__":
    main()
