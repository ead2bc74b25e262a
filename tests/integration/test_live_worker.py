"""One live worker against the real broker: alerts, dead letters, either-order arrival, the wall
clock on a quiet feed, and the metrics it serves.

One `ncrs-monitor worker` is shared by the tests of this module; each adds its own cases (unique
refs). Event times are in 2016 (tests/factories.py), so every deadline is already due, except in
the quiet-feed test, which waits a few seconds for a real one.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from schemas.codes import ClockKind
from schemas.registry import encode_event
from streams.commands.worker import CRASH_AGENT_PATH
from streams.rules.families import RULE_IDS
from streams.rules.model import Outcome
from streams.topics import INPUT_TOPICS
from tests.factories import at, make_crime_recording, make_disclosure, make_incident_reported
from tests.integration.kit import (
    OUTPUT_TIMEOUT_S,
    Fleet,
    Reader,
    Worker,
    about,
    metric_value,
    produce,
    produce_events,
    stages,
    unique,
)

REC = "REC-24H"


@pytest.fixture(scope="module")
def fleet(bootstrap: str) -> Fleet:
    """This module's topics and consumer group."""
    created = Fleet(bootstrap, unique("lw"))
    created.create_topics()
    return created


@pytest.fixture(scope="module")
def worker(fleet: Fleet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    """The shared worker."""
    w = Worker(fleet, tmp_path_factory.mktemp("worker"))
    w.start()
    yield w
    w.stop_quietly()


def incident(ref: str, received_at: datetime | None = None) -> Any:
    """An incident with one violence disclosure (REC-24H, S2: OMU and control room)."""
    return make_incident_reported(
        incident_ref=ref, received_at=received_at or at(0), disclosures=[make_disclosure()]
    )


async def test_live__unrecorded_incident_raises_rec24h_alert_and_omu_work_item(
    fleet: Fleet, worker: Worker
) -> None:
    """An incident never recorded breaches REC-24H: an alert, and an item on the OMU queue."""
    ref = unique("INC")
    await produce_events(fleet, [(ref, incident(ref))])
    alerts, omu = fleet.topic("ncrs.alerts.v1"), fleet.queue_topic("omu")
    async with Reader(fleet.bootstrap, [alerts, omu]) as out:
        await out.until(lambda r: "breached" in stages(r.values(alerts), ref, REC))
        breach = next(a for a in out.values(alerts) if about(a, ref) and a["stage"] == "breached")
        await out.until(lambda r: breach["obligation_id"] in r.open_items(omu))
    item = out.open_items(omu)[breach["obligation_id"]]
    assert (item["rule_id"], item["subject"]["incident_ref"]) == (REC, ref)
    assert item["alert_id"] in {a["alert_id"] for a in out.values(alerts) if about(a, ref)}


async def test_live__poison_message_is_dead_lettered_and_neighbours_processed(
    fleet: Fleet, worker: Worker
) -> None:
    """Invalid bytes between two valid incidents are dead-lettered; both incidents alert."""
    refs = [unique("INC"), unique("INC")]
    poison = b'{"type": "incident.reported", "id": 7'
    key = refs[0].encode()  # same partition as the first valid event, between the two
    await produce(
        fleet.bootstrap,
        fleet.topic("ncrs.incidents.v1"),
        [
            (key, encode_event(incident(refs[0]))),
            (key, poison),
            (refs[1].encode(), encode_event(incident(refs[1]))),
        ],
    )
    letters, alerts = fleet.topic("ncrs.deadletter.v1"), fleet.topic("ncrs.alerts.v1")
    wanted = base64.b64encode(poison).decode()
    async with Reader(fleet.bootstrap, [letters, alerts]) as out:
        await out.until(lambda r: any(v["original_b64"] == wanted for v in r.values(letters)))
        await out.until(
            lambda r: all("breached" in stages(r.values(alerts), ref, REC) for ref in refs)
        )
    letter = next(v for v in out.values(letters) if v["original_b64"] == wanted)
    assert letter["reason"] == "invalid_json"
    assert letter["origin"]["topic"] == fleet.topic("ncrs.incidents.v1")
    assert "ncrs_dead_letters_total" in worker.metrics()


async def test_live__logs_are_json_lines_with_alert_and_dead_letter_context(
    fleet: Fleet, worker: Worker
) -> None:
    """Every log line is JSON (faust's and aiokafka's too); each alert and dead letter has a
    line with its ids and input position, and no line carries an event payload."""
    ref = unique("INC")
    poison = b'{"type": "incident.reported", "name": "Jane Placeholder"'
    await produce(
        fleet.bootstrap,
        fleet.topic("ncrs.incidents.v1"),
        [(ref.encode(), encode_event(incident(ref))), (ref.encode(), poison)],
    )
    alerts = fleet.topic("ncrs.alerts.v1")
    async with Reader(fleet.bootstrap, [alerts]) as out:
        await out.until(lambda r: "breached" in stages(r.values(alerts), ref, REC))
    breach = next(a for a in out.values(alerts) if about(a, ref) and a["stage"] == "breached")
    await asyncio.sleep(1.0)  # the log line follows the delivery
    lines = [json.loads(line) for line in worker.log.read_text().splitlines() if line.strip()]
    assert {line.get("logger", "").split(".")[0] for line in lines} >= {"faust", "streams"}
    raised = [line for line in lines if line.get("alert_id") == breach["alert_id"]]
    assert raised
    assert raised[0]["event"] == "alert_raised"
    assert raised[0]["rule"] == REC
    assert raised[0]["topic"] == fleet.topic("ncrs.incidents.v1")
    assert isinstance(raised[0]["partition"], int)
    assert isinstance(raised[0]["offset"], int)
    letters = [line for line in lines if line.get("event") == "dead_letter"]
    assert any(line["reason"] == "invalid_json" for line in letters)
    assert "Jane" not in worker.log.read_text()


async def _await_forward_applied(fleet: Fleet, key: str) -> None:
    """Wait until the worker has committed past the forwarded copy keyed `key` on the
    incident side topic; the worker writes the case before it commits, so it is applied."""
    side = f"{fleet.app_id}-incident-side"
    consumer = AIOKafkaConsumer(
        side, bootstrap_servers=fleet.bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    position = None
    try:
        async with asyncio.timeout(OUTPUT_TIMEOUT_S):
            while position is None:
                batches = await consumer.getmany(timeout_ms=300)
                for tp, msgs in batches.items():
                    for m in msgs:
                        if m.key == key.encode():
                            position = (tp, m.offset)
    finally:
        await consumer.stop()
    client = AIOKafkaAdminClient(bootstrap_servers=fleet.bootstrap)
    await client.start()
    try:
        async with asyncio.timeout(OUTPUT_TIMEOUT_S):
            while True:
                offsets = await client.list_consumer_group_offsets(fleet.app_id)
                meta = offsets.get(position[0])
                if meta is not None and meta.offset > position[1]:
                    return
                await asyncio.sleep(0.2)
    finally:
        await client.close()


async def test_live__crime_recorded_before_its_incident_raises_no_rec24h_alert(
    fleet: Fleet, worker: Worker
) -> None:
    """A crime record applied before its incident (in time) leaves no REC-24H alert at all.

    Regression: the incident case holding only the forwarded crime was purged at once (its
    2016 event time was more than the retention before the wall clock), so the incident that
    followed breached although recorded.
    """
    ref, crime_ref, marker = unique("INC"), unique("CRI"), unique("INC")
    disclosure = make_disclosure()
    crime = make_crime_recording(
        disclosure,
        incident_ref=ref,
        crime_ref=crime_ref,
        reported_at=at(0),
        recorded_at=at(2),
    )
    await produce_events(fleet, [(crime_ref, crime)])
    await _await_forward_applied(fleet, ref)
    reported = make_incident_reported(incident_ref=ref, received_at=at(0), disclosures=[disclosure])
    # A marker incident on the same partition after ours: once its breach is out, ours is done.
    await produce_events(fleet, [(ref, reported), (ref, incident(marker))])
    alerts = fleet.topic("ncrs.alerts.v1")
    async with Reader(fleet.bootstrap, [alerts]) as out:
        await out.until(lambda r: "breached" in stages(r.values(alerts), marker, REC))
    assert stages(out.values(alerts), ref, REC) == set()


async def test_live__quiet_feed_breaches_on_the_wall_clock(fleet: Fleet, worker: Worker) -> None:
    """With no further input, a deadline a few seconds ahead breaches when the wall clock
    passes it (ticks, not events, decide), and the alert says the wall clock decided."""
    ref = unique("INC")
    deadline = datetime.now(UTC) + timedelta(seconds=4)
    await produce_events(fleet, [(ref, incident(ref, received_at=deadline - timedelta(hours=24)))])
    alerts = fleet.topic("ncrs.alerts.v1")
    async with Reader(fleet.bootstrap, [alerts]) as out:
        await out.until(lambda r: "due_soon" in stages(r.values(alerts), ref, REC))
        assert "breached" not in stages(out.values(alerts), ref, REC)
        await out.until(lambda r: "breached" in stages(r.values(alerts), ref, REC))
    seen_at = datetime.now(UTC)
    breach = next(a for a in out.values(alerts) if about(a, ref) and a["stage"] == "breached")
    assert breach["evidence"]["clock_kind"] == ClockKind.WALL_CLOCK.value
    decided = datetime.fromisoformat(breach["evidence"]["clock"])
    assert deadline <= decided <= seen_at


async def test_live__metrics_expose_ncrs_series_with_label_values_initialised(
    worker: Worker,
) -> None:
    """/metrics serves every ncrs_ family, with bounded label values present from the start."""
    text = worker.metrics()
    for rule in RULE_IDS:
        for outcome in Outcome:
            labels = {"rule": rule, "outcome": outcome.value}
            assert metric_value(text, "ncrs_obligations_closed_total", labels) is not None
        assert metric_value(text, "ncrs_obligations_open", {"rule": rule}) is not None
    for spec in INPUT_TOPICS:
        for event_type in spec.event_types:
            labels = {"topic": spec.name, "type": event_type}
            assert metric_value(text, "ncrs_events_consumed_total", labels) is not None
    labels = {"rule": "N100-REASON", "stage": "breached", "severity": "S1", "queue": "fcr"}
    assert metric_value(text, "ncrs_alerts_total", labels) is not None
    impossible = {"rule": "REC-24H", "stage": "breached", "severity": "S4", "queue": "ppu"}
    assert metric_value(text, "ncrs_alerts_total", impossible) is None
    assert metric_value(text, "ncrs_dead_letters_total", {"reason": "wrong_topic"}) is not None
    for name in ("ncrs_ticks_processed_total", "ncrs_rebalances_total"):
        assert metric_value(text, name, {}) is not None
    lag = metric_value(text, "ncrs_decision_clock_lag_seconds", {"aggregate": "incident"})
    assert lag is not None
    assert lag < 60  # caught up: the decision clock is the wall clock (no grace here)
    assert "ncrs_time_to_record_seconds_bucket" in text
    assert 'ncrs_build_info{ruleset="live"' in text


async def test_live__health_endpoints_answer_and_readiness_was_false_at_start(
    worker: Worker,
) -> None:
    """/healthz and /readyz are 200 on a running worker; /readyz was 503 before it was ready;
    the crash test hook is not served by a worker started without NCRS_TEST_HOOKS."""
    healthz, readyz = worker.probe("/healthz"), worker.probe("/readyz")
    assert healthz is not None
    assert readyz is not None
    assert healthz[0] == 200, json.dumps(healthz[1])
    assert readyz == (200, {"ok": True, "reasons": []})
    assert any(status == 503 for status, _ in worker.readiness_seen)
    crash_hook = worker.probe(CRASH_AGENT_PATH)
    assert crash_hook is not None
    assert crash_hook[0] == 404  # the test hook exists only with NCRS_TEST_HOOKS=1
