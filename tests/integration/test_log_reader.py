"""The LogReader seam a rebuild replays with, the same checks on Kafka and on the embedded log: every
partition from its first offset, exactly the offset ranges asked for (backwards too), per-key order."""

from __future__ import annotations

import time
from collections import defaultdict

import pytest

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


async def read_all(
    reader: LogReader, ranges: dict[TopicPartition, tuple[int, int]], count: int
) -> list[Record]:
    out: list[Record] = []
    deadline = time.monotonic() + 30
    while len(out) < count and time.monotonic() < deadline:
        pending = {
            tp: (max([start] + [r.offset + 1 for r in out if r.partition == tp.partition]), end)
            for tp, (start, end) in ranges.items()
        }
        out += await reader.read(pending, timeout_ms=200, max_records=100)
    return out


async def check_reader(reader: LogReader, topic: str) -> None:
    try:
        await check_ranges(reader, topic)
    finally:
        await reader.close()


async def check_ranges(reader: LogReader, topic: str) -> None:
    first = await reader.open([topic])
    assert first == {TopicPartition(topic, p): 0 for p in range(PARTITIONS)}

    everything = await read_all(reader, {tp: (0, 1_000) for tp in first}, len(KEYS) * ROUNDS)
    assert len(everything) == len(KEYS) * ROUNDS
    by_partition: dict[int, list[Record]] = defaultdict(list)
    for record in everything:
        by_partition[record.partition].append(record)
    for records in by_partition.values():  # offsets run 0, 1, 2, ... in every partition
        assert [r.offset for r in records] == list(range(len(records)))
    by_key: dict[bytes, list[bytes]] = defaultdict(list)
    for record in sorted(everything, key=lambda r: (r.partition, r.offset)):
        assert record.key is not None and record.value is not None
        by_key[record.key].append(record.value)
    assert by_key == {k.encode(): [f"{k}-{n}".encode() for n in range(ROUNDS)] for k in KEYS}

    partition, records = max(by_partition.items(), key=lambda item: len(item[1]))
    assert len(records) >= 4  # 30 records over 3 partitions: the fullest holds at least 10
    tp = TopicPartition(topic, partition)
    middle = await read_all(reader, {tp: (1, 3)}, 2)
    assert [(r.offset, r.value) for r in middle] == [(r.offset, r.value) for r in records[1:3]]
    back = await read_all(reader, {tp: (0, 1)}, 1)  # behind where the last read stopped
    assert [(r.offset, r.value) for r in back] == [(0, records[0].value)]
    one = await reader.read({tp: (2, len(records))}, timeout_ms=5_000, max_records=1)
    assert [(r.offset, r.value) for r in one] == [(2, records[2].value)]
    assert await reader.read({tp: (3, 3)}, timeout_ms=200, max_records=10) == []


async def test_kafka_reader_refuses_a_missing_topic(kafka: str) -> None:
    reader = KafkaReader(kafka, {})
    try:
        with pytest.raises(RuntimeError, match="not found on the broker"):
            await reader.open([f"t{time.time_ns()}.missing"])
    finally:
        await reader.close()
