"""The store refusing writes (PostgreSQL database switched to read-only, sessions cut): the consumer
stops advancing without dead-lettering anything, /readyz says why, and it resumes once writes work."""

from __future__ import annotations

import httpx
import psycopg

from shopfloor.web.app import create_app
from tests.faults.processes import consumed
from tests.integration.harness import applied_total, projecting, wait_consumed
from tests.support import event, unique_settings, wait_until, wo


def _admin(url: str) -> psycopg.Connection:
    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)


def _cut_sessions(admin: psycopg.Connection, name: str) -> None:
    admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = %s AND pid <> pg_backend_pid()",
        (name,),
    )


async def test_read_only_store_pauses_then_resumes(kafka, producer, postgres, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from bench.common import fresh_postgres_database

    databases = fresh_postgres_database(postgres)
    url = next(databases)
    name = url.rsplit("/", 1)[1]
    settings = unique_settings(kafka, url)
    topic = settings.topic_work_orders
    admin = _admin(url)
    try:
        async with projecting(settings) as runtime:
            assert runtime.projector is not None
            client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=create_app(runtime)), base_url="http://t"
            )
            for n in range(20):
                await producer.event(
                    topic, f"WO-{n}", event("WorkOrderStatusChanged", wo(f"WO-{n}", "RELEASED"))
                )
            await wait_consumed(runtime, 20)
            admin.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
            _cut_sessions(admin, name)
            for n in range(20, 40):
                await producer.event(
                    topic, f"WO-{n}", event("WorkOrderStatusChanged", wo(f"WO-{n}", "RELEASED"))
                )
            await wait_until(lambda: not runtime.projector.status.store_ok, 30, "the store fault noticed")
            held = consumed(runtime.engine, settings.kafka_group_id)
            ready = await client.get("/readyz")
            assert ready.status_code == 503
            assert any(
                "store refuses writes" in p and "ReadOnlySqlTransaction" in p
                for p in ready.json()["problems"]
            )
            assert applied_total(runtime) == 20 and runtime.projector.status.dead == 0
            admin.execute(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
            _cut_sessions(admin, name)
            await wait_consumed(runtime, 40, timeout=60)
            assert runtime.projector.status.store_ok and runtime.projector.status.dead == 0
            assert (await client.get("/readyz")).status_code == 200
            assert consumed(runtime.engine, settings.kafka_group_id) > held
            await client.aclose()
    finally:
        admin.close()
        next(databases, None)
