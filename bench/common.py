"""What every benchmark shares: services, settings, a real server process, events, statistics, files."""

from __future__ import annotations

import asyncio
import json
import math
import os
import platform
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from shopfloor.config import Settings
from shopfloor.events.codec import cloud_event, encode_structured
from shopfloor.live.notify_listener import libpq_dsn

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
DOCS = REPO / "docs"
CHROMIUM = os.environ.get("SHOPFLOOR_BENCH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Both measured pages must keep full-speed timers even when not in front.
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
]
QUIX_VERSION = "3.28.1"
QUIX_VENV = Path(os.environ.get("SHOPFLOOR_DEV_DIR", Path.home() / ".cache" / "shopfloor")) / "bench-quix"
STATUS_CYCLE = ("RELEASED", "IN_PROGRESS", "ON_HOLD", "IN_PROGRESS", "COMPLETED", "PLANNED")


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- services -----------------------------------------------------------------------------------


@dataclass
class Services:
    kafka: str
    postgres: str
    created_dbs: list[str] = field(default_factory=list)

    def fresh_postgres(self, prefix: str) -> str:
        """A new empty PostgreSQL database (dropped again by `cleanup`)."""
        name = f"bench_{prefix}_{uuid.uuid4().hex[:8]}"
        url = _script("postgres.sh", "createdb", name).strip().splitlines()[-1]
        self.created_dbs.append(name)
        return url

    def cleanup(self) -> None:
        for name in self.created_dbs:
            try:
                _script("postgres.sh", "dropdb", name)
            except subprocess.CalledProcessError as exc:
                log(f"could not drop database {name}: {exc}")
        self.created_dbs.clear()


def _script(name: str, *args: str) -> str:
    result = subprocess.run(
        ["bash", str(REPO / "dev" / name), *args], check=True, capture_output=True, text=True, cwd=REPO
    )
    return result.stdout


def start_services() -> Services:
    """Kafka and PostgreSQL through the repository scripts (idempotent; never stopped by us)."""
    _script("kafka.sh", "start")
    _script("postgres.sh", "start")
    kafka = _script("kafka.sh", "bootstrap").strip().splitlines()[-1]
    postgres = _script("postgres.sh", "url").strip().splitlines()[-1]
    return Services(kafka=kafka, postgres=postgres)


