"""Runs the benchmarks, writes the report: `python bench/run.py [--quick] [--only NAME] [--soak-minutes N]`.

Starts what it needs (Kafka and PostgreSQL through dev/kafka.sh and dev/postgres.sh, Debian's
Chromium through Playwright), runs every benchmark (or `--only` some), writes JSON to
bench/results/ and, for a full run, renders docs/benchmarks.md with its plots in docs/img/ and
the raw results to commit in docs/benchmarks/raw/ (bench/raw.py).
`--quick` (about 5 minutes) checks that the harness works; its figures are not the targets, and
it writes only to bench/results/ (the report goes to bench/results/benchmarks-quick.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO, RESULTS, log, machine, raise_fd_limit, start_services, write_result

BENCHMARKS = ("latency", "ingest", "fanout", "history", "history-demo", "soak")


def ensure_bench_packages() -> None:
    """The `bench` extra of pyproject.toml (matplotlib, psutil, profilers), installed if missing."""
    import importlib.util
    import subprocess
    import tomllib

    if all(importlib.util.find_spec(name) for name in ("matplotlib", "psutil")):
        return
    pins = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["bench"]
    log(f"installing the bench extra: {' '.join(pins)}")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", *pins], check=True
    )


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: checks the harness (about 5 min)")
    parser.add_argument("--only", action="append", choices=BENCHMARKS, help="run only this benchmark")
    parser.add_argument("--soak-minutes", type=float, default=None, help="soak length (default 90; quick 1)")
    parser.add_argument("--no-report", action="store_true", help="write JSON results only")
    return parser.parse_args(argv)


async def _run_one(name: str, args: argparse.Namespace, services: Any, workdir: Path) -> dict[str, Any]:
    if name == "latency":
        from bench import latency

        return await latency.run(services, workdir, quick=args.quick)
    if name == "ingest":
        from bench import ingest

        return await ingest.run(services, workdir, quick=args.quick)
    if name == "fanout":
        from bench import fanout

        return await fanout.run(services, workdir, quick=args.quick)
    if name == "history":
        from bench import history

        return await history.run(services, workdir, quick=args.quick)
    if name == "history-demo":
        from bench import history

        return await history.run(services, workdir, quick=args.quick, demo=True)
    from bench import soak

    minutes = args.soak_minutes if args.soak_minutes is not None else (1.0 if args.quick else 90.0)
    return await soak.run(services, workdir, quick=args.quick, minutes=minutes)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    started = time.monotonic()
    stamp = time.strftime("%Y%m%dT%H%M%S")
    if args.quick:
        log("quick mode: a harness check at small sizes; its figures are not measurements and aims it")
        log("marks 'missed' say nothing about the targets (the full run is `python bench/run.py`)")
    ensure_bench_packages()
    descriptors = raise_fd_limit()
    log(f"file descriptor limit {descriptors}; starting Kafka and PostgreSQL (dev/kafka.sh, dev/postgres.sh)")
    services = start_services()
    command = "python bench/run.py" + "".join(f" {shlex.quote(a)}" for a in (argv or sys.argv[1:]))
    run: dict[str, Any] = {
        "stamp": stamp,
        "quick": args.quick,
        "command": command,
        "machine": machine(services.postgres),
        "results": {},
        "errors": {},
    }
    broken = False
    with tempfile.TemporaryDirectory(prefix="shopfloor-bench-") as tmp:
        for name in args.only or BENCHMARKS:
            began = time.monotonic()
            try:
                result = asyncio.run(_run_one(name, args, services, Path(tmp)))
                result["seconds"] = round(time.monotonic() - began, 1)
                run["results"][name] = result
                log(f"{name}: done in {result['seconds']} s -> {write_result(name, result, stamp=stamp)}")
            except Exception as exc:
                broken = True
                run["errors"][name] = "".join(traceback.format_exception(exc))[-4000:]
                log(f"{name}: FAILED\n{run['errors'][name]}")
            finally:
                services.cleanup()
    run["seconds"] = round(time.monotonic() - started, 1)
    path = write_result("run", run, stamp=stamp)
    (RESULTS / ("latest-quick.json" if args.quick else "latest.json")).write_text(
        json.dumps(run, default=str)
    )
    log(f"all results: {path}")
    if not args.quick:
        from bench.raw import write_raw

        log(f"raw results for the report: {' '.join(str(p) for p in write_raw(run))}")
    if not args.no_report:
        from bench import report

        target = report.render(run, quick=args.quick)
        log(f"report: {target}")
    log(f"total {run['seconds']} s")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
