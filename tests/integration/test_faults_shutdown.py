"""Graceful shutdown (issue 8, item 8): SIGTERM while input flows, then a restart.

The worker runs as deployed (RocksDB, static membership) while a simulated history flows; at a
third and at two thirds of the feed it gets SIGTERM, as Kubernetes sends on a rolling update.
It must finish the batch in hand, deliver its output, commit, and exit 0 within the bound; the
restarted worker continues. Across those restarts nothing may be lost and nothing done twice:
no raw duplicate on the alerts topic, and no marker dead-lettered twice (a marker re-read after
the restart would be, since its dead-letter id is its topic position).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.integration.faults.kafka import read_outputs
from tests.integration.faults.scenario import conclude, history, seconds
from tests.integration.faults.settle import wait_settled
from tests.integration.faults.stream import Feeder
from tests.integration.kit import Fleet, Worker, unique

SEED = 44
RATE = 600.0
STOPS = 2
EXIT_BOUND_S = 30.0
BUDGET_S = 300.0


@pytest.mark.slow
async def test_sigterm_mid_stream_exits_0_in_bound_and_restart_loses_and_repeats_nothing(
    bootstrap: str, tmp_path: Path
) -> None:
    """Two SIGTERMs under load: exit 0 within 30 s; no loss, no duplicate alert or dead letter."""
    hist = await asyncio.to_thread(history, tmp_path, days=5, incidents_per_day=1000, seed=SEED)
    fleet = Fleet(bootstrap, unique("sigterm"), store="rocksdb://")
    await asyncio.to_thread(fleet.create_topics)
    worker = Worker(fleet, tmp_path / "w1", "w1", static=True)
    feeder = Feeder(bootstrap, fleet.topic)
    stops: list[dict[str, float]] = []
    feed: asyncio.Task[None] | None = None
    try:
        async with asyncio.timeout(BUDGET_S):
            await asyncio.to_thread(worker.start)
            began = time.monotonic()
            feed = asyncio.create_task(feeder.run(hist.records, rate=RATE))
            for n in range(1, STOPS + 1):
                await feeder.wait_sent(n * len(hist.records) // (STOPS + 1))
                sent = feeder.sent
                code, took = await asyncio.to_thread(worker.terminate, EXIT_BOUND_S)
                restarted = time.monotonic()
                await asyncio.to_thread(worker.start)
                stops.append(
                    {
                        "sent": sent,
                        "exit": code,
                        "exit_s": took,
                        "ready_s": time.monotonic() - restarted,
                    }
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
    verdict, markers, reprocessed = await asyncio.to_thread(
        conclude,
        "graceful_shutdown",
        hist,
        outputs,
        fed_s=fed_s,
        settle_s=settle_s,
        command="pytest tests/integration/test_faults_shutdown.py",
        sigterm_after_records=[int(s["sent"]) for s in stops],
        exit_codes=[int(s["exit"]) for s in stops],
        sigterm_to_exit_s=seconds([s["exit_s"] for s in stops]),
        restart_to_ready_s=seconds([s["ready_s"] for s in stops]),
    )
    assert [s["exit"] for s in stops] == [0] * STOPS
    assert all(s["sent"] < len(hist.records) for s in stops), "every SIGTERM falls inside the feed"
    assert verdict.ok, verdict.describe()
    assert outputs.raw_duplicate_alerts == 0, outputs.duplicated_alert_ids().most_common(5)
    assert reprocessed == 0, "no input was processed twice across a graceful restart"
    assert markers == hist.markers