def raise_fd_limit() -> int:
    """Thousands of sockets need more than the usual 1,024 descriptors; children inherit this."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def bench_settings(kafka: str, database_url: str, **overrides: Any) -> Settings:
    """Settings with topics and a consumer group of their own (the broker is shared)."""
    tag = uuid.uuid4().hex[:8]
    values: dict[str, Any] = {
        "kafka_bootstrap_servers": kafka,
        "database_url": database_url,
        "kafka_group_id": f"bench-{tag}",
        "kafka_topic_partitions": 3,
        # Every topic, so a topic added later cannot bring another run's events into this one.
        **{
            name: f"b{tag}.{field.default}"
            for name, field in Settings.model_fields.items()
            if name.startswith("topic_")
        },
        # Every simulated screen of a benchmark connects from 127.0.0.1; the per-address stream cap
        # is for real plants, where screens have addresses of their own.
        "streams_per_client": 5000,
    }
    values.update(overrides)
    return Settings(**values)


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment of a server process: this checkout's code (whatever `pip install -e` points
    at) and the settings as SHOPFLOOR_* variables."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    for name, value in settings.model_dump().items():
        if value is not None:
            env[f"SHOPFLOOR_{name.upper()}"] = str(value)
    return env


def fresh_postgres_database(base_url: str, prefix: str = "test") -> Iterator[str]:
    """A new database on the running PostgreSQL server for the caller's while, then dropped."""
    import psycopg

    admin = libpq_dsn(base_url)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    head, _, _ = base_url.rpartition("/")
    try:
        yield f"{head}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            for attempt in range(20):
                try:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                    break
                except psycopg.errors.InsufficientPrivilege:
                    # An autovacuum worker on the database has no role a non-superuser may terminate,
                    # so FORCE refuses while it runs; it finishes within moments.
                    if attempt == 19:
                        raise
                    time.sleep(0.5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    url: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid


@contextmanager
def started_process(
    argv: list[str], env: dict[str, str], workdir: Path, log_path: Path, stop: int = signal.SIGTERM
) -> Iterator[subprocess.Popen[bytes]]:
    """A process writing to `log_path`, sent `stop` on the way out and killed if it does not end."""
    with log_path.open("w") as log_file:
        process = subprocess.Popen(argv, env=env, stdout=log_file, stderr=subprocess.STDOUT, cwd=workdir)
        try:
            yield process
        finally:
            process.send_signal(stop)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def running_server(
    settings: Settings, workdir: Path, timeout: float = 90, command: str = "serve"
) -> Iterator[Server]:
    """A real `shopfloor serve` process (web + projector), or with `command="web"` a web replica fed
    by PostgreSQL NOTIFY, auth off on loopback."""
    ensure_browser_assets()  # a server serves pages too, and refuses to start without their assets
    port = free_port()
    env = settings_env(settings)
    env.update(SHOPFLOOR_PORT=str(port), SHOPFLOOR_HOST="127.0.0.1", SHOPFLOOR_AUTH="off")
    log_path = workdir / f"server-{port}.log"
    argv = [sys.executable, "-m", "shopfloor", command, "--log-level", "warning"]
    profile_dir = os.environ.get("SHOPFLOOR_BENCH_PYSPY")  # a profiling aid: py-spy samples the server
    if profile_dir:
        out = Path(profile_dir) / f"server-{time.strftime('%H%M%S')}-{port}.txt"
        argv = ["py-spy", "record", "-r", "200", "-f", "raw", "--threads", "-o", str(out), "--", *argv]
    stop = signal.SIGINT if profile_dir else signal.SIGTERM  # py-spy writes its profile on SIGINT
    with started_process(argv, env, workdir, log_path, stop) as process:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(process, url, log_path, timeout)
        yield Server(url, port, process, log_path)


def wait_healthy(process: subprocess.Popen[bytes], url: str, log_path: Path, timeout: float) -> None:
    """Until the server's /healthz answers; the end of its log if it exits or never does."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited: {log_path.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{process.args!r} did not start: {log_path.read_text()[-3000:]}")
        time.sleep(0.2)


@contextmanager
def running_projector(settings: Settings, workdir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A real `shopfloor project` process: the consumers alone, telling web replicas of each commit
    by PostgreSQL NOTIFY. It serves no HTTP, so no readiness to wait for: its log is in `workdir`."""
    argv = [sys.executable, "-m", "shopfloor", "project", "--log-level", "warning"]
    log_path = workdir / f"projector-{uuid.uuid4().hex[:6]}.log"
    with started_process(argv, settings_env(settings), workdir, log_path) as process:
        yield process


def wait_ready(url: str, timeout: float = 60) -> None:
    """Until /readyz says the consumers run and are caught up."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            response = httpx.get(f"{url}/readyz", timeout=2)
            if response.status_code == 200:
                return
            last = response.text[:300]
        except httpx.HTTPError as exc:
            last = str(exc)
        time.sleep(0.3)
    raise RuntimeError(f"server not ready after {timeout}s: {last}")


def histogram_quantiles(
    metrics_text: str, name: str, labels: dict[str, str] | None = None
) -> dict[str, float | int | None]:
    """p50/p99/max (ms, upper bucket bounds) and count of a Prometheus histogram scraped from /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    buckets: list[tuple[float, float]] = []
    for family in text_string_to_metric_families(metrics_text):
        if family.name != name:
            continue
        for sample in family.samples:
            if sample.name.endswith("_bucket") and all(
                sample.labels.get(k) == v for k, v in (labels or {}).items()
            ):
                buckets.append((float(sample.labels["le"]), sample.value))
    buckets.sort()
    total = buckets[-1][1] if buckets else 0
    result: dict[str, float | int | None] = {"count": int(total)}
    for q in (50, 99, 100):
        bound = next((le for le, n in buckets if total and n >= total * q / 100), None)
        result["max_le_ms" if q == 100 else f"p{q}_le_ms"] = None if bound is None else bound * 1000
    return result


def sample_total(metrics_text: str, sample: str, labels: dict[str, str] | None = None) -> float:
    """The sum over labels of one sample of a scraped /metrics (e.g. a histogram's `_count`), of those
    carrying `labels` if given."""
    from prometheus_client.parser import text_string_to_metric_families

    wanted = (labels or {}).items()
    families = text_string_to_metric_families(metrics_text)
    return sum(
        s.value
        for family in families
        for s in family.samples
        if s.name == sample and all(s.labels.get(k) == v for k, v in wanted)
    )


def rss_bytes(pid: int) -> int:
    import psutil

    return int(psutil.Process(pid).memory_info().rss)


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU the processes have used so far (a gone process counts 0)."""
    import psutil

    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


# --- events -------------------------------------------------------------------------------------


def now() -> datetime:
    return datetime.now(UTC)


def epoch_ms(event: dict[str, Any]) -> float:
    """The event's `time` attribute (what latency is measured from) as epoch milliseconds."""
    return datetime.fromisoformat(event["time"].replace("Z", "+00:00")).timestamp() * 1000


def work_order_event(
    order: str, status: str, sequence: int, *, line: str | None = None, at: datetime | None = None
) -> dict[str, Any]:
    data: dict[str, Any] = {"work_order_id": order, "status": status}
    if line is not None:
        data.update(line_id=line, product=f"P-{sequence % 7}", quantity_planned=100)
    return cloud_event(
        "WorkOrderStatusChanged", data, source="bench/mes", time=at or now(), sequence=sequence
    )


def equipment_event(
    equipment: str, status: str, line: str, reason: str | None = None, at: datetime | None = None
) -> dict[str, Any]:
    data = {"equipment_id": equipment, "status": status, "line_id": line}
    if reason is not None:
        data["reason"] = reason
    return cloud_event("EquipmentStatusChanged", data, source="bench/scada", time=at or now())


def sensor_event(equipment: str, sensor: str, value: float, at: datetime | None = None) -> dict[str, Any]:
    data = {"equipment_id": equipment, "sensor": sensor, "value": value, "unit": "u"}
    return cloud_event("SensorReading", data, source="bench/iot", time=at or now())


def inventory_event(sku: str, location: str, delta: int, at: datetime | None = None) -> dict[str, Any]:
    reason = "RECEIPT" if delta > 0 else "PICK"
    data = {"sku": sku, "location": location, "delta": delta, "reason": reason, "warehouse": "W1"}
    return cloud_event("InventoryAdjusted", data, source="bench/wms", time=at or now())


class Producer:
    """An aiokafka producer for bench traffic: many sends in flight, flushed in groups."""

    def __init__(self, bootstrap: str, linger_ms: int = 5) -> None:
        """`linger_ms=0` for timed single events (a status change goes out at once)."""
        self._bootstrap = bootstrap
        self._linger_ms = linger_ms
        self._pending: list[asyncio.Future[Any]] = []

    async def __aenter__(self) -> Producer:
        from aiokafka import AIOKafkaProducer

        self._producer = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap, linger_ms=self._linger_ms, max_batch_size=512 * 1024, acks=1
        )
        await self._producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.flush()
        await self._producer.stop()

    async def send(self, topic: str, key: str, event: dict[str, Any]) -> None:
        value, headers = encode_structured(event)
        self._pending.append(await self._producer.send(topic, value, key=key.encode(), headers=headers))
        if len(self._pending) >= 5000:
            await self.flush()

    async def send_now(self, topic: str, key: str, event: dict[str, Any]) -> None:
        value, headers = encode_structured(event)
        await self._producer.send_and_wait(topic, value, key=key.encode(), headers=headers)

    async def flush(self) -> None:
        pending, self._pending = self._pending, []
        if pending:
            await asyncio.gather(*pending)


