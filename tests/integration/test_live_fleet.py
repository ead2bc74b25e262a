"""A fleet of live workers: shared partitions, restarts after SIGTERM and after kill -9.

Inputs are loaded before the workers start, so the result cannot depend on when a worker
happened to read what (the decision clock holds each partition while inputs lag, see
streams/live/clock.py); event times are in 2016, so every deadline is already due.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from schemas.codes import Queue
from schemas.events import Envelope
from tests.factories import at, make_crime_recording, make_disclosure, make_incident_reported
from tests.integration.kit import (
    Fleet,
    Reader,
    Worker,
    metric_value,
    produce_events,
    unique,
    wait_committed,
)

REC = "REC-24H"
pytestmark = pytest.mark.slow


def mixed_input(incidents: int) -> list[tuple[str, Envelope]]:
    """Incidents on every partition: a third never recorded, a third recorded in time with the
    record produced before the incident, a third with it produced after (order matters to no
    decision). Crime records open the crime-side duties (referral, confirmation)."""
    before: list[tuple[str, Envelope]] = []
    middle: list[tuple[str, Envelope]] = []
    after: list[tuple[str, Envelope]] = []
    for i in range(incidents):
        ref, crime_ref = unique("INC"), unique("CRI")
        disclosure = make_disclosure()
        reported = make_incident_reported(
            incident_ref=ref, received_at=at(i / 60), disclosures=[disclosure]
        )
        middle.append((ref, reported))
        if i % 3 == 0:
            continue
        crime = make_crime_recording(
            disclosure,
            incident_ref=ref,
            crime_ref=crime_ref,
            reported_at=at(i / 60),
            recorded_at=at(i / 60 + 2),
        )
        (before if i % 3 == 1 else after).append((crime_ref, crime))
    return before + middle + after


def alert_set(reader: Reader, topic: str) -> set[tuple[str, str]]:
    """(alert id, stage) of every alert on the topic."""
    return {(a["alert_id"], a["stage"]) for a in reader.values(topic)}


async def _start(workers: list[Worker]) -> None:
    for w in workers:
        w.spawn()
    await asyncio.gather(*(asyncio.to_thread(w.wait_ready) for w in workers))


async def _drained(fleet: Fleet) -> None:
    inputs = [fleet.topic(f"ncrs.{name}.v1") for name in ("incidents", "crime-records")]
    await wait_committed(fleet, inputs)


def _consumed(worker: Worker) -> float:
    text = worker.metrics()
    return sum(
        metric_value(text, "ncrs_events_consumed_total", {"topic": topic, "type": kind}) or 0.0
        for topic, kind in (
            ("ncrs.incidents.v1", "incident.reported"),
            ("ncrs.crime-records.v1", "crime.recorded"),
        )
    )


async def test_fleet__two_workers_share_partitions_and_raise_the_alerts_one_worker_raises(
    bootstrap: str, tmp_path: Path
) -> None:
    """The same backlog (and then more input) through one worker and through two: the same
    alert ids and stages, and the same open work items; both workers of the pair consumed and
    the pair committed everything."""
    events = mixed_input(900)
    # Once both fleets have drained the backlog: incidents only, so arrival order cannot
    # matter, spread over every partition and so over both workers of the pair.
    more = [
        (
            ref,
            make_incident_reported(
                incident_ref=ref, received_at=at(5), disclosures=[make_disclosure()]
            ),
        )
        for ref in (unique("INC") for _ in range(150))
    ]
    solo, pair = Fleet(bootstrap, unique("lfs")), Fleet(bootstrap, unique("lfp"))
    for fleet in (solo, pair):
        await asyncio.to_thread(fleet.create_topics)
        await produce_events(fleet, events)
    one = [Worker(solo, tmp_path / "solo")]
    two = [Worker(pair, tmp_path / f"pair{i}", label=f"w{i}") for i in (1, 2)]
    outputs: dict[str, dict[str, Any]] = {}
    try:
        await _start(one + two)
        await _drained(solo)  # one worker commits as it goes; the pair is compared by output
        await _same_alerts(solo, pair)
        before = [_consumed(w) for w in two]
        for fleet in (solo, pair):
            await produce_events(fleet, more)
        await _drained(solo)
        outputs = await _same_alerts(solo, pair)
        after = [_consumed(w) for w in two]
        # The pair commits all it processed too, partitions kept across its rebalance included
        # (test_live_rebalance.py makes that case certain).
        await _drained(pair)
    finally:
        for w in one + two:
            w.stop_quietly()
    expected, got = outputs[solo.name], outputs[pair.name]
    assert len(expected["alerts"]) > 900 + 3 * len(more)
    assert got["alerts"] == expected["alerts"]
    assert got["items"] == expected["items"]
    assert all(a > b for a, b in zip(after, before, strict=True)), (before, after)


async def _same_alerts(solo: Fleet, pair: Fleet) -> dict[str, dict[str, Any]]:
    """Both fleets' alerts and open items, once the pair has every alert the solo worker has."""
    outputs: dict[str, dict[str, Any]] = {}
    for fleet in (solo, pair):
        alerts = fleet.topic("ncrs.alerts.v1")
        queues = [fleet.queue_topic(q) for q in Queue]
        async with Reader(fleet.bootstrap, [alerts, *queues]) as out:
            if fleet is pair:
                wanted = outputs[solo.name]["alerts"]
                await out.until(
                    lambda r: alert_set(r, alerts) >= wanted,  # noqa: B023 - used at once
                    timeout=90,
                    what="the solo worker's alerts",
                )
            await out.settle(2.0)
            outputs[fleet.name] = {
                "alerts": alert_set(out, alerts),
                "items": {q: set(out.open_items(fleet.queue_topic(q))) for q in Queue},
            }
    return outputs


