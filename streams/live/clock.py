"""The live decision clock: how late a worker may say a deadline has passed, per partition.

Rules file §2: live breaches are decided on the wall clock minus a grace for pipeline lag, so a
quiet overnight feed still breaches. That is right only while the inputs are caught up. When a
worker drains a backlog (after an outage, a restart, a rebalance) the events carry past times;
deciding on the wall clock while the source that would satisfy an obligation still has
unprocessed backlog declares a breach and retracts it moments later. So the clock a case is
advanced to is, per partition of an aggregate:

    min over every input partition s of bound(s), never moving backwards, where
    bound(s) = wall clock - grace                     while s is caught up (lag 0),
             = min(reached(s), wall clock) - grace    while s lags, reached(s) being the
                                                      latest event time processed from s,
             = unknown (the clock holds)              while s lags and nothing is processed.

The clock travels in band. Each worker periodically sends one marker (a "tick") to every
partition of both side topics, carrying the bound of each input partition it owns, computed
from what it has processed *and delivered* (forwards awaited) before the marker was produced.
A forwarded event therefore always precedes, in its side partition, every marker whose bound
counts it; when the owning agent handles a marker, everything the bound vouches for has been
applied, whichever worker forwarded it. Computing the clock when a tick is *consumed* instead
would race: a crime record processed just before the tick is handled may have its forward
still queued behind the tick. The required set is every input partition of every input topic
(a crime record on any partition may be forwarded to any incident partition), so a worker
lagging anywhere in the fleet holds every partition's clock, and a dead worker's partitions
hold it until they are reassigned and their new owner reports.

Residual limits (docs/live.md): within one input partition, an event whose time is more than
the grace older than events before it still arrives "late" (it retracts, as in replay); a
source system that itself delivers late (its own outage) is not consumer lag and is handled as
late arrival; bounds are per input partition, so marker size and handling grow with the
partition count (fine for tens of partitions, not for thousands).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from schemas.codes import ClockKind

Source = tuple[str, int]
"""An input partition: (canonical topic name, partition)."""


def source_id(source: Source) -> str:
    """Marker form of a source: `ncrs.incidents.v1/3`."""
    return f"{source[0]}/{source[1]}"


@dataclass(frozen=True, slots=True)
class Bound:
    """A clock value and what decided it: the wall clock, or a lagging input's event time."""

    at: datetime
    kind: ClockKind


class InputProgress:
    """Sender side: how far this worker has processed and delivered each input partition."""

    def __init__(self) -> None:
        self._next: dict[Source, int] = {}
        self._reached: dict[Source, datetime] = {}

    def delivered(self, source: Source, next_offset: int, event_time: datetime | None) -> None:
        """Everything of `source` before `next_offset` is applied and its output acknowledged."""
        if next_offset > self._next.get(source, -1):
            self._next[source] = next_offset
        if event_time is not None:
            reached = self._reached.get(source)
            if reached is None or event_time > reached:
                self._reached[source] = event_time

    def retain(self, sources: Iterable[Source]) -> None:
        """Forget partitions no longer assigned (a later owner may have moved them on)."""
        keep = set(sources)
        self._next = {s: o for s, o in self._next.items() if s in keep}
        self._reached = {s: t for s, t in self._reached.items() if s in keep}

    def next_offset(self, source: Source) -> int | None:
        """The next offset to process, as far as this worker's own batches know."""
        return self._next.get(source)

    def bound(
        self,
        source: Source,
        *,
        highwater: int | None,
        floor: int | None,
        wall: datetime,
        grace: timedelta,
    ) -> Bound | None:
        """The bound of one input partition this worker owns (module docstring).

        `highwater` is the consumer's log-end offset (None until a fetch response named it);
        `floor` is an offset known to be processed already by someone (the group's committed
        offset, or the log start of a partition nothing was ever committed for).
        """
        candidates = [o for o in (self._next.get(source), floor) if o is not None]
        if highwater is not None and candidates and max(candidates) >= highwater:
            return Bound(wall - grace, ClockKind.WALL_CLOCK)
        reached = self._reached.get(source)
        if reached is None:
            return None
        return Bound(min(reached, wall) - grace, ClockKind.EVENT_TIME_WATERMARK)


class DecisionClock:
    """Receiver side: one partition's clock, from the latest bound of every input partition."""

    def __init__(self, required: frozenset[str]) -> None:
        self.required = required
        self._bounds: dict[str, Bound] = {}
        self._now: Bound | None = None

    @property
    def now(self) -> Bound | None:
        """The clock (None until every required source has reported a bound)."""
        return self._now

    def update(self, bounds: Mapping[str, Bound | None]) -> Bound | None:
        """Take one marker's bounds; the clock moves to their minimum, never backwards."""
        for source, bound in bounds.items():
            if source not in self.required:
                continue
            if bound is None:
                self._bounds.pop(source, None)
            else:
                self._bounds[source] = bound
        if len(self._bounds) < len(self.required):
            return self._now
        low = min(self._bounds.values(), key=lambda b: b.at)
        if self._now is None or low.at > self._now.at:
            self._now = low
        return self._now


@dataclass(frozen=True, slots=True)
class Tick:
    """A marker on a side topic: the sender's wall clock and its inputs' bounds."""

    at: datetime
    bounds: Mapping[str, Bound | None]


def encode_tick(at: datetime, bounds: Mapping[str, Bound | None] | None = None) -> bytes:
    """The value of a tick message: {"at": ISO, "sources": {"topic/p": [ISO, kind] | null}}."""
    sources: dict[str, Any] = {
        s: None if b is None else [b.at.isoformat(), b.kind.value]
        for s, b in (bounds or {}).items()
    }
    return json.dumps({"at": at.isoformat(), "sources": sources}).encode("utf-8")


def _aware(text: Any) -> datetime:
    at = datetime.fromisoformat(text)
    if at.tzinfo is None:
        msg = "tick times must be timezone-aware"
        raise ValueError(msg)
    return at


def decode_tick(raw: bytes | None) -> Tick:
    """Inverse of `encode_tick`; raises ValueError/KeyError/TypeError on anything else.

    A tick without `sources` (as written before the decision clock existed) bounds nothing.
    """
    obj = json.loads(raw or b"")
    if not isinstance(obj, dict):
        msg = "a tick is a JSON object"
        raise TypeError(msg)
    sources = obj.get("sources", {})
    if not isinstance(sources, dict):
        msg = "tick sources must be an object"
        raise TypeError(msg)
    bounds: dict[str, Bound | None] = {}
    for source, value in sources.items():
        if value is None:
            bounds[str(source)] = None
        else:
            text, kind = value
            bounds[str(source)] = Bound(_aware(text), ClockKind(kind))
    return Tick(_aware(obj["at"]), bounds)
