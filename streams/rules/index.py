"""The due-deadline index: which cases have a stage falling due, without scanning them all.

A heap of (due time, case key) with one live entry per case: rescheduling a case to an earlier
time pushes a new entry and the older one is skipped when popped. Finding the cases due at `now`
costs O(log n) per due case. The index is derived data, rebuilt from the case states after a
restart or a partition assignment, so it is never persisted.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar


class _OrderedKey(Protocol):
    def __lt__(self, other: Any, /) -> bool: ...
    def __hash__(self) -> int: ...


K = TypeVar("K", bound=_OrderedKey)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _micros(at: datetime) -> int:
    """The instant as microseconds since the epoch: heap order by plain integers.

    Comparing two timezone-aware datetimes asks each for its UTC offset, and a heap operation
    makes a comparison per level; integers compare in a few nanoseconds. Equal instants give
    equal integers whatever their time zones, so the order is the datetimes' order.
    """
    return (at - _EPOCH) // _MICROSECOND


class DueIndex(Generic[K]):
    """Case keys ordered by the time their next stage falls due."""

    def __init__(self) -> None:
        # Ties are broken by the key itself, so the order of due cases depends only on the state,
        # not on the history of scheduling: a rebuilt index pops in the same order. Times are
        # held as microseconds since the epoch, in the heap and in `_scheduled` alike.
        self._heap: list[tuple[int, K]] = []
        self._scheduled: dict[K, int] = {}

    def __len__(self) -> int:
        return len(self._scheduled)

    def schedule(self, key: K, due: datetime | None) -> None:
        """Set when `key` next falls due (None: nothing due, forget it)."""
        if due is None:
            self._scheduled.pop(key, None)
            return
        micros = _micros(due)
        if self._scheduled.get(key) == micros:
            return
        self._scheduled[key] = micros
        heapq.heappush(self._heap, (micros, key))

    def pop_due(self, now: datetime) -> list[K]:
        """Every key due at or before `now`, each once, removed from the index."""
        due: list[K] = []
        heap = self._heap
        scheduled = self._scheduled
        limit = _micros(now)
        while heap and heap[0][0] <= limit:
            at, key = heapq.heappop(heap)
            if scheduled.get(key) == at:
                del scheduled[key]
                due.append(key)
        return due

    def next_due(self) -> datetime | None:
        """The earliest scheduled time (in UTC), skipping entries that were superseded."""
        heap = self._heap
        scheduled = self._scheduled
        while heap and scheduled.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)
        return _EPOCH + timedelta(microseconds=heap[0][0]) if heap else None

    def rebuild(self, entries: Iterable[tuple[K, datetime | None]]) -> None:
        """Replace the whole index, e.g. from table contents after recovery."""
        self._scheduled = {k: _micros(d) for k, d in entries if d is not None}
        self._heap = [(micros, key) for key, micros in self._scheduled.items()]
        heapq.heapify(self._heap)
