"""Fixtures for the real components: Kafka, PostgreSQL and Chromium. Missing ones fail, never skip."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bench.common import fresh_postgres_database
from shopfloor.events.codec import encode_binary, encode_structured
from shopfloor.live.notify_listener import libpq_dsn
from shopfloor.transport.kafka import KafkaSink
from tests.support import REPO


def _clone_ports() -> dict[str, str]:
    """The ports dev/kafka.sh and dev/postgres.sh picked for this clone (dev/env.sh), once they ran."""
    digest = hashlib.sha256(str(REPO).encode()).hexdigest()[:8]
    state = Path(os.environ.get("SHOPFLOOR_DEV_DIR") or f"/var/tmp/shopfloor-{os.getuid()}-{digest}")
    ports = state / "ports.env"
    if not ports.exists():
        return {}
    return dict(line.split("=", 1) for line in ports.read_text().split() if "=" in line)


PORTS = _clone_ports()
KAFKA = os.environ.get("SHOPFLOOR_TEST_KAFKA", f"127.0.0.1:{PORTS.get('KAFKA_PORT', '9092')}")
POSTGRES = os.environ.get(
    "SHOPFLOOR_TEST_POSTGRES",
    f"postgresql+psycopg://shopfloor:shopfloor@127.0.0.1:{PORTS.get('PG_PORT', '55432')}/shopfloor",
)
CHROMIUM = os.environ.get("SHOPFLOOR_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
async def kafka() -> str:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA, request_timeout_ms=5000)
    try:
        await asyncio.wait_for(admin.start(), 15)
        await admin.list_topics()
    except Exception as exc:
        pytest.fail(f"Kafka is not reachable at {KAFKA} ({exc!r}); start it with `bash dev/kafka.sh start`")
    finally:
        await admin.close()
    return KAFKA


@pytest.fixture(scope="session")
def postgres() -> str:
    try:
        with psycopg.connect(libpq_dsn(POSTGRES), connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {POSTGRES} ({exc}); start it with `bash dev/postgres.sh start`"
        )
    return POSTGRES


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Every store-facing test runs on SQLite and on PostgreSQL, each in a fresh database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
    else:
        yield from fresh_postgres_database(request.getfixturevalue("postgres"))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
async def producer(kafka: str) -> AsyncIterator[Producer]:
    sink = KafkaSink(kafka, {})
    await sink.start()
    yield Producer(sink)
    await sink.stop()


class Producer:
    """Produces CloudEvents (structured or binary mode) or raw bytes to the real broker."""

    def __init__(self, sink: KafkaSink) -> None:
        self.sink = sink

    async def event(self, topic: str, key: str, event: dict[str, Any], binary: bool = False) -> None:
        value, headers = (encode_binary if binary else encode_structured)(event)
        await self.sink.send_and_wait(topic, value, key.encode(), headers)

    async def raw(
        self, topic: str, key: str | None, value: bytes | None, headers: list[tuple[str, bytes]] | None = None
    ) -> None:
        await self.sink.send_and_wait(topic, value, key.encode() if key else None, headers or [])


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}; install it with `apt-get install chromium` (dev/setup.sh)"
        )
    return CHROMIUM


@pytest.fixture(scope="session")
async def session_browser(chromium_path: str) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@pytest.fixture
async def browser(session_browser: Any) -> AsyncIterator[Any]:
    """The session's Chromium, with whatever pages a test left open closed after it: pages left on
    stopped servers keep reconnecting and blinking their offline dots (two such pages kept Chromium
    at 80 % of a core for the rest of the run)."""
    yield session_browser
    for context in list(session_browser.contexts):
        await context.close()


@pytest.fixture(scope="session", autouse=True)
def browser_assets() -> None:
    if not all(
        (REPO / "node_modules" / name).is_dir() for name in ("htmx.org", "swagger-ui-dist", "@asyncapi")
    ):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=REPO, check=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test with a page in Chromium runs alone (`dev/test.sh` gives the rest two workers): what a
    page shows, a connection state or a fading highlight, has timing in it."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.alone)


FIGURES: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """What passing tests print are measured figures (latencies, rates): kept for the summary."""
    if report.when == "call" and report.passed and report.capstdout:
        FIGURES.extend(
            f"{report.nodeid}: {line.strip()}" for line in report.capstdout.splitlines() if line.strip()
        )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section("figures measured by the tests")
        for line in FIGURES:
            terminalreporter.write_line(line)