async def ensure_topics(bootstrap: str, topics: Sequence[str], partitions: int = 3) -> None:
    from shopfloor.transport.kafka import ensure_topics as ensure

    await ensure(bootstrap, list(topics), partitions, {})


# --- browser ------------------------------------------------------------------------------------


@asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    """Debian's Chromium driven by Playwright (never a downloaded browser build)."""
    from playwright.async_api import async_playwright

    if not await asyncio.to_thread(os.path.exists, CHROMIUM):
        raise RuntimeError(f"Chromium not found at {CHROMIUM}; install it with `apt-get install chromium`")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


def ensure_browser_assets() -> None:
    if not (REPO / "node_modules" / "htmx.org").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=REPO, check=True)


# --- helper processes ---------------------------------------------------------------------------


def bench_process(module: str, *args: str, python: str | None = None) -> subprocess.Popen[str]:
    """`python -m bench.<module> ...` with line-oriented stdin/stdout for coordination."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.Popen(
        [python or sys.executable, "-m", f"bench.{module}", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=env,
    )


def read_line(process: subprocess.Popen[str], timeout: float, what: str) -> str:
    """The next stdout line of a helper, or an error if it dies or takes too long."""
    import selectors

    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if selector.select(timeout=0.5):
                line = process.stdout.readline()
                if line:
                    return line.strip()
                raise RuntimeError(f"{what}: helper exited with {process.wait()}")
        raise RuntimeError(f"{what}: no answer after {timeout}s")
    finally:
        selector.close()


def stop_process(process: subprocess.Popen[str], timeout: float = 10) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- statistics and files -----------------------------------------------------------------------


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return float(ordered[rank - 1])


def summarize(values: Sequence[float]) -> dict[str, float | int]:
    ordered = sorted(values)
    if not ordered:
        return {"n": 0}
    return {
        "n": len(ordered),
        "p50": round(statistics.median(ordered), 2),
        "p95": round(percentile(ordered, 95), 2),
        "p99": round(percentile(ordered, 99), 2),
        "max": round(ordered[-1], 2),
        "min": round(ordered[0], 2),
        "mean": round(statistics.fmean(ordered), 2),
    }


def median_round(
    results: Sequence[dict[str, Any]], p99: Callable[[dict[str, Any]], float | None], missed: str
) -> dict[str, Any]:
    """Of a level measured in several rounds, the round whose p99 is the median (one that missed a
    delivery, or has no p99, counts as the slowest), with every round's p99 and misses in run order
    and the other rounds' own results, so each bracketed figure can be derived again from the raw
    results. `missed` names the round's count of deliveries never made."""
    ranked = sorted(
        results,
        key=lambda r: (r[missed] > 0 or p99(r) is None, math.inf if p99(r) is None else p99(r)),
    )
    median = ranked[len(ranked) // 2]  # of an even count, the slower of the two middle ones
    return {
        **median,
        "rounds_p99": [p99(r) for r in results],
        "rounds_missed": [r[missed] for r in results],
        "other_rounds": [r for r in results if r is not median],
    }


def write_result(name: str, data: dict[str, Any], *, stamp: str) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{stamp}-{name}.json"
    path.write_text(json.dumps(data, indent=2, default=str))
    return path


def machine(postgres_url: str) -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory_kb = int(line.split()[1])
    except OSError:
        pass

    def version(command: list[str]) -> str:
        try:
            out = subprocess.run(command, capture_output=True, text=True, timeout=20)
            return (out.stdout or out.stderr).strip().splitlines()[0]
        except (OSError, subprocess.SubprocessError, IndexError):
            return "unknown"

    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    packages = {}
    for name in ("aiokafka", "fastapi", "uvicorn", "sqlalchemy", "psycopg", "playwright"):
        try:
            packages[name] = package_version(name)
        except PackageNotFoundError:
            packages[name] = "missing"
    commit = version(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no", "--", "shopfloor"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return {
        "commit": commit + (" with uncommitted changes in shopfloor/" if dirty else ""),
        "nproc": os.cpu_count(),
        "memory_gib": round(memory_kb / 1024 / 1024, 1),
        "cpu": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": __import__("sqlite3").sqlite_version,
        "postgresql": _postgres_version(postgres_url),
        "kafka": _kafka_version(),
        "chromium": version([CHROMIUM, "--version"]),
        "quixstreams": QUIX_VERSION,
        "packages": packages,
        "load_average": os.getloadavg(),
    }


def _postgres_version(url: str) -> str:
    import psycopg

    try:
        with psycopg.connect(libpq_dsn(url), connect_timeout=5) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            return f"PostgreSQL {row[0]}" if row else "PostgreSQL"
    except psycopg.Error:
        return "PostgreSQL (version unknown)"


def _kafka_version() -> str:
    try:
        text = (REPO / "dev" / "kafka" / "pom.xml").read_text()
        start = text.index("<kafka.version>") + len("<kafka.version>")
        return "Apache Kafka " + text[start : text.index("<", start)]
    except (OSError, ValueError):
        return "Apache Kafka (version unknown)"


def sensor_load(kafka: str, settings: Any, rate: int, duration: float | None = None) -> subprocess.Popen[str]:
    """Background sensor traffic at `rate` events/s from its own process (bench/load.py)."""
    args = [
        "--bootstrap",
        kafka,
        "--sensor-topic",
        settings.topic_sensors,
        "--equipment-topic",
        settings.topic_equipment,
        "--rate",
        str(rate),
    ]
    if duration is not None:
        args += ["--duration", str(duration)]
    return bench_process("load", *args)


def stop_sensor_load(load: subprocess.Popen[str]) -> dict[str, Any]:
    """Stop the background sensor producer; what it reports it sent (or why there is no report)."""
    if load.poll() is None and load.stdin is not None:
        load.stdin.write("quit\n")
        load.stdin.flush()
    try:
        report: dict[str, Any] = json.loads(read_line(load, 30, "sensor producer report"))
    except (RuntimeError, ValueError) as exc:
        report = {"error": str(exc)}
    stop_process(load)
    return report
