"""aiokafka adapters: a group consumer whose positions come from the store, and a producer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka import TopicPartition as KafkaTP
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from shopfloor.transport.base import AssignmentCallback, Record, TopicPartition

log = logging.getLogger(__name__)


def _ours(tps: Any) -> set[TopicPartition]:
    return {TopicPartition(tp.topic, tp.partition) for tp in tps}


class _Listener(ConsumerRebalanceListener):
    def __init__(self, on_assign: AssignmentCallback, on_revoke: AssignmentCallback) -> None:
        self._on_assign = on_assign
        self._on_revoke = on_revoke

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self._on_revoke(_ours(revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        await self._on_assign(_ours(assigned))


def record_of(message: Any) -> Record:
    """An aiokafka ConsumerRecord as ours, with the log's timestamp (ms) when the broker gave one."""
    timestamp = message.timestamp if isinstance(message.timestamp, int) and message.timestamp >= 0 else None
    return Record(
        message.topic,
        message.partition,
        message.offset,
        message.key,
        message.value,
        tuple(message.headers or ()),
        timestamp,
    )


class KafkaSource:
    """A consumer-group member with auto-commit off; Kafka's committed offsets are only for lag tools."""

    def __init__(
        self,
        bootstrap_servers: str,
        group_id: str,
        client_options: dict[str, Any],
        session_timeout_ms: int = 10_000,
    ) -> None:
        self._options = dict(
            bootstrap_servers=bootstrap_servers,
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=4 * 1024 * 1024,
            fetch_max_wait_ms=50,
            session_timeout_ms=session_timeout_ms,
            heartbeat_interval_ms=min(2_000, session_timeout_ms // 3),
            **client_options,
        )
        self._last_ok = 0.0

    async def start(
        self, topics: Sequence[str], on_assign: AssignmentCallback, on_revoke: AssignmentCallback
    ) -> None:
        """aiokafka clients must be created on the running loop, so creation waits until here."""
        self._consumer = AIOKafkaConsumer(**self._options)
        await self._consumer.start()
        self._consumer.subscribe(list(topics), listener=_Listener(on_assign, on_revoke))
        self._last_ok = asyncio.get_running_loop().time()

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[Record]]:
        fetched = await self._consumer.getmany(timeout_ms=timeout_ms, max_records=max_records)
        batch: dict[TopicPartition, list[Record]] = {}
        for tp, messages in fetched.items():
            batch[TopicPartition(tp.topic, tp.partition)] = [record_of(m) for m in messages]
        if batch:
            self._last_ok = asyncio.get_running_loop().time()
        return batch

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self._consumer.seek(KafkaTP(partition.topic, partition.partition), offset)

    def seek_to_beginning(self, partition: TopicPartition) -> None:
        self._consumer.seek(KafkaTP(partition.topic, partition.partition), 0)

    async def commit(self, positions: dict[TopicPartition, int]) -> None:
        try:
            assigned = self._consumer.assignment()
            offsets = {KafkaTP(tp.topic, tp.partition): off for tp, off in positions.items()}
            offsets = {tp: off for tp, off in offsets.items() if tp in assigned}
            if offsets:
                await self._consumer.commit(offsets)
        except KafkaError as exc:  # secondary bookkeeping only; the store holds the truth
            log.debug("kafka offset commit skipped: %s", exc)

    async def probe(self, timeout: float = 3.0) -> bool:
        """Ask the broker for metadata of our topics; remembers the answer for `connected`.

        Only the subscribed topics: metadata for every topic of a busy broker (thousands) takes tens
        of milliseconds to decode on the event loop, which every live page would feel.
        """
        try:
            if not await asyncio.wait_for(self._consumer._client.force_metadata_update(), timeout):
                return False
        except (TimeoutError, KafkaError, OSError):
            return False
        self._last_ok = asyncio.get_running_loop().time()
        return True

    def connected(self) -> bool:
        return asyncio.get_running_loop().time() - self._last_ok < 10.0

    def progress(self) -> dict[TopicPartition, tuple[int, int]]:
        result: dict[TopicPartition, tuple[int, int]] = {}
        for tp in self._consumer.assignment():
            high = self._consumer.highwater(tp)
            last = self._consumer.last_stable_offset(tp)
            try:
                state = self._consumer._subscription.subscription.assignment.state_value(tp)
                position = state.position if state.has_valid_position else None  # else it asserts
            except (AttributeError, KeyError):
                position = None
            end = high if high is not None else last
            if end is not None and position is not None:
                result[TopicPartition(tp.topic, tp.partition)] = (position, max(end, position))
        return result

    async def stop(self) -> None:
        await self._consumer.stop()