async def test_fleet__restart_after_sigterm_recovers_state_and_duplicates_nothing(
    bootstrap: str, tmp_path: Path
) -> None:
    """After SIGTERM (exit 0) and restart, a re-sent event alerts nothing new, no item reopens,
    and no alert is emitted twice."""
    fleet = Fleet(bootstrap, unique("lrs"))
    await asyncio.to_thread(fleet.create_topics)
    worker = Worker(fleet, tmp_path)
    ref, marker = unique("INC"), unique("INC")
    reported = make_incident_reported(
        incident_ref=ref, received_at=at(0), disclosures=[make_disclosure()]
    )
    alerts, omu = fleet.topic("ncrs.alerts.v1"), fleet.queue_topic("omu")
    await asyncio.to_thread(worker.start)
    try:
        await produce_events(fleet, [(ref, reported)])
        async with Reader(bootstrap, [alerts]) as out:
            await out.until(lambda r: len(r.values(alerts)) >= 3, what="REC-24H stages")
        before = alert_set(out, alerts)
        code, _ = await asyncio.to_thread(worker.terminate)
        assert code == 0
        await asyncio.to_thread(worker.start)
        later = make_incident_reported(
            incident_ref=marker, received_at=at(0), disclosures=[make_disclosure()]
        )
        await produce_events(fleet, [(ref, reported), (ref, later)])
        async with Reader(bootstrap, [alerts, omu]) as out:
            await out.until(
                lambda r: any(a["subject"]["incident_ref"] == marker for a in r.values(alerts)),
                what="the marker's alerts",
            )
            await out.settle(1.0)
    finally:
        worker.stop_quietly()
    ours = [a for a in out.values(alerts) if a["subject"]["incident_ref"] == ref]
    duplicates = len(ours) - len({a["alert_id"] for a in ours})
    print(f"raw duplicate alerts across a graceful restart: {duplicates}")  # noqa: T201 - reported
    assert {(a["alert_id"], a["stage"]) for a in ours} == before
    assert duplicates == 0
    history = [v for k, v in out.records[omu] if k == ours[0]["obligation_id"].encode()]
    assert None not in history


async def test_fleet__worker_killed_mid_backlog_opens_no_second_work_item(
    bootstrap: str, tmp_path: Path
) -> None:
    """kill -9 while draining, restart: every expected alert is there once by id, each breached
    obligation has exactly one open item that was never closed and reopened; the raw duplicate
    alerts the redone batch re-emitted are counted and printed."""
    fleet = Fleet(bootstrap, unique("lk"))
    await asyncio.to_thread(fleet.create_topics)
    refs = [unique("INC") for _ in range(1500)]
    events = [
        (
            ref,
            make_incident_reported(
                incident_ref=ref, received_at=at(i / 60), disclosures=[make_disclosure()]
            ),
        )
        for i, ref in enumerate(refs)
    ]
    await produce_events(fleet, events)
    alerts, omu = fleet.topic("ncrs.alerts.v1"), fleet.queue_topic("omu")
    # Static membership: the restarted worker takes the killed one's place at once instead of
    # waiting out its session timeout (as a StatefulSet pod does).
    worker = Worker(fleet, tmp_path, static=True)
    try:
        await asyncio.to_thread(worker.start)
        async with Reader(bootstrap, [alerts]) as out:
            await out.until(lambda r: len(r.values(alerts)) > 0, what="the first alerts")
        await asyncio.to_thread(worker.kill)
        killed_after = len(out.values(alerts))
        await asyncio.to_thread(worker.start)
        async with Reader(bootstrap, [alerts, omu]) as out:
            await out.until(
                lambda r: len(alert_set(r, alerts)) >= 3 * len(refs), what="all REC-24H stages"
            )
            await out.until(lambda r: len(r.open_items(omu)) >= len(refs), what="all items")
            await out.settle(2.0)
        # Re-send some already-alerted incidents (a producer's retry): nothing new may come.
        await produce_events(fleet, events[:50])
        await wait_committed(fleet, [fleet.topic("ncrs.incidents.v1")])
        async with Reader(bootstrap, [alerts, omu]) as final:
            await final.settle(3.0)
    finally:
        worker.stop_quietly()
    ids = Counter(a["alert_id"] for a in final.values(alerts))
    duplicates = sum(ids.values()) - len(ids)
    print(  # noqa: T201 - the figure the issue asks to report
        f"kill -9 after {killed_after} alert records: {len(ids)} distinct alerts, "
        f"{duplicates} raw duplicates on ncrs.alerts.v1"
    )
    assert {(a["rule_id"], a["stage"]) for a in final.values(alerts)} == {
        (REC, "due_soon"),
        (REC, "breached"),
        (REC, "escalated"),
    }
    assert len(ids) == 3 * len(refs)
    items = final.open_items(omu)
    assert len(items) == len(refs)
    assert {i["subject"]["incident_ref"] for i in items.values()} == set(refs)
    closed = {k for k, v in final.records[omu] if v is None}
    assert closed == set()  # no item was ever closed, so none can have been reopened
