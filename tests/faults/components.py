"""Private Kafka brokers and PostgreSQL clusters for fault tests, so stopping one never touches the
shared instances on 9092 and 55432 that other tests and engineers use."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.support import REPO, free_port

DEV_DIR = Path(os.environ.get("SHOPFLOOR_DEV_DIR", Path.home() / ".cache" / "shopfloor"))


def _run(script: str, command: str, env: dict[str, str], timeout: float = 180) -> str:
    done = subprocess.run(
        ["bash", str(REPO / "dev" / script), command],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(
            f"dev/{script} {command} failed ({done.returncode}): {done.stderr[-3000:]}{done.stdout[-500:]}"
        )
    return done.stdout.strip()


@dataclass
class Broker:
    """A single-node KRaft broker of our own; `stop` + `resume` is an outage that keeps its data."""

    env: dict[str, str]
    port: int
    run_dir: Path
    events: list[tuple[str, float]] = field(default_factory=list)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        _run("kafka.sh", "start", self.env)
        self.events.append(("started", time.monotonic()))

    def stop(self) -> None:
        _run("kafka.sh", "stop", self.env)
        self.events.append(("stopped", time.monotonic()))

    def resume(self) -> None:
        """Start again on the same data dir: topics, records and group offsets survive."""
        _run("kafka.sh", "resume", self.env)
        self.events.append(("resumed", time.monotonic()))

    def log(self) -> str:
        path = self.run_dir / "kafka.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""


@contextmanager
def own_broker(
    extra_properties: str = "",
    format_args: str = "",
    java_opts: str = "",
    port: int | None = None,
    controller_port: int | None = None,
) -> Iterator[Broker]:
    """Starts a broker on free ports in a temporary dev dir (jars shared), and always stops it."""
    state = Path(tempfile.mkdtemp(prefix="shopfloor-kafka-"))
    port = port or free_port()
    env = {
        **os.environ,
        "SHOPFLOOR_DEV_DIR": str(state),
        "KAFKA_LIBS_DIR": os.environ.get("KAFKA_LIBS_DIR", str(DEV_DIR / "kafka-libs")),
        "KAFKA_PORT": str(port),
        "KAFKA_CONTROLLER_PORT": str(controller_port or free_port()),
        "KAFKA_EXTRA_PROPERTIES": extra_properties,
        "KAFKA_STORAGE_FORMAT_ARGS": format_args,
        "KAFKA_JAVA_OPTS": java_opts,
    }
    broker = Broker(env, port, state / f"kafka-{port}")
    try:
        broker.start()
        yield broker
    finally:
        try:
            _run("kafka.sh", "stop", env)
        finally:
            shutil.rmtree(state, ignore_errors=True)


@dataclass
class Postgres:
    """A PostgreSQL cluster of our own; `restart` is a real server restart (every session cut)."""

    env: dict[str, str]
    url: str

    def stop(self, mode: str = "fast") -> None:
        """`fast` aborts open transactions and shuts down cleanly; `immediate` is a crash."""
        _run("postgres.sh", "stop", {**self.env, "PG_STOP_MODE": mode})

    def start(self) -> None:
        _run("postgres.sh", "start", self.env)


@contextmanager
def own_postgres() -> Iterator[Postgres]:
    """initdb + start on a free port in a temporary dir; always stopped and removed afterwards."""
    state = Path(tempfile.mkdtemp(prefix="shopfloor-pg-"))
    env = {**os.environ, "SHOPFLOOR_DEV_DIR": str(state), "PG_PORT": str(free_port())}
    try:
        url = _run("postgres.sh", "start", env).splitlines()[-1]
        yield Postgres(env, url)
    finally:
        try:
            _run("postgres.sh", "stop", env)
        finally:
            shutil.rmtree(state, ignore_errors=True)
