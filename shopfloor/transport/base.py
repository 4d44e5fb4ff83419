"""The small surface the consumers need from an event log; Kafka and the embedded log both provide it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import NamedTuple, Protocol

import msgspec


class TopicPartition(NamedTuple):
    topic: str
    partition: int


class Record(msgspec.Struct, frozen=True, gc=False):
    """Untracked by the garbage collector (it holds no references that could form a cycle): the
    embedded log keeps every record for the life of the process, and tracked, each full collection
    walked all of them (a day of `shopfloor demo` is millions)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...] = ()  # Kafka allows null header values
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

    def progress(self) -> dict[TopicPartition, tuple[int, int]]:
        """Per assigned partition: the position reading has reached and the log's end, as last heard."""
        ...


class LogReader(Protocol):
    """Reads chosen partitions outside any consumer group, between offsets the caller picks: how past
    states are replayed from the retained log. Offsets follow Kafka's: the end offset is the next
    record's, the beginning offset the oldest record still retained."""

    async def start(self) -> None: ...

    async def partitions_for(self, topics: Sequence[str]) -> list[TopicPartition]: ...

    async def beginning_offsets(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]: ...

    async def end_offsets(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]: ...

    async def offsets_for_times(
        self, partitions: Sequence[TopicPartition], timestamp_ms: int
    ) -> dict[TopicPartition, int | None]:
        """Per partition, the first offset whose log timestamp is at or after `timestamp_ms` (None: none)."""
        ...

    def seek(self, partition: TopicPartition, offset: int) -> None:
        """Reads `partition` from `offset` on; only partitions sought are read."""
        ...

    async def read(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[Record]]: ...

    def pause(self, partition: TopicPartition) -> None:
        """Stops reading `partition` (until sought again)."""
        ...

    async def stop(self) -> None: ...


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
