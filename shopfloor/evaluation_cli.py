"""`shopfloor evaluate`: its flags, and printing or writing the report."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

DEFAULT_OUTPUT = Path("docs/anomaly-evaluation.md")


def add_parser(commands: Any) -> None:
    evaluate = commands.add_parser(
        "evaluate",
        help="replay ground-truth sensor scenarios through the detector and score it",
        description="Generates normal traffic, noise bursts, step changes, dropouts and slow "
        "degradations that end in failure, replays them through the anomaly detector and reports "
        "the share of failures flagged at least 15 min ahead, lead time (median, p10) and false "
        "alerts per machine-day. Exits non-zero when a target is missed.",
    )
    evaluate.add_argument("--machines", type=int, default=10, help="healthy machines per scenario kind")
    evaluate.add_argument("--failures", type=int, default=60, help="degradations that end in failure")
    evaluate.add_argument("--days", type=float, default=1.0, help="days of healthy traffic per machine")
    evaluate.add_argument("--rate-hz", type=float, default=1.0, help="readings per second per sensor")
    evaluate.add_argument("--seed", type=int, default=7)
    evaluate.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="Markdown report path")
    evaluate.add_argument("--no-write", action="store_true", help="print only")
    evaluate.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])


def run(args: argparse.Namespace) -> None:
    from shopfloor import evaluation

    started = time.perf_counter()
    report = evaluation.evaluate(
        machines=args.machines, failures=args.failures, rate_hz=args.rate_hz, seed=args.seed, days=args.days
    )
    command = (
        f"shopfloor evaluate --machines {args.machines} --failures {args.failures} --days {args.days:g} "
        f"--rate-hz {args.rate_hz:g} --seed {args.seed}"
    )
    print(
        f"flagged >=15 min ahead: {report.flagged_share:.1%} of {report.failures}; "
        f"lead median {report.median_lead:.1f} min, p10 {report.p10_lead:.1f} min; "
        f"false alerts {report.false_per_machine_day:.3f} per machine-day "
        f"({report.false_alerts} in {report.machine_days:.1f}); "
        f"{time.perf_counter() - started:.0f} s",
        flush=True,
    )
    if not args.no_write:
        evaluation.write(report, args.output, command)
        print(f"report written to {args.output}")
    if not report.passed():
        sys.exit("targets not met")
