"""Replaying history on the event-time clock, so the order of arrival does not matter.

Events reach a replay (or a force's export) roughly, not exactly, in event-time order. A reorder
buffer holds each event until the watermark (the latest event time seen minus the allowed
lateness) passes it, then releases events in event-time order (ties broken by source and id);
before each released event the clock advances to just before its time, so every stage that fell
due before the event is announced first. Any arrival order within the lateness window therefore
gives the same decisions; an event later than the lateness window is applied when it arrives
and, if it satisfies an obligation whose breach was announced, retracts it.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from schemas.codes import ClockKind
from schemas.events import Envelope
from schemas.registry import decode_event_dict
from streams.rules.engine import Clock, Effect, Engine

JUST_BEFORE = timedelta(microseconds=1)
"""A record made exactly at a deadline is on time, so the clock stops just short of it."""


class Replayer:
    """Feeds an `Engine` from events in arrival order, deciding on the event-time watermark."""

    def __init__(self, engine: Engine, lateness: timedelta) -> None:
        self.engine = engine
        self.lateness = lateness
        self._heap: list[tuple[datetime, str, str, int, Envelope]] = []
        self._seq = 0
        self._max_seen: datetime | None = None
        self._clock: datetime | None = None

    @property
    def watermark(self) -> datetime | None:
        """Latest event time seen minus the lateness: nothing earlier is still expected."""
        return None if self._max_seen is None else self._max_seen - self.lateness

    @property
    def buffered(self) -> int:
        """Events waiting for the watermark to pass them."""
        return len(self._heap)

    def _tick(self, now: datetime) -> list[Effect]:
        if self._clock is not None and now <= self._clock:
            return []
        self._clock = now
        return self.engine.advance(Clock(now, ClockKind.EVENT_TIME_WATERMARK))

    def _release(self, until: datetime | None) -> list[Effect]:
        out: list[Effect] = []
        heap = self._heap
        while heap and (until is None or heap[0][0] <= until):
            event = heapq.heappop(heap)[4]
            out.extend(self._tick(event.time - JUST_BEFORE))
            out.extend(self.engine.process(event, ClockKind.EVENT_TIME_WATERMARK))
        return out

    def push(self, event: Envelope) -> list[Effect]:
        """Accept one event; returns the effects of everything the watermark now releases."""
        if self._max_seen is None or event.time > self._max_seen:
            self._max_seen = event.time
        self._seq += 1
        heapq.heappush(self._heap, (event.time, event.source, event.id, self._seq, event))
        watermark = self.watermark
        out = self._release(watermark)
        if watermark is not None:
            out.extend(self._tick(watermark))
        return out

    def finish(self, until: datetime | None = None) -> list[Effect]:
        """End of input: release everything, then run the clock to `until` (default: the last
        event time, i.e. the state as of the end of the history)."""
        out = self._release(None)
        end = until if until is not None else self._max_seen
        if end is not None:
            out.extend(self._tick(end))
        return out

    def snapshot(self) -> dict[str, Any]:
        """Engine state plus the reorder buffer and clock, as plain JSON-able data."""
        return {
            "cases": self.engine.snapshot(),
            "buffer": [e.model_dump(mode="json") for *_, e in sorted(self._heap)],
            "max_seen": self._max_seen.isoformat() if self._max_seen else None,
            "clock": self._clock.isoformat() if self._clock else None,
        }

    def restore(self, snap: dict[str, Any]) -> None:
        """Inverse of `snapshot`."""
        self.engine.restore(snap["cases"])
        self._heap = []
        self._seq = 0
        buffered: Iterable[Envelope] = (decode_event_dict(raw) for raw in snap["buffer"])
        for event in buffered:
            self._seq += 1
            self._heap.append((event.time, event.source, event.id, self._seq, event))
        heapq.heapify(self._heap)
        self._max_seen = datetime.fromisoformat(snap["max_seen"]) if snap["max_seen"] else None
        self._clock = datetime.fromisoformat(snap["clock"]) if snap["clock"] else None
