"""The embedded event log: partitioned, ordered per key, in process. Lets `shopfloor demo` run alone."""

from __future__ import annotations

import asyncio
import contextlib
import time
import zlib
from collections import defaultdict
from collections.abc import Mapping, Sequence

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

    def lag(self) -> dict[TopicPartition, int]:
        return {tp: self._log.end_offset(tp) - pos for tp, pos in self._positions.items()}


class MemoryReader:
    """LogReader over a MemoryLog: a rebuild in the `shopfloor demo` process replays with it."""

    def __init__(self, log: MemoryLog) -> None:
        self._log = log

    async def open(self, topics: Sequence[str]) -> dict[TopicPartition, int]:
        return {tp: 0 for topic in topics for tp in self._log.partitions_for(topic)}

    async def read(
        self, ranges: Mapping[TopicPartition, tuple[int, int]], timeout_ms: int, max_records: int
    ) -> list[Record]:
        records = self._collect(ranges, max_records)
        if not records:
            await self._log.wait_for_append(timeout_ms / 1000)
            records = self._collect(ranges, max_records)
        return records

    def _collect(self, ranges: Mapping[TopicPartition, tuple[int, int]], max_records: int) -> list[Record]:
        out: list[Record] = []
        for tp, (start, end) in ranges.items():
            room = min(end - start, max_records - len(out))
            if room > 0:
                out += self._log.read(tp, start, room)
        return out

    async def close(self) -> None:
        return None


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
