"""Crash test (issue 8, item 1): `kill -9` a worker at random moments while 50,000+ events flow.

The worker runs as deployed (deploy/k8s): RocksDB store and static group membership, so a
restarted pod takes its partitions back without waiting for the session timeout. The stream is
a `ncrs-monitor simulate` history fed at a steady rate; three kills fall at seeded random times
inside the feed, each followed at once by a restart. The last restart is on an empty disk (a
pod rescheduled to another node: same name and address, no RocksDB), so that worker rebuilds its
state from the changelogs alone, which is where state lost behind a commit would show (see
test_faults_changelog.py). At the end the fleet's outputs are judged
against a replay of the same file (tests/integration/faults/expected.py explains which decisions
are compared and why): every standing alert present, every work queue read from the start
holding exactly the expected open items. Raw duplicates on the alerts topic and re-processed
input (duplicate marker dead letters) are reported, not forbidden: at-least-once delivery
re-sends after a crash, and deterministic ids make the copies harmless.
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import pytest

from tests.integration.faults.kafka import read_outputs
from tests.integration.faults.scenario import conclude, history, seconds
from tests.integration.faults.settle import wait_settled
from tests.integration.faults.stream import Feeder
from tests.integration.kit import Fleet, Worker, unique

SEED = 8
KILLS = 3
RATE = 1000.0
"""Records a second: about what one worker sustains on 2 shared cores, so it never idles."""
BUDGET_S = 420.0


@pytest.mark.slow
async def test_kill_9_during_a_50k_event_stream_loses_no_alert_and_opens_no_extra_item(
    bootstrap: str, tmp_path: Path
) -> None:
    """Three seeded kill -9s mid-stream: standing alerts all present, open items exactly right."""
    hist = await asyncio.to_thread(history, tmp_path, days=14, incidents_per_day=1400, seed=SEED)
    assert hist.events >= 50_000
    fleet = Fleet(bootstrap, unique("crash"), store="rocksdb://")
    await asyncio.to_thread(fleet.create_topics)
    worker = Worker(fleet, tmp_path / "w1", "w1", static=True)
    feeder = Feeder(bootstrap, fleet.topic)
    rng = random.Random(SEED)
    duration = len(hist.records) / RATE
    plan = sorted(rng.uniform(0.1, 0.85) * duration for _ in range(KILLS))
    kills: list[dict[str, float]] = []
    feed: asyncio.Task[None] | None = None
    try:
        async with asyncio.timeout(BUDGET_S):
            await asyncio.to_thread(worker.start)
            began = time.monotonic()
            feed = asyncio.create_task(feeder.run(hist.records, rate=RATE))
            for n, at in enumerate(plan, start=1):
                await asyncio.sleep(max(0.0, began + at - time.monotonic()))
                sent = feeder.sent
                worker.kill()
                killed = time.monotonic()
                if n == KILLS:
                    worker = Worker(
                        fleet, tmp_path / "w1-new-disk", "w1", static=True, port=worker.port
                    )
                await asyncio.to_thread(worker.start)
                kills.append(
                    {"at_s": killed - began, "sent": sent, "ready_s": time.monotonic() - killed}
                )
            await feed
            fed_s = time.monotonic() - began
            settle_s = await wait_settled(fleet, [worker])
            outputs = await read_outputs(fleet)
    finally:
        if feed is not None:
            feed.cancel()
        worker.stop_quietly()
        await fleet.delete_topics()
    verdict, markers, _ = await asyncio.to_thread(
        conclude,
        "crash_kill9",
        hist,
        outputs,
        fed_s=fed_s,
        settle_s=settle_s,
        command="pytest tests/integration/test_faults_crash.py",
        kills=len(kills),
        kill_at_s=seconds([k["at_s"] for k in kills]),
        kill_after_records=[int(k["sent"]) for k in kills],
        restart_to_ready_s=seconds([k["ready_s"] for k in kills]),
    )
    assert len(kills) == KILLS
    assert all(k["sent"] < len(hist.records) for k in kills), "every kill falls inside the feed"
    assert verdict.ok, verdict.describe()
    assert markers == hist.markers, "every marker dead-lettered once at least"
