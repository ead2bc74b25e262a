"""Readiness and liveness of a real worker: not ready while it recovers its tables, not alive
once an agent has died.

A first run of the worker builds many cases (supervisor reviews: one incident case each, no
obligation, so no alert traffic); after SIGTERM the restarted worker replays the whole changelog
into its memory store, which takes long enough to see /readyz answer 503 for "recovering" once
the worker is assigned (faust counts recovery as part of the rebalance, so "rebalancing" shows
too). The agent is then killed through the worker's
explicit test hook (NCRS_TEST_HOOKS=1 adds a route that makes the incident agent raise at its
next batch, streams/commands/worker.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from streams.commands.worker import CRASH_AGENT_PATH
from tests.factories import make_incident_reviewed
from tests.integration.kit import (
    Fleet,
    Worker,
    metric_value,
    produce_events,
    unique,
    wait_committed,
)

CASES = 20_000
"""Cases to recover: a couple of seconds of changelog replay on this machine."""


def _wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


async def test_health__not_ready_while_recovering_then_ready_and_not_alive_once_an_agent_died(
    bootstrap: str, tmp_path: Path
) -> None:
    """/readyz is 503 "recovering" while the changelog is replayed, then 200; after
    the incident agent dies, /healthz is 503 naming it."""
    fleet = Fleet(bootstrap, unique("lh"))
    await asyncio.to_thread(fleet.create_topics)
    events = [
        (ref, make_incident_reviewed(incident_ref=ref))
        for ref in (unique("INC") for _ in range(CASES))
    ]
    worker = Worker(fleet, tmp_path, extra_env={"NCRS_TEST_HOOKS": "1"})
    try:
        await asyncio.to_thread(worker.start)
        await produce_events(fleet, events)
        await wait_committed(fleet, [fleet.topic("ncrs.incidents.v1")], timeout=120)
        code, _ = await asyncio.to_thread(worker.terminate)
        assert code == 0

        await asyncio.to_thread(worker.start)
        # Assigned (no longer "starting") but replaying the changelog: several probes 50 ms
        # apart; a worker with nothing to recover passes through this in a probe or two.
        recovering = [
            reasons
            for status, reasons in worker.readiness_seen
            if status == 503 and "recovering" in reasons and "starting" not in reasons
        ]
        assert len(recovering) >= 5, worker.readiness_seen
        assert worker.readiness_seen[-1] == (200, [])

        def recovered_all() -> bool:
            labels = {"table": "incident_cases"}
            return metric_value(worker.metrics(), "ncrs_table_keys", labels) == CASES

        # The index (and the gauge) is rebuilt from the table at the first batch (a tick).
        assert await asyncio.to_thread(_wait_for, recovered_all, 20.0)

        healthz = worker.probe("/healthz")
        assert healthz is not None
        assert healthz[0] == 200, healthz
        assert worker.probe(CRASH_AGENT_PATH) == (200, {"armed": "incident"})

        def dead() -> bool:
            answer = worker.probe("/healthz")
            return answer is not None and answer[0] == 503

        assert await asyncio.to_thread(_wait_for, dead, 20.0), worker.tail()
        status, body = worker.probe("/healthz") or (0, {})
        assert status == 503
        assert "agent_crashed:incident" in body["reasons"]
    finally:
        worker.stop_quietly()
