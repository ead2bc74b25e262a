"""Waiting until a fleet has decided everything its input implies, without sleeping blindly.

Two conditions, both awaited with a timeout:

1. the consumer group has committed every input message (and every forward those inputs caused
   on the side topics): output is delivered before the input that caused it is committed
   (docs/live.md, "Ordering"), so every event has been applied and its findings sent;
2. every running worker's decision clock (streams/live/clock.py) has reached a wall-clock time
   later than the moment condition 1 held. While a worker drains a backlog its clock is the
   event time it has reached; it returns to the wall clock only when every input partition is
   caught up, and the tick that moves it there advances every due case and delivers the
   findings before `ncrs_decision_clock_lag_seconds` is published. A clock past that moment
   therefore vouches that every deadline of the fed history has been decided.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Sequence

from streams.topics import INPUT_TOPICS
from tests.integration.faults.kafka import committed_lag, committed_offsets, end_offsets
from tests.integration.kit import Fleet, Worker

_LAG = re.compile(r'^ncrs_decision_clock_lag_seconds\{aggregate="(\w+)"\} (\S+)$', re.MULTILINE)
POLL_S = 0.5


def decision_clocks(metrics: str) -> dict[str, float]:
    """aggregate -> seconds the decision clock trails the wall clock (NaN: not yet known)."""
    return {m.group(1): float(m.group(2)) for m in _LAG.finditer(metrics)}


def input_topics(fleet: Fleet) -> list[str]:
    return [fleet.topic(spec.name) for spec in INPUT_TOPICS]


def side_topics(fleet: Fleet) -> list[str]:
    return [f"{fleet.app_id}-incident-side", f"{fleet.app_id}-crime-side"]


async def wait_committed(fleet: Fleet, timeout: float) -> None:
    """Condition 1 of the module docstring."""
    async with asyncio.timeout(timeout):
        while await committed_lag(fleet.bootstrap, fleet.app_id, input_topics(fleet)) > 0:
            await asyncio.sleep(0.5)
        # Forwards caused by the inputs are on the side topics by now; ticks keep coming after
        # them, so only the offsets that exist at this point must be committed.
        targets = await end_offsets(fleet.bootstrap, side_topics(fleet))
        while True:
            committed = await committed_offsets(fleet.bootstrap, fleet.app_id)
            if all(committed.get(tp, 0) >= end for tp, end in targets.items()):
                return
            await asyncio.sleep(0.5)


async def wait_clocks_past(workers: Sequence[Worker], since: float, timeout: float) -> None:
    """Condition 2: every aggregate's clock on every running worker is past `since` (epoch s).

    The gauge is republished after every batch (ticks make one a second). A value that changed
    between two polls was published after the first of them, so the first poll's time minus the
    new lag is a lower bound of the clock, however stale an unchanged value might be.
    """
    previous: dict[int, tuple[float, dict[str, float]]] = {}
    async with asyncio.timeout(timeout):
        while True:
            done = True
            for worker in workers:
                if not worker.running:
                    continue
                polled = time.time()
                try:
                    clocks = decision_clocks(await asyncio.to_thread(worker.metrics))
                except (OSError, AssertionError):
                    done = False
                    continue
                earlier = previous.get(id(worker))
                previous[id(worker)] = (polled, clocks)
                known = len(clocks) >= 2 and not any(math.isnan(v) for v in clocks.values())
                if (
                    not known
                    or earlier is None
                    or earlier[1] == clocks  # not republished since the last poll: may be stale
                    or earlier[0] - max(clocks.values()) < since
                ):
                    done = False
            if done:
                return
            await asyncio.sleep(POLL_S)


async def wait_settled(fleet: Fleet, workers: Sequence[Worker], timeout: float = 300.0) -> float:
    """Both conditions; returns the seconds waited."""
    began = time.monotonic()
    await wait_committed(fleet, timeout)
    await wait_clocks_past(workers, time.time(), timeout - (time.monotonic() - began))
    return time.monotonic() - began
