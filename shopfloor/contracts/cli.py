"""`shopfloor schemas export DIR | check DIR`: write the contracts, or fail on a breaking change."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

DEFAULT_DIR = Path("contracts/schemas")


def add_parser(commands: Any) -> None:
    schemas = commands.add_parser(
        "schemas",
        help="export event JSON Schemas and the AsyncAPI document, or check them for compatibility",
        description="JSON Schema for the CloudEvents envelope and every event type. `export` writes "
        "them (commit the result); `check` exits 1 when the current models could not read data "
        "valid under the committed schemas (a schema registry's BACKWARD rule); `asyncapi` writes "
        "the AsyncAPI 3.0 document of every topic and event (commit it too).",
    )
    actions = schemas.add_subparsers(dest="action", required=True)
    for name, text in (("export", "write the schemas"), ("check", "compare with committed schemas")):
        action = actions.add_parser(name, help=text)
        action.add_argument(
            "directory", type=Path, nargs="?", default=DEFAULT_DIR, help=f"(default: {DEFAULT_DIR})"
        )
        action.add_argument(
            "--log-level", default="warning", choices=["debug", "info", "warning", "error"], help="log detail"
        )
    from shopfloor.contracts.asyncapi import DEFAULT_PATH

    asyncapi = actions.add_parser("asyncapi", help="write the AsyncAPI 3.0 document")
    asyncapi.add_argument(
        "path", type=Path, nargs="?", default=DEFAULT_PATH, help=f"(default: {DEFAULT_PATH})"
    )
    asyncapi.add_argument(
        "--log-level", default="warning", choices=["debug", "info", "warning", "error"], help="log detail"
    )


def run(args: argparse.Namespace) -> None:
    from shopfloor.contracts.compat import check_all
    from shopfloor.contracts.export import current_schemas, export, load, render

    if args.action == "asyncapi":
        from shopfloor.contracts.asyncapi import write

        print(f"wrote {write(args.path)}")
        return
    directory: Path = args.directory
    if args.action == "export":
        written = export(directory)
        print(f"wrote {len(written)} schemas to {directory}")
        return
    committed = load(directory)
    if not committed:
        sys.exit(f"shopfloor schemas check: no schemas in {directory} (run `shopfloor schemas export`)")
    current = current_schemas()
    problems = check_all(committed, current)
    if problems:
        print(f"BACKWARD-incompatible with {directory}:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        sys.exit(1)
    stale = sorted(n for n, s in current.items() if n not in committed or render(s) != render(committed[n]))
    note = f"; not yet exported (compatible): {', '.join(stale)}" if stale else ""
    print(f"{len(committed)} committed schemas: compatible{note}")
