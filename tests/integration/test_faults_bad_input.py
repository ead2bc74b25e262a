"""Bad input and personal data through a real worker (issue 8, items 4 and 5).

`tests/poison.py` documents what the monitor does with each of its cases; the unit tests check
the decoder and the engine alone. Here the same bytes go through `ncrs-monitor worker` on the
real broker, each case between two valid incidents placed on the same partition, so the worker
meets them in stream order. Then: every dead-lettered case is on `ncrs.deadletter.v1` with its
documented reason, every handled case left the documented trace (and no dead letter), the
valid neighbours all produced their alerts, and the worker stayed alive throughout.

The personal-data test feeds events of every input type with sentinel personal data in unknown
fields at every level, linked so that alerts and work items of many rules are produced, plus
invalid events whose wrong-typed fields carry the sentinels. No sentinel may appear in any
alert, work-queue record, dead letter (except its `original_b64`, kept for the data owner on a
restricted topic: docs/security.md), log line of the worker, or `/metrics` output.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from schemas.codes import OffenceGroup
from schemas.deadletter import DeadLetterReason
from streams.live.topology import partition_for
from streams.topics import ALERTS, DEAD_LETTERS, INCIDENTS, TOPIC_OF_TYPE, WORKQUEUE_TOPICS
from tests.factories import ALL_EVENT_TYPES, at, make_disclosure, make_event_dict
from tests.integration.faults.kafka import read_all
from tests.integration.faults.settle import wait_settled
from tests.integration.faults.stream import route
from tests.integration.kit import Fleet, HealthLog, Worker, metric_sum
from tests.poison import (
    CORPUS,
    SENTINEL_NAME,
    SENTINEL_NARRATIVE,
    SENTINELS,
    Handled,
    PoisonCase,
    with_personal_data,
)

PARTITIONS = 3


@pytest.fixture(scope="module")
def fleet(bootstrap: str) -> Iterator[Fleet]:
    """Topics of one worker for this module's tests."""
    made = Fleet(bootstrap, f"badin-{uuid.uuid4().hex[:8]}", partitions=PARTITIONS)
    made.create_topics()
    yield made
    asyncio.run(made.delete_topics())


