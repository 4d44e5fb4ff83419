"""Real `shopfloor` processes to kill, pause and restart, and how far their consumer got."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Engine, text

from shopfloor.config import Settings
from tests.support import REPO, settings_env


def start(
    settings: Settings,
    log: Path,
    command: str = "project",
    module: Sequence[str] = ("shopfloor",),
    **env: str,
) -> subprocess.Popen[bytes]:
    """`module` is what `python -m` runs (a mutant wrapper in the mutation checks)."""
    environment = {**settings_env(settings), **env}
    with log.open("a") as out:
        return subprocess.Popen(
            [sys.executable, "-m", *module, command],
            env=environment,
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def consumed(engine: Engine, group: str) -> int:
    """Records committed by `group` (sum of stored next offsets over its partitions)."""
    with engine.connect() as conn:
        value = conn.execute(
            text("SELECT COALESCE(SUM(next_offset), 0) FROM consumer_positions WHERE group_id = :g"),
            {"g": group},
        ).scalar_one()
    return int(value)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
