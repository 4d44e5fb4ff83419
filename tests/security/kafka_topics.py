"""Creating topics with their own limits, and reading a whole topic back, on the real broker."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic


async def create_topic(kafka: str, name: str, partitions: int = 3, **configs: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1, topic_configs=configs)])
    finally:
        await admin.close()


async def read_topic(kafka: str, topic: str, timeout: float = 30) -> list[Any]:
    """Every record now on `topic` (all partitions), in partition and offset order."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 << 20,
    )
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or None  # unknown until metadata has it
        deadline = asyncio.get_running_loop().time() + timeout
        while partitions is None:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"topic {topic} not found")
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or None
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        assert tps, f"topic {topic} has no partitions"
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        found: list[Any] = []
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"could not read {topic} to its end")
            for messages in (await consumer.getmany(timeout_ms=500)).values():
                found.extend(messages)
        return sorted(found, key=lambda m: (m.partition, m.offset))
    finally:
        await consumer.stop()