@pytest.fixture(scope="module")
def worker(fleet: Fleet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    """One worker, shared: each test uses refs of its own."""
    started = Worker(fleet, tmp_path_factory.mktemp("badin"), "w1")
    started.start()
    yield started
    started.stop_quietly()


@pytest.fixture
async def health(worker: Worker) -> AsyncIterator[HealthLog]:
    """/healthz and /readyz polled for the duration of a test."""
    log = HealthLog(worker)
    task = asyncio.create_task(log.run())
    yield log
    log.stop()
    await task


async def _send(fleet: Fleet, messages: list[tuple[str, bytes, bytes, int | None]]) -> None:
    """(base topic, key, value, partition or None) in order, each awaited."""
    producer = AIOKafkaProducer(bootstrap_servers=fleet.bootstrap, acks="all")
    await producer.start()
    try:
        for topic, key, value, partition in messages:
            await producer.send_and_wait(fleet.topic(topic), value, key=key, partition=partition)
    finally:
        await producer.stop()


def _ref_on(partition: int, prefix: str) -> str:
    """A fresh incident ref whose key hashes to `partition`, so it is applied where it lands."""
    while True:
        ref = f"{prefix}-{uuid.uuid4().hex[:10]}"
        if partition_for(ref, PARTITIONS) == partition:
            return ref


def _incident(ref: str) -> bytes:
    """A valid, never-recorded incident: REC-24H breaches."""
    return json.dumps(
        make_event_dict("incident.reported", incident_ref=ref, disclosures=[make_disclosure()])
    ).encode()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _rec24h_breached(alerts: list[dict[str, Any]]) -> set[str]:
    return {
        a["subject"]["incident_ref"]
        for a in alerts
        if a["rule_id"] == "REC-24H" and a["stage"] == "breached"
    }


async def _alerts(fleet: Fleet) -> list[dict[str, Any]]:
    messages = await read_all(fleet.bootstrap, fleet.topic(ALERTS.name))
    return [json.loads(m.value) for m in messages if m.value is not None]


async def _dead_letters(fleet: Fleet) -> list[dict[str, Any]]:
    messages = await read_all(fleet.bootstrap, fleet.topic(DEAD_LETTERS.name))
    return [json.loads(m.value) for m in messages if m.value is not None]


async def test_poison_corpus_through_a_worker_is_handled_as_documented_and_neighbours_alert(
    fleet: Fleet, worker: Worker, health: HealthLog
) -> None:
    """Each corpus case dead-lettered with its reason or handled; neighbours alert; alive."""
    messages: list[tuple[str, bytes, bytes, int | None]] = []
    neighbours: list[str] = []
    cases: list[tuple[PoisonCase, str]] = []
    for case in CORPUS:
        record = route(case.raw)
        partition = partition_for(record.key.decode(errors="replace"), PARTITIONS)
        before, after = _ref_on(partition, "NB"), _ref_on(partition, "NA")
        neighbours += [before, after]
        messages.append((INCIDENTS.name, before.encode(), _incident(before), partition))
        if case.preceded_by is not None:
            messages.append((record.topic, record.key, case.preceded_by, partition))
        messages.append((record.topic, record.key, case.raw, partition))
        messages.append((INCIDENTS.name, after.encode(), _incident(after), partition))
        cases.append((case, record.topic))
    await _send(fleet, messages)
    await wait_settled(fleet, [worker], timeout=180)
    alerts = await _alerts(fleet)
    letters = await _dead_letters(fleet)
    by_bytes: dict[str, list[dict[str, Any]]] = {}
    for letter in letters:
        by_bytes.setdefault(letter["original_b64"], []).append(letter)

    wrong: list[str] = []
    for case, topic in cases:
        found = by_bytes.get(_b64(case.raw), [])
        if isinstance(case.expected, DeadLetterReason):
            reasons = {letter["reason"] for letter in found}
            origins = {letter["origin"]["topic"] for letter in found}
            if reasons != {case.expected.value} or origins != {fleet.topic(topic)}:
                wrong.append(f"{case.name}: {sorted(reasons)} on {sorted(origins)}")
        elif found:
            wrong.append(f"{case.name}: dead-lettered {found[0]['reason']}, expected handled")
    assert wrong == [], "\n".join(wrong)

    def subject_alerts(ref: str) -> list[dict[str, Any]]:
        refs = ("incident_ref", "crime_ref")
        return [a for a in alerts if ref in (a["subject"][r] for r in refs)]

    assert _rec24h_breached(alerts) >= set(neighbours), "every valid neighbour breached REC-24H"
    assert "POISON-INC-1" in _rec24h_breached(alerts), "the accepted control was processed"
    assert "POISON-INC-PII" in _rec24h_breached(alerts), "extra fields dropped, event processed"
    duplicate = [a["alert_id"] for a in subject_alerts("POISON-INC-DUP")]
    assert duplicate, "the redelivered event's first copy was processed"
    assert len(duplicate) == len(set(duplicate)), "its second copy changed nothing"
    assert subject_alerts("POISON-CRI-NEVER-SEEN") == []
    assert subject_alerts("POISON-INC-NEVER-SEEN") == []
    handled = [c for c, _ in cases if isinstance(c.expected, Handled)]
    dead = [c for c, _ in cases if isinstance(c.expected, DeadLetterReason)]
    assert len(dead) >= 20, "at least twenty distinct kinds of bad input"
    metrics = await asyncio.to_thread(worker.metrics)
    assert metric_sum(metrics, "ncrs_dead_letters_total") >= len(dead)
    assert worker.running
    assert [s for s in health.samples if s.alive != 200] == [], "liveness held throughout"
    print(f"poison: {len(dead)} dead-lettered kinds, {len(handled)} handled kinds")  # noqa: T201


# --- personal data -------------------------------------------------------------------------


def _leaks(text: str) -> list[str]:
    """The sentinels in `text`, also JSON-escaped or in another case."""
    found = []
    for sentinel in SENTINELS:
        escaped = json.dumps(sentinel)[1:-1]
        if sentinel in text or escaped in text or sentinel.lower() in text.lower():
            found.append(sentinel)
    return found


def _linked_events(tag: str) -> list[dict[str, Any]]:
    """Linked events that open obligations of many rules, then one event of every type."""
    incident_ref, crime_ref, victim = f"PDI-{tag}", f"PDC-{tag}", f"PDV-{tag}"
    rape = make_disclosure(
        disclosure_id=f"PDD1-{tag}", offence_group=OffenceGroup.RAPE, victims=[victim]
    )
    other = make_disclosure(disclosure_id=f"PDD2-{tag}", victims=[victim, f"PDV2-{tag}"])
    events = [
        make_event_dict(
            "incident.reported",
            incident_ref=incident_ref,
            received_at=at(0),
            disclosures=[rape, other],
            flags={"domestic_abuse": True, "rape_alleged": True, "modern_slavery": True},
        ),
        make_event_dict(
            "crime.recorded",
            crime_ref=crime_ref,
            incident_ref=incident_ref,
            victim_pseudo_id=victim,
            disclosure_ids=[f"PDD2-{tag}"],
            reported_at=at(0),
            recorded_at=at(30),
        ),
        make_event_dict("crime.cancelled", crime_ref=crime_ref, victim_pseudo_id=victim),
        make_event_dict("crime.filed", crime_ref=crime_ref, victim_pseudo_id=victim),
        make_event_dict("incident.closed", incident_ref=f"PDI2-{tag}", closing_category="sexual"),
        make_event_dict("n100.recorded", incident_ref=incident_ref, reason="doubt_mental_health"),
    ]
    return events + [make_event_dict(event_type) for event_type in ALL_EVENT_TYPES]


def _wrong_typed(event_type: str) -> list[bytes]:
    """The event with a sentinel where a code, a count and a flag belong (each invalid)."""
    event = make_event_dict(event_type)
    out = []
    for path in (("actor_role",), ("force_code",), ("data",)):
        copy = json.loads(json.dumps(event))
        copy[path[0]] = {SENTINEL_NARRATIVE: SENTINEL_NAME} if path == ("data",) else SENTINEL_NAME
        out.append(json.dumps(copy).encode())
    return out


def _topic_of(event: dict[str, Any]) -> tuple[str, bytes]:
    spec = TOPIC_OF_TYPE[event["type"]]
    return spec.name, str(event[spec.key]).encode()


async def test_sentinel_personal_data_never_leaves_a_worker(
    fleet: Fleet, worker: Worker, health: HealthLog
) -> None:
    """No sentinel in alerts, work items, dead-letter text, worker logs or /metrics."""
    tag = uuid.uuid4().hex[:8]
    valid = [with_personal_data(event) for event in _linked_events(tag)]
    messages: list[tuple[str, bytes, bytes, int | None]] = []
    for event in valid:
        topic, key = _topic_of(event)
        messages.append((topic, key, json.dumps(event).encode(), None))
    invalid = [raw for event_type in ALL_EVENT_TYPES for raw in _wrong_typed(event_type)]
    for raw in invalid:
        record = route(raw)
        messages.append((record.topic, record.key, raw, None))
    await _send(fleet, messages)
    await wait_settled(fleet, [worker], timeout=180)

    alerts = await read_all(fleet.bootstrap, fleet.topic(ALERTS.name))
    ours = [json.loads(m.value) for m in alerts if m.value is not None and tag.encode() in m.value]
    assert len({a["rule_id"] for a in ours}) >= 5, "alerts of many rules were produced"
    texts = {"alerts": [m.value.decode() for m in alerts if m.value is not None]}
    items = []
    for spec in WORKQUEUE_TOPICS.values():
        items += await read_all(fleet.bootstrap, fleet.topic(spec.name))
    assert any(m.value is not None and tag.encode() in m.value for m in items), "items produced"
    texts["work_items"] = [m.value.decode() for m in items if m.value is not None]
    letters = await _dead_letters(fleet)
    sentinel_letters = [
        d for d in letters if _leaks(base64.b64decode(d["original_b64"]).decode(errors="replace"))
    ]
    assert len(sentinel_letters) >= len(invalid), "every invalid event was dead-lettered"
    texts["dead_letters"] = [
        json.dumps({k: v for k, v in d.items() if k != "original_b64"}) for d in letters
    ]
    texts["metrics"] = [await asyncio.to_thread(worker.metrics)]
    texts["log"] = [Path(worker.log).read_text(errors="replace")]
    leaked = {name: _leaks("\n".join(values)) for name, values in texts.items()}
    assert {name: found for name, found in leaked.items() if found} == {}
    assert worker.running
    assert [s for s in health.samples if s.alive != 200] == []
