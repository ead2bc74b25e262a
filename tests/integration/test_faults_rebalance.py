"""Rebalance under load (issue 8, item 3): a second worker joins and later leaves mid-stream.

Two workers of one group (dynamic membership, RocksDB, six partitions so both get work) share a
simulated history that flows at a steady rate. After a quarter of the feed a second worker
starts and takes over half the partitions (their tables recovered from the changelogs); after
three quarters it stops (SIGTERM) and hands them back. Each hand-over must lose nothing and
double nothing: against a replay of the same history every standing alert is present and every
work queue, folded from the start, holds exactly the expected open items, none twice.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.integration.faults.kafka import read_outputs
from tests.integration.faults.scenario import conclude, history
from tests.integration.faults.settle import wait_settled
from tests.integration.faults.stream import Feeder
from tests.integration.kit import Fleet, HealthLog, Worker, metric_sum, unique

SEED = 33
RATE = 500.0
PARTITIONS = 6
BUDGET_S = 300.0


def _unready_s(log: HealthLog, start: float, end: float) -> float:
    """Seconds of polls in [start, end] at which the worker was not ready."""
    samples = log.between(start, end)
    return sum(log.interval for s in samples if s.ready != 200)


@pytest.mark.slow
async def test_worker_joining_and_leaving_mid_stream_loses_and_doubles_no_open_item(
    bootstrap: str, tmp_path: Path
) -> None:
    """Join at 1/4, leave at 3/4 of the feed: no standing alert lost, no open item extra/twice."""
    hist = await asyncio.to_thread(history, tmp_path, days=5, incidents_per_day=1000, seed=SEED)
    fleet = Fleet(bootstrap, unique("rebal"), partitions=PARTITIONS, store="rocksdb://")
    await asyncio.to_thread(fleet.create_topics)
    first = Worker(fleet, tmp_path / "w1", "w1")
    second = Worker(fleet, tmp_path / "w2", "w2")
    health = HealthLog(first)
    feeder = Feeder(bootstrap, fleet.topic)
    tasks: list[asyncio.Task[None]] = []
    try:
        async with asyncio.timeout(BUDGET_S):
            await asyncio.to_thread(first.start)
            tasks.append(asyncio.create_task(health.run()))
            began = time.monotonic()
            tasks.append(asyncio.create_task(feeder.run(hist.records, rate=RATE)))
            await feeder.wait_sent(len(hist.records) // 4)
            joined_after = feeder.sent
            joining = time.monotonic()
            join_ready_s = await asyncio.to_thread(second.start)
            await feeder.wait_sent(3 * len(hist.records) // 4)
            consumed_by_second = metric_sum(
                await asyncio.to_thread(second.metrics), "ncrs_events_consumed_total"
            )
            left_after = feeder.sent
            leaving = time.monotonic()
            left_code, leave_s = await asyncio.to_thread(second.terminate)
            left = time.monotonic()
            await tasks[1]
            fed_s = time.monotonic() - began
            settle_s = await wait_settled(fleet, [first])
            health.stop()
            await tasks[0]
            outputs = await read_outputs(fleet)
    finally:
        health.stop()
        for task in tasks:
            task.cancel()
        second.stop_quietly()
        first.stop_quietly()
        await fleet.delete_topics()
    verdict, markers, _ = await asyncio.to_thread(
        conclude,
        "rebalance",
        hist,
        outputs,
        fed_s=fed_s,
        settle_s=settle_s,
        command="pytest tests/integration/test_faults_rebalance.py",
        partitions=PARTITIONS,
        joined_after_records=joined_after,
        left_after_records=left_after,
        second_ready_after_join_s=round(join_ready_s, 1),
        second_consumed_events=int(consumed_by_second),
        second_exit=left_code,
        second_stop_s=round(leave_s, 1),
        first_unready_during_join_s=round(_unready_s(health, joining, leaving), 1),
        first_unready_after_leave_s=round(_unready_s(health, left, float("inf")), 1),
    )
    assert consumed_by_second > 0, "the second worker took over partitions and processed them"
    assert left_code == 0
    assert verdict.ok, verdict.describe()
    assert markers == hist.markers
