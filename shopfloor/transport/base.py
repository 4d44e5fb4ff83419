"""The small surface the consumers need from an event log; Kafka and the embedded log both provide it.

`EventSource` is a group member that follows the log; `LogReader` replays chosen offset ranges (a
rebuild); `EventSink` appends.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol


class TopicPartition(NamedTuple):
    topic: str
    partition: int


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...] = field(default=())  # Kafka allows null header values
    timestamp_ms: int | None = None  # the log's timestamp (broker or producer clock), when known


AssignmentCallback = Callable[[set[TopicPartition]], Awaitable[None]]


class EventSource(Protocol):
    """A consumer with manual positions: the store, not the log, decides where reading resumes."""

    async def start(
        self, topics: Sequence[str], on_assign: AssignmentCallback, on_revoke: AssignmentCallback
    ) -> None: ...

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[Record]]: ...

    def seek(self, partition: TopicPartition, offset: int) -> None: ...

    async def commit(self, positions: dict[TopicPartition, int]) -> None: ...

    async def stop(self) -> None: ...

    def connected(self) -> bool: ...

    def lag(self) -> dict[TopicPartition, int]: ...


class LogReader(Protocol):
    """Reads chosen partitions between chosen offsets, outside any consumer group; commits nothing."""

    async def open(self, topics: Sequence[str]) -> dict[TopicPartition, int]:
        """Every partition of the topics with the first offset the log still holds; a missing topic
        is an error."""
        ...

    async def read(
        self, ranges: Mapping[TopicPartition, tuple[int, int]], timeout_ms: int, max_records: int
    ) -> list[Record]:
        """Records with `start <= offset < end` of their partition's range, in offset order per
        partition, at most `max_records`; waits up to `timeout_ms` when none is there yet."""
        ...

    async def close(self) -> None: ...


class EventSink(Protocol):
    async def send(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None = None,
        headers: Sequence[tuple[str, bytes | None]] = (),
    ) -> Awaitable[object] | None:
        """Queues a record; what it returns (if anything) settles when the log has taken it."""
        ...

    async def flush(self) -> None: ...
