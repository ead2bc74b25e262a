"""Publishing a history file to the input topics, at its own pace or as fast as possible.

The bridge from a file to the live workers, for demos and load tests: each valid event goes to the
topic `streams/topics.py` declares for its type, keyed by the field that topic is keyed by
(`incident_ref` or `crime_ref`, read from the event's envelope), with the line's original bytes as
the value. Lines that do not decode are counted and skipped (the file's own dead letters).
Pacing follows the event times: with `speed` 3600 an hour of history takes a second.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from schemas.registry import DecodeError, decode_event
from streams.replay.reader import iter_lines
from streams.topics import TOPIC_OF_TYPE

BATCH = 5000
"""Sends awaited together: enough in flight to batch well, bounded memory."""


@dataclass(frozen=True, slots=True)
class Message:
    """One record to produce: topic, key, value and the event time that paces it."""

    topic: str
    key: bytes
    value: bytes
    at: datetime


@dataclass(slots=True)
class Plan:
    """Messages in file order, and how many lines were skipped as undecodable."""

    skipped: int = 0


def messages(paths: Sequence[Path], plan: Plan, *, suffix: str = "") -> Iterator[Message]:
    """The records for the files' valid lines, in file order."""
    for path in paths:
        for _, raw, _ in iter_lines(path):
            try:
                event = decode_event(raw)
            except DecodeError:
                plan.skipped += 1
                continue
            spec = TOPIC_OF_TYPE[event.type]
            key = getattr(event, spec.key)
            yield Message(f"{spec.name}{suffix}", str(key).encode("utf-8"), raw, event.time)


class Pacer:
    """Sleeps so that event time advances `speed` times faster than the wall clock.

    Follows the latest event time seen, so an out-of-order event is sent at once rather than
    making the clock run backwards. `speed` None means no pacing at all.
    """

    def __init__(self, speed: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.speed = speed
        self.clock = clock
        self._origin: tuple[datetime, float] | None = None
        self._latest: datetime | None = None

    def delay(self, at: datetime) -> float:
        """Seconds to wait before sending an event with event time `at`."""
        if self.speed is None:
            return 0.0
        if self._origin is None:
            self._origin = (at, self.clock())
        if self._latest is None or at > self._latest:
            self._latest = at
        first, started = self._origin
        due = started + (self._latest - first).total_seconds() / self.speed
        return max(0.0, due - self.clock())


async def publish(
    stream: Iterator[Message],
    kafka_kwargs: dict[str, Any],
    *,
    speed: float | None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Produce every message (acks=all) and return how many were sent."""
    producer = AIOKafkaProducer(**kafka_kwargs, acks="all", linger_ms=5)
    try:
        await producer.start()
    except BaseException:
        await producer.stop()
        raise
    pacer = Pacer(speed)
    sent = 0
    pending: list[asyncio.Future[Any]] = []
    try:
        for message in stream:
            wait = pacer.delay(message.at)
            if wait > 0:
                await asyncio.sleep(wait)
            pending.append(await producer.send(message.topic, message.value, key=message.key))
            sent += 1
            if len(pending) >= BATCH:
                await asyncio.gather(*pending)
                pending.clear()
                if progress is not None:
                    progress(sent)
        await asyncio.gather(*pending)
        await producer.flush()
    finally:
        await producer.stop()
    if progress is not None:
        progress(sent)
    return sent
