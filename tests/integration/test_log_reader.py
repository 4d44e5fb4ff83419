"""The LogReader seam rebuilds and past views replay with, the same checks on Kafka and on the embedded
log: every partition from its first offset, only the partitions sought, from the offset sought
(backwards too), per-key order."""

from __future__ import annotations

import time
from collections import defaultdict

from shopfloor.transport.base import LogReader, Record, TopicPartition
from shopfloor.transport.kafka import KafkaReader, KafkaSink, ensure_topics
from shopfloor.transport.memory import MemoryLog, MemoryReader, MemorySink

PARTITIONS = 3
KEYS = [f"k{n}" for n in range(10)]
ROUNDS = 3


async def fill(sink: MemorySink | KafkaSink, topic: str) -> None:
    """ROUNDS records per key (value `key-round`), sent round by round."""
    for n in range(ROUNDS):
        for key in KEYS:
            await sink.send(topic, f"{key}-{n}".encode(), key.encode())
    await sink.flush()


async def test_memory_reader() -> None:
    log, topic = MemoryLog(PARTITIONS), "wms.inventory"
    await fill(MemorySink(log), topic)
    await check_reader(MemoryReader(log), topic)


async def test_kafka_reader(kafka: str) -> None:
    topic = f"t{time.time_ns()}.reader"
    await ensure_topics(kafka, [topic], PARTITIONS, {})
    sink = KafkaSink(kafka, {})
    await sink.start()
    try:
        await fill(sink, topic)
    finally:
        await sink.stop()
    await check_reader(KafkaReader(kafka, {}), topic)


async def read_until(reader: LogReader, count: int) -> list[Record]:
    """What the sought partitions yield, until `count` records came or nothing more does for 2 s."""
    out: list[Record] = []
    quiet = 0
    while len(out) < count and quiet < 10:
        batch = [
            r for records in (await reader.read(timeout_ms=200, max_records=100)).values() for r in records
        ]
        quiet = 0 if batch else quiet + 1
        out += batch
    return out


async def check_reader(reader: LogReader, topic: str) -> None:
    await reader.start()
    try:
        await check_reads(reader, topic)
    finally:
        await reader.stop()


async def check_reads(reader: LogReader, topic: str) -> None:
    partitions = await reader.partitions_for([topic])
    assert sorted(partitions) == [TopicPartition(topic, p) for p in range(PARTITIONS)]
    assert await reader.beginning_offsets(partitions) == dict.fromkeys(partitions, 0)
    ends = await reader.end_offsets(partitions)
    assert sum(ends.values()) == len(KEYS) * ROUNDS

    for tp in partitions:
        reader.seek(tp, 0)
    everything = await read_until(reader, len(KEYS) * ROUNDS)
    assert len(everything) == len(KEYS) * ROUNDS
    by_partition: dict[int, list[Record]] = defaultdict(list)
    for record in everything:
        by_partition[record.partition].append(record)
    for partition, records in by_partition.items():  # offsets run 0, 1, 2, ... up to the end offset
        assert [r.offset for r in records] == list(range(ends[TopicPartition(topic, partition)]))
    by_key: dict[bytes, list[bytes]] = defaultdict(list)
    for record in sorted(everything, key=lambda r: (r.partition, r.offset)):
        assert record.key is not None and record.value is not None
        by_key[record.key].append(record.value)
    assert by_key == {k.encode(): [f"{k}-{n}".encode() for n in range(ROUNDS)] for k in KEYS}

    partition, records = max(by_partition.items(), key=lambda item: len(item[1]))
    assert len(records) >= 4  # 30 records over 3 partitions: the fullest holds at least 10
    fullest = TopicPartition(topic, partition)
    for tp in partitions:
        reader.pause(tp)
    reader.seek(fullest, 2)  # backwards, and only this partition
    again = await read_until(reader, len(records) - 2)
    assert [(r.partition, r.offset, r.value) for r in again] == [
        (r.partition, r.offset, r.value) for r in records[2:]
    ]
    reader.pause(fullest)
    reader.seek(fullest, 1)
    [one] = (await reader.read(timeout_ms=5_000, max_records=1))[fullest]
    assert (one.offset, one.value) == (1, records[1].value)
    reader.pause(fullest)
    assert await read_until(reader, 1) == []  # everything paused: nothing is read


async def test_kafka_reader_lists_no_partitions_of_a_missing_topic(kafka: str) -> None:
    reader = KafkaReader(kafka, {})
    await reader.start()
    try:
        assert await reader.partitions_for([f"t{time.time_ns()}.missing"]) == []
    finally:
        await reader.stop()
