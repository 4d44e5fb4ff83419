"""Helpers for multi-process tests: a PostgreSQL database of their own, `shopfloor` workers, their logs."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from shopfloor.config import Settings
from tests.support import REPO, settings_env, unique_settings

ASSIGNED = re.compile(r"assigned \d+ partitions; resuming from stored positions: (.*)$")


def scale_settings(kafka: str, database_url: str, **overrides: Any) -> Settings:
    """unique_settings plus a unique alert-command topic, so no worker reads another test's topics."""
    tag = unique_settings(kafka, database_url).topic_work_orders.split(".")[0]
    return unique_settings(kafka, database_url, topic_alert_commands=f"{tag}.ops.alert-commands", **overrides)


class Worker:
    """A `shopfloor <command>` subprocess with its own log file."""

    def __init__(self, settings: Settings, log_path: Path, command: str = "project") -> None:
        self.log_path = log_path
        self._log = log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "shopfloor", command],
            env=settings_env(settings),
            cwd=REPO,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def assignment(self) -> set[tuple[str, int]] | None:
        """Partitions of the worker's latest assignment, from its log (None before the first)."""
        latest = None
        for line in self.log_path.read_text().splitlines():
            match = ASSIGNED.search(line)
            if match:
                latest = match.group(1)
        if latest is None:
            return None
        found: set[tuple[str, int]] = set()
        for item in latest.split():
            topic, _, rest = item.partition("[")
            found.add((topic, int(rest.split("]")[0])))
        return found

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


@contextmanager
def workers(
    settings: Settings, tmp_path: Path, count: int, command: str = "project"
) -> Iterator[list[Worker]]:
    started = [Worker(settings, tmp_path / f"{command}-{n}.log", command) for n in range(count)]
    try:
        yield started
    finally:
        for worker in started:
            worker.stop()
