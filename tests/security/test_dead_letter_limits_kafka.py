"""Records the dead-letter topic cannot take as they are: cut to fit, else parked; the line goes on.

Real broker: the plant topic allows 8 MB records (an operator raised `max.message.bytes`), the
dead-letter producer sends at most 2 MB and the broker's default limit for `.dlq` topics is 1 MiB.
"""

from __future__ import annotations

import httpx
from aiokafka import AIOKafkaProducer
from sqlalchemy import select

from shopfloor.store.dead_letters import DEAD
from shopfloor.web.app import create_app
from tests.integration.harness import projecting, wait_consumed
from tests.security.kafka_topics import create_topic, read_topic
from tests.support import encode, event, unique_settings, wo

BIG = 3_000_000
HEADERS = [("origin", b"plc-7"), ("null", None), ("binary", b"\xff\x00\xfe")]


async def _produce(kafka: str, records: list[tuple[str, bytes, list]]) -> None:  # type: ignore[type-arg]
    producer = AIOKafkaProducer(bootstrap_servers=kafka, max_request_size=8 << 20)
    await producer.start()
    try:
        for topic, value, headers in records:
            await producer.send_and_wait(topic, value, key=b"k", headers=headers)
    finally:
        await producer.stop()


def _orders(topic: str, count: int) -> list[tuple[str, bytes, list]]:  # type: ignore[type-arg]
    out = []
    for n in range(count):
        value, headers = encode(event("WorkOrderStatusChanged", wo(f"WO-AFTER-{n}", "RELEASED"), offset_s=n))
        out.append((topic, value, headers))
    return out


async def test_oversized_and_refused_dead_letters_are_cut_or_parked_and_the_line_goes_on(
    kafka, database_url
) -> None:  # type: ignore[no-untyped-def]
    settings = unique_settings(kafka, database_url)
    orders, sensors = settings.topic_work_orders, settings.topic_sensors
    await create_topic(kafka, orders, **{"max.message.bytes": str(8 << 20)})
    await create_topic(kafka, f"{sensors}.dlq", **{"max.message.bytes": "1"})  # refuses every record
    huge = b"{" + b"x" * BIG
    async with projecting(settings) as runtime:
        assert runtime.projector is not None
        await _produce(
            kafka, [(orders, huge, HEADERS), (sensors, b"not json", HEADERS), *_orders(orders, 10)]
        )
        await wait_consumed(runtime, 12)
        status = runtime.projector.status
        assert status.running and (status.applied, status.dead, status.parked) == (10, 2, 1)
        app = create_app(runtime)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            ready = (await client.get("/readyz")).json()
            assert ready["alerts"] == ["1 parked records: in the dead-letter table, not on their .dlq topic"]
            metrics = (await client.get("/metrics")).text
            assert f'shopfloor_parked_records_total{{topic="{sensors}"}} 1.0' in metrics
        with runtime.engine.connect() as conn:
            letters = {r.topic: r for r in conn.execute(select(DEAD))}
    assert letters[orders].status == "NEW" and letters[orders].value == huge  # the table keeps every byte
    assert letters[sensors].status == "PARKED" and "parked: " in letters[sensors].reason
    [copy] = await read_topic(kafka, f"{orders}.dlq")
    assert await read_topic(kafka, f"{sensors}.dlq") == []  # table rows = .dlq records + parked rows
    headers = dict(copy.headers)
    assert len(copy.value) <= settings.dead_letter_max_bytes and huge.startswith(copy.value)
    assert headers["dlq_truncated"].startswith(f"value cut from {len(huge)} to ".encode())
    assert [h for h in copy.headers if h[0] in ("origin", "null", "binary")] == HEADERS


async def test_a_dead_letter_over_the_producers_request_limit_goes_without_its_value(
    kafka, database_url
) -> None:  # type: ignore[no-untyped-def]
    settings = unique_settings(
        kafka, database_url, dead_letter_max_bytes=5_000_000
    )  # above the 2 MB producer
    orders = settings.topic_work_orders
    await create_topic(kafka, orders, **{"max.message.bytes": str(8 << 20)})
    async with projecting(settings) as runtime:
        assert runtime.projector is not None
        await _produce(kafka, [(orders, b"[" * BIG, [("null", None)]), *_orders(orders, 5)])
        await wait_consumed(runtime, 6)
        status = runtime.projector.status
        assert status.running and (status.applied, status.dead, status.parked) == (5, 1, 0)
    [copy] = await read_topic(kafka, f"{orders}.dlq")
    assert copy.value is None and dict(copy.headers)["dlq_value_dropped"].startswith(b"the log refused it")
