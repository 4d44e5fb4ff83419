"""What every traffic generator produces, and the loop that paces them onto a sink."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from shopfloor.events.codec import encode_binary, encode_structured
from shopfloor.transport.base import EventSink


@dataclass(frozen=True, slots=True)
class Produced:
    topic: str
    key: str
    event: dict[str, Any]
    binary: bool = False


class Generator(Protocol):
    """A source of plant traffic; `rate` is its share of events per second."""

    rate: float

    def step(self, now: datetime) -> list[Produced]: ...


async def send(sink: EventSink, produced: Produced) -> None:
    value, headers = (encode_binary if produced.binary else encode_structured)(produced.event)
    await sink.send(produced.topic, value, produced.key.encode(), headers)


async def run(
    sink: EventSink,
    generators: Sequence[Generator],
    *,
    duration: float | None = None,
    max_events: int | None = None,
) -> int:
    """Paces each generator at its rate; returns how many events were sent."""
    sent = 0
    started = time.monotonic()
    credit = [0.0] * len(generators)
    last = started
    while True:
        now_mono = time.monotonic()
        if duration is not None and now_mono - started >= duration:
            break
        elapsed, last = now_mono - last, now_mono
        now = datetime.now(UTC)
        for i, generator in enumerate(generators):
            credit[i] += generator.rate * elapsed
            while credit[i] >= 1:
                credit[i] -= 1
                for produced in generator.step(now):
                    await send(sink, produced)
                    sent += 1
                if max_events is not None and sent >= max_events:
                    await sink.flush()
                    return sent
        await asyncio.sleep(0.02)
    await sink.flush()
    return sent


async def burst(sink: EventSink, generators: Sequence[Generator], count: int) -> int:
    """Sends `count` events as fast as possible (fills an empty demo before pacing starts)."""
    sent = 0
    now = datetime.now(UTC)
    while sent < count:
        for generator in generators:
            for produced in generator.step(now):
                await send(sink, produced)
                sent += 1
    await sink.flush()
    return sent
