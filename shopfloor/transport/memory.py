"""The embedded event log: partitioned, ordered per key, in process. Lets `shopfloor demo` run alone."""

from __future__ import annotations

import asyncio
import contextlib
import time
import zlib
from collections import defaultdict
from collections.abc import Sequence

from shopfloor.transport.base import AssignmentCallback, Record, TopicPartition


class MemoryLog:
    """Append-only partitioned topics, shared by in-process producers and consumers."""

    def __init__(self, partitions: int = 4) -> None:
        self.partitions = partitions
        self._topics: dict[str, list[list[Record]]] = {}
        self._appended = asyncio.Event()

    def _partitions_of(self, topic: str) -> list[list[Record]]:
        if topic not in self._topics:
            self._topics[topic] = [[] for _ in range(self.partitions)]
        return self._topics[topic]

    def append(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None = None,
        headers: Sequence[tuple[str, bytes | None]] = (),
    ) -> Record:
        parts = self._partitions_of(topic)
        index = zlib.crc32(key) % len(parts) if key is not None else 0
        log = parts[index]
        record = Record(topic, index, len(log), key, value, tuple(headers), int(time.time() * 1000))
        log.append(record)
        self._appended.set()
        return record

    def read(self, tp: TopicPartition, offset: int, limit: int) -> list[Record]:
        log = self._partitions_of(tp.topic)[tp.partition]
        return log[offset : offset + limit]

    def end_offset(self, tp: TopicPartition) -> int:
        return len(self._partitions_of(tp.topic)[tp.partition])

    def partitions_for(self, topic: str) -> list[TopicPartition]:
        return [TopicPartition(topic, i) for i in range(len(self._partitions_of(topic)))]

    async def wait_for_append(self, timeout: float) -> None:
        self._appended.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._appended.wait(), timeout)


class MemorySource:
    """EventSource over a MemoryLog; owns every partition (a consumer group of one)."""

    def __init__(self, log: MemoryLog) -> None:
        self._log = log
        self._positions: dict[TopicPartition, int] = {}

    async def start(
        self, topics: Sequence[str], on_assign: AssignmentCallback, on_revoke: AssignmentCallback
    ) -> None:
        assigned = {tp for topic in topics for tp in self._log.partitions_for(topic)}
        self._positions = dict.fromkeys(assigned, 0)
        await on_assign(assigned)

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self._positions[partition] = offset

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[Record]]:
        batch = self._collect(max_records)
        if not batch:
            await self._log.wait_for_append(timeout_ms / 1000)
            batch = self._collect(max_records)
        return batch

    def _collect(self, max_records: int) -> dict[TopicPartition, list[Record]]:
        batch: dict[TopicPartition, list[Record]] = defaultdict(list)
        room = max_records
        for tp, position in self._positions.items():
            if room <= 0:
                break
            records = self._log.read(tp, position, room)
            if records:
                batch[tp] = records
                self._positions[tp] = position + len(records)
                room -= len(records)
        return dict(batch)

    async def commit(self, positions: dict[TopicPartition, int]) -> None:
        return None

    async def stop(self) -> None:
        return None

    def connected(self) -> bool:
        return True

    def progress(self) -> dict[TopicPartition, tuple[int, int]]:
        return {tp: (pos, self._log.end_offset(tp)) for tp, pos in self._positions.items()}


class MemoryReader:
    """LogReader over a MemoryLog: nothing is ever dropped, so every partition begins at 0."""

    def __init__(self, log: MemoryLog) -> None:
        self._log = log
        self._positions: dict[TopicPartition, int] = {}

    async def start(self) -> None:
        return None

    async def partitions_for(self, topics: Sequence[str]) -> list[TopicPartition]:
        return [tp for topic in topics for tp in self._log.partitions_for(topic)]

    async def beginning_offsets(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        return dict.fromkeys(partitions, 0)

    async def end_offsets(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: self._log.end_offset(tp) for tp in partitions}

    async def offsets_for_times(
        self, partitions: Sequence[TopicPartition], timestamp_ms: int
    ) -> dict[TopicPartition, int | None]:
        found: dict[TopicPartition, int | None] = {}
        for tp in partitions:
            records = self._log.read(tp, 0, self._log.end_offset(tp))
            found[tp] = next((r.offset for r in records if (r.timestamp_ms or 0) >= timestamp_ms), None)
        return found

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self._positions[partition] = offset

    def pause(self, partition: TopicPartition) -> None:
        self._positions.pop(partition, None)

    async def read(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[Record]]:
        batch: dict[TopicPartition, list[Record]] = {}
        room = max_records
        for tp, position in sorted(self._positions.items()):
            if room <= 0:
                break
            records = self._log.read(tp, position, room)
            if records:
                batch[tp] = records
                self._positions[tp] = position + len(records)
                room -= len(records)
        return batch

    async def stop(self) -> None:
        self._positions.clear()


class MemorySink:
    def __init__(self, log: MemoryLog) -> None:
        self._log = log

    async def send(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None = None,
        headers: Sequence[tuple[str, bytes | None]] = (),
    ) -> None:
        self._log.append(topic, value, key, headers)

    async def flush(self) -> None:
        return None
