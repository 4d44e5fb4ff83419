"""Raw results of a full run, committed next to docs/benchmarks.md so every figure can be re-derived.

One file per benchmark, `docs/benchmarks/raw/<name>.json`: the run's command, stamp and machine and
the benchmark's complete result (every sample and per-run figure the report summarises). A run of
some benchmarks (`--only`) replaces only theirs. Quick runs never write here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.common import DOCS

RAW = DOCS / "benchmarks" / "raw"


def write_raw(run: dict[str, Any]) -> list[Path]:
    RAW.mkdir(parents=True, exist_ok=True)
    written = []
    for name, result in run["results"].items():
        path = RAW / f"{name}.json"
        record = {k: run[k] for k in ("stamp", "command", "machine")} | {"result": result}
        path.write_text(json.dumps(record, indent=1, default=str, sort_keys=True) + "\n")
        written.append(path)
    return written