class KafkaReader:
    """LogReader on a consumer outside any group: every partition of the topics asked for is
    assigned and paused; `seek` resumes one from an offset, `pause` stops it again."""

    def __init__(self, bootstrap_servers: str, client_options: dict[str, Any]) -> None:
        self._options = dict(
            bootstrap_servers=bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=4 * 1024 * 1024,
            fetch_max_wait_ms=50,
            **client_options,
        )

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(**self._options)
        await self._consumer.start()

    async def partitions_for(self, topics: Sequence[str]) -> list[TopicPartition]:
        existing = await self._consumer.topics()  # a topic not created yet has no partitions (and no past)
        found: list[TopicPartition] = []
        for topic in topics:
            if topic in existing:
                await self._consumer._client._wait_on_metadata(topic)  # partitions_for_topic reads this cache
                found += [
                    TopicPartition(topic, p) for p in sorted(self._consumer.partitions_for_topic(topic) or ())
                ]
        ours = [KafkaTP(tp.topic, tp.partition) for tp in found]
        self._consumer.assign(ours)
        self._consumer.pause(*ours)
        return found

    async def beginning_offsets(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        got = await self._consumer.beginning_offsets([KafkaTP(*tp) for tp in partitions])
        return {TopicPartition(tp.topic, tp.partition): offset for tp, offset in got.items()}

    async def end_offsets(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        got = await self._consumer.end_offsets([KafkaTP(*tp) for tp in partitions])
        return {TopicPartition(tp.topic, tp.partition): offset for tp, offset in got.items()}

    async def offsets_for_times(
        self, partitions: Sequence[TopicPartition], timestamp_ms: int
    ) -> dict[TopicPartition, int | None]:
        got = await self._consumer.offsets_for_times({KafkaTP(*tp): timestamp_ms for tp in partitions})
        return {
            TopicPartition(tp.topic, tp.partition): None if o is None else o.offset for tp, o in got.items()
        }

    def seek(self, partition: TopicPartition, offset: int) -> None:
        ours = KafkaTP(*partition)
        self._consumer.seek(ours, offset)
        self._consumer.resume(ours)

    def pause(self, partition: TopicPartition) -> None:
        self._consumer.pause(KafkaTP(*partition))

    async def read(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[Record]]:
        fetched = await self._consumer.getmany(timeout_ms=timeout_ms, max_records=max_records)
        return {
            TopicPartition(tp.topic, tp.partition): [record_of(m) for m in ms] for tp, ms in fetched.items()
        }

    async def stop(self) -> None:
        await self._consumer.stop()


class KafkaSink:
    def __init__(self, bootstrap_servers: str, client_options: dict[str, Any]) -> None:
        self._options = dict(
            bootstrap_servers=bootstrap_servers,
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            max_batch_size=256 * 1024,
            max_request_size=2 * 1024 * 1024,
            **client_options,
        )

    async def start(self) -> None:
        self._producer = AIOKafkaProducer(**self._options)
        await self._producer.start()

    async def send(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None = None,
        headers: Sequence[tuple[str, bytes | None]] = (),
    ) -> Awaitable[object]:
        """Returns the delivery future: awaiting it tells whether the broker took the record."""
        return await self._producer.send(topic, value=value, key=key, headers=list(headers))

    async def send_and_wait(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None = None,
        headers: Sequence[tuple[str, bytes | None]] = (),
    ) -> None:
        await self._producer.send_and_wait(topic, value=value, key=key, headers=list(headers))

    async def flush(self) -> None:
        await self._producer.flush()

    async def stop(self) -> None:
        await self._producer.stop()


async def ensure_topics(
    bootstrap_servers: str,
    topics: Sequence[str],
    partitions: int,
    client_options: dict[str, Any],
    replication_factor: int = 1,
) -> list[str]:
    """Create the topics that do not exist yet; returns those created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, **client_options)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [
                        NewTopic(t, num_partitions=partitions, replication_factor=replication_factor)
                        for t in missing
                    ]
                )
        return missing
    finally:
        await admin.close()
