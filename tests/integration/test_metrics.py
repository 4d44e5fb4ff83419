"""/metrics scraped from a real `shopfloor serve` consuming from Kafka, with a live SSE client connected.

Every operational figure must be there with the right labels: consumer lag per partition, batch
sizes, commit time, connected SSE clients, event->push latency; and the gaps filled since: dead
letters, rebalances and their duration, assigned partitions.
"""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support import event, running_server, unique_settings, wait_until, wo


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def _ready(client: httpx.AsyncClient) -> bool:
    return (await client.get("/readyz")).status_code == 200


async def test_metrics_after_a_batch_and_a_push(kafka, producer, sqlite_url) -> None:  # type: ignore[no-untyped-def]
    settings = unique_settings(kafka, sqlite_url, kafka_topic_partitions=2)
    topic = settings.topic_work_orders
    with running_server(settings) as url:
        async with (
            httpx.AsyncClient(base_url=url, timeout=30) as client,
            client.stream("GET", "/sse/work-orders") as stream,
        ):
            await wait_until(
                lambda: _ready(client), 30, "the consumer running (topics created, partitions assigned)"
            )
            lines = stream.aiter_lines()
            async for line in lines:  # the status frame: this client is subscribed
                if line.startswith("event: status"):
                    break
            await producer.event(topic, "WO-M", event("WorkOrderStatusChanged", wo("WO-M", "RELEASED")))
            await producer.raw(topic, "WO-BAD", b"not a cloud event")
            async for line in lines:
                if line.startswith("event: patch"):
                    break

            async def scraped() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
                response = await client.get("/metrics")
                assert response.status_code == 200
                return _samples(response.text)

            async def lag_reported() -> bool:
                samples = await scraped()
                return (
                    all(
                        (("shopfloor_consumer_lag", (("partition", str(p)), ("topic", topic)))) in samples
                        for p in (0, 1)
                    )
                    and _value(samples, "shopfloor_dead_letters_total", topic=topic) == 1
                    # the dead letter's own batch recorded (its .dlq copy is counted before it commits)
                    and _value(samples, "shopfloor_events_total", outcome="dead_letter") == 1
                )

            await wait_until(lag_reported, 30, "lag per partition and the dead letter's batch on /metrics")
            samples = await scraped()

    assert _value(samples, "shopfloor_consumer_lag", topic=topic, partition="0") == 0
    assert _value(samples, "shopfloor_sse_clients", view="work-orders") == 1
    assert _value(samples, "shopfloor_batch_size_count") >= 1
    assert _value(samples, "shopfloor_batch_size_sum") >= 2
    assert _value(samples, "shopfloor_batch_commit_seconds_count") >= 1
    assert _value(samples, "shopfloor_event_to_commit_seconds_count") >= 1
    assert _value(samples, "shopfloor_event_to_push_seconds_count", view="work-orders") >= 1
    assert _value(samples, "shopfloor_events_total", outcome="applied") >= 1
    assert _value(samples, "shopfloor_events_total", outcome="dead_letter") == 1
    assert _value(samples, "shopfloor_consumer_rebalances_total") >= 1
    assert _value(samples, "shopfloor_consumer_rebalance_seconds_count") >= 1
    # every topic's partitions (plant topics and their .dlq), so count those of this test's topic only
    assert _value(samples, "shopfloor_consumer_assigned_partitions") >= 2
