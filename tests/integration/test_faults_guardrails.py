"""Guardrails in a real worker (issue 8, item 7), with small limits set through settings.

- `NCRS_MAX_OPEN_OBLIGATIONS_PER_RULE`: past it the worker counts every further obligation of
  that rule in `ncrs_guardrail_exceeded_total{rule}` and logs `guardrail_exceeded`, but still
  opens and monitors it (dropping it would hide its breach). `ncrs_guardrail_limit{rule}` shows
  the limit, for the NcrsObligationsNearGuardrail alert.
- `NCRS_MAX_OBLIGATION_AGE_DAYS`: an obligation opened that long before the partition's
  event-time horizon is closed as `expired` (counted in
  `ncrs_obligations_closed_total{outcome="expired"}`) and its work item is closed (tombstone); the
  stages already due were announced before.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from schemas.codes import Queue
from streams.topics import ALERTS, INCIDENTS, WORKQUEUE_TOPICS
from tests.factories import at, make_disclosure, make_event_dict
from tests.integration.faults.kafka import fold, read_all
from tests.integration.faults.settle import wait_settled
from tests.integration.kit import Fleet, Worker, metric_sum

OPEN_LIMIT = 3
MAX_AGE_DAYS = 2


def _start(bootstrap: str, workdir: Path, name: str) -> Iterator[Worker]:
    fleet = Fleet(
        bootstrap,
        f"{name}-{uuid.uuid4().hex[:8]}",
        extra_env=(
            ("NCRS_MAX_OPEN_OBLIGATIONS_PER_RULE", str(OPEN_LIMIT)),
            ("NCRS_MAX_OBLIGATION_AGE_DAYS", str(MAX_AGE_DAYS)),
        ),
    )
    fleet.create_topics()
    worker = Worker(fleet, workdir, "w1")
    worker.start()
    yield worker
    worker.stop_quietly()
    asyncio.run(fleet.delete_topics())


@pytest.fixture
def worker(bootstrap: str, tmp_path: Path) -> Iterator[Worker]:
    """A worker of its own with the small limits (the open count is per worker)."""
    yield from _start(bootstrap, tmp_path, "guard")


async def _send(fleet: Fleet, events: list[dict[str, Any]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=fleet.bootstrap, acks="all")
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(
                fleet.topic(INCIDENTS.name),
                json.dumps(event).encode(),
                key=event["incident_ref"].encode(),
            )
    finally:
        await producer.stop()


async def _rec24h_alerts(fleet: Fleet, refs: set[str]) -> list[dict[str, Any]]:
    messages = await read_all(fleet.bootstrap, fleet.topic(ALERTS.name))
    alerts = [json.loads(m.value) for m in messages if m.value is not None]
    return [a for a in alerts if a["rule_id"] == "REC-24H" and a["subject"]["incident_ref"] in refs]


async def _open_omu_items(fleet: Fleet) -> dict[bytes, bytes]:
    topic = fleet.topic(WORKQUEUE_TOPICS[Queue.OMU].name)
    return fold(await read_all(fleet.bootstrap, topic))


async def test_open_limit_counts_and_logs_excess_but_drops_no_obligation(
    worker: Worker,
) -> None:
    """Five unrecorded incidents, limit three: five breaches and items, two counted as excess."""
    refs = [f"GL-{uuid.uuid4().hex[:10]}" for _ in range(OPEN_LIMIT + 2)]
    events = [
        make_event_dict("incident.reported", incident_ref=ref, disclosures=[make_disclosure()])
        for ref in refs
    ]
    await _send(worker.fleet, events)
    await wait_settled(worker.fleet, [worker], timeout=120)
    alerts = await _rec24h_alerts(worker.fleet, set(refs))
    breached = {a["subject"]["incident_ref"] for a in alerts if a["stage"] == "breached"}
    items = await _open_omu_items(worker.fleet)
    metrics = await asyncio.to_thread(worker.metrics)
    assert breached == set(refs), "every obligation was opened and breached, none dropped"
    assert {a["obligation_id"].encode() for a in alerts} <= set(items), "each has its open item"
    assert metric_sum(metrics, "ncrs_obligations_open", rule="REC-24H") == len(refs)
    assert metric_sum(metrics, "ncrs_guardrail_limit", rule="REC-24H") == OPEN_LIMIT
    assert metric_sum(metrics, "ncrs_guardrail_exceeded_total", rule="REC-24H") == 2
    logged = [
        json.loads(line)
        for line in worker.log.read_text().splitlines()
        if '"guardrail_exceeded"' in line
    ]
    assert logged, "the excess is logged"
    assert all(entry["rule"] == "REC-24H" and entry["limit"] == OPEN_LIMIT for entry in logged)
    assert not [entry for entry in logged if any(ref in json.dumps(entry) for ref in refs)]


async def test_max_age_expires_an_obligation_once_events_move_past_it_and_closes_its_item(
    worker: Worker,
) -> None:
    """Breach announced, then a later event 3 days on expires it: item closed, counted expired."""
    ref = f"GA-{uuid.uuid4().hex[:10]}"
    reported = make_event_dict(
        "incident.reported", incident_ref=ref, received_at=at(0), disclosures=[make_disclosure()]
    )
    await _send(worker.fleet, [reported])
    await wait_settled(worker.fleet, [worker], timeout=120)
    before = await _rec24h_alerts(worker.fleet, {ref})
    obligation = next(a["obligation_id"] for a in before if a["stage"] == "breached")
    assert obligation.encode() in await _open_omu_items(worker.fleet)
    assert {a["stage"] for a in before} >= {"breached", "escalated"}

    later = make_event_dict("incident.reviewed", incident_ref=ref, time=at(24 * 3))
    await _send(worker.fleet, [later])
    await wait_settled(worker.fleet, [worker], timeout=120)
    after = await _rec24h_alerts(worker.fleet, {ref})
    metrics = await asyncio.to_thread(worker.metrics)
    assert obligation.encode() not in await _open_omu_items(worker.fleet), "item tombstoned"
    assert (
        metric_sum(metrics, "ncrs_obligations_closed_total", rule="REC-24H", outcome="expired") == 1
    )
    assert metric_sum(metrics, "ncrs_obligations_open", rule="REC-24H") == 0
    assert {a["alert_id"] for a in after} == {a["alert_id"] for a in before}, (
        "expiry announces nothing new: no retraction, no late resolution"
    )
