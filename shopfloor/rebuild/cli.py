"""`shopfloor rebuild <read model>`: replay, swap, and a progress bar on the terminal."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any, TextIO

from shopfloor.config import Settings
from shopfloor.rebuild.progress import Progress

BAR_WIDTH = 30


def add_parser(commands: Any, common: Any) -> None:
    rebuild = commands.add_parser(
        "rebuild",
        help="rebuild one read model from the beginning of its topics, then swap it in live",
        description="Replays the read model's topics from the beginning into shadow tables, shows "
        "progress here and on /admin/rebuilds, catches up with the live projector and swaps the "
        "shadow in atomically while pages keep serving. Needs Kafka.",
    )
    common(rebuild, web=False)
    rebuild.add_argument("model", nargs="?", help="read model name (see --list)")
    rebuild.add_argument("--list", action="store_true", help="list the read models that can be rebuilt")


def bar(progress: Progress) -> str:
    filled = int(BAR_WIDTH * progress.percent / 100)
    return (
        f"\r{progress.model} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {progress.percent:5.1f}% "
        f"{progress.done:,}/{progress.total:,} events {progress.rate:,.0f} ev/s {progress.state:<11}"
    )


def run(settings: Settings, args: argparse.Namespace, out: TextIO = sys.stderr) -> None:
    from shopfloor.rebuild.runner import Rebuild
    from shopfloor.rebuild.shadow import open_engine
    from shopfloor.store.registry import find, read_models

    if args.list or not args.model:
        for name, model in sorted(read_models().items()):
            tables, topics = ", ".join(t.name for t in model.tables), ", ".join(model.topics(settings))
            also = f" (also: {', '.join(model.aliases)})" if model.aliases else ""
            print(f"{name}{also}: {tables}  (topics: {topics})")
        return
    if settings.embedded:
        sys.exit(
            "shopfloor rebuild: set SHOPFLOOR_KAFKA_BOOTSTRAP_SERVERS or --kafka-bootstrap-servers "
            "(the embedded log lives inside `shopfloor demo`, which rebuilds in its own process)"
        )
    model = find(args.model)
    engine = open_engine(settings.database_url)
    started = time.monotonic()

    def show(progress: Progress) -> None:
        out.write(bar(progress))
        out.flush()

    try:
        result = asyncio.run(Rebuild(settings, model, engine, on_progress=show).run())
    finally:
        engine.dispose()
    out.write(bar(result) + "\n")
    elapsed = time.monotonic() - started
    print(
        f"rebuilt {model.name}: {result.done} events in {elapsed:.1f}s ({result.rate:,.0f} events/s), "
        f"swapped in at version {result.swapped_version}",
        flush=True,
    )
