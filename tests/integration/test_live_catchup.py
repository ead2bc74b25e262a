"""Catch-up: a worker draining a backlog decides on the inputs' event time, not the wall clock.

The backlog is loaded before the worker starts: incidents first, then their crime records,
recorded in time but placed on their topic after every incident (as after an outage of the
records system's feed, or when the worker restarts behind both). Deciding on the wall clock
would breach each recorded incident before its crime record had been read, and retract the
breach moments later. The live decision clock (streams/live/clock.py) holds each partition at
the event time the lagging inputs have reached, so only the incidents that really were never
recorded breach, and they do once the backlog is drained.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import make_crime_recording, make_disclosure, make_incident_reported
from tests.integration.kit import (
    Fleet,
    Reader,
    Worker,
    produce_events,
    unique,
    wait_committed,
)

REC = "REC-24H"
INCIDENTS = 3000
TICK_SECONDS = "0.2"
"""Ticks this often make the clock known while the backlog is still draining."""
RECORDED_SHARE = 3  # two of every three incidents are recorded in time


async def test_catchup__backlog_of_late_read_crime_records_raises_no_false_breaches(
    bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """No REC-24H breach/retraction pair for incidents recorded in time whose crime records sit
    behind them in the backlog; every incident never recorded still breaches."""
    fleet = Fleet(bootstrap, unique("lc"))
    await asyncio.to_thread(fleet.create_topics)
    t0 = datetime.now(UTC) - timedelta(days=3)
    incidents, crimes, recorded, unrecorded = [], [], set(), set()
    for i in range(INCIDENTS):
        ref = unique("INC")
        disclosure = make_disclosure()
        received = t0 + timedelta(seconds=2 * i)
        incidents.append(
            (
                ref,
                make_incident_reported(
                    incident_ref=ref, received_at=received, disclosures=[disclosure]
                ),
            )
        )
        if i % RECORDED_SHARE:
            unrecorded.add(ref)
            continue
        recorded.add(ref)
        crime_ref = unique("CRI")
        crimes.append(
            (
                crime_ref,
                make_crime_recording(
                    disclosure,
                    incident_ref=ref,
                    crime_ref=crime_ref,
                    reported_at=received,
                    recorded_at=received + timedelta(hours=2),
                ),
            )
        )
    await produce_events(fleet, incidents + crimes)  # every incident before any crime record

    worker = Worker(
        fleet,
        tmp_path_factory.mktemp("catchup"),
        extra_env={"NCRS_TICK_INTERVAL_SECONDS": TICK_SECONDS},
    )
    await asyncio.to_thread(worker.start)
    try:
        await wait_committed(
            fleet, [fleet.topic("ncrs.incidents.v1"), fleet.topic("ncrs.crime-records.v1")]
        )
        alerts = fleet.topic("ncrs.alerts.v1")
        async with Reader(fleet.bootstrap, [alerts]) as out:

            def breached(ref_set: set[str]) -> set[str]:
                return {
                    a["subject"]["incident_ref"]
                    for a in out.values(alerts)
                    if a["rule_id"] == REC
                    and a["stage"] == "breached"
                    and a["subject"]["incident_ref"] in ref_set
                }

            await out.until(lambda r: breached(unrecorded) == unrecorded, what="every true breach")
            await out.settle(2.0)
    finally:
        worker.stop_quietly()
    ours = [a for a in out.values(alerts) if a["rule_id"] == REC and a["subject"]["incident_ref"]]
    about_recorded = Counter(a["stage"] for a in ours if a["subject"]["incident_ref"] in recorded)
    summary = f"{len(recorded)} recorded incidents, alerts about them: {dict(about_recorded)}"
    print(f"catch-up: {summary}")  # noqa: T201 - the figure the test reports
    assert about_recorded == Counter()
    assert breached(unrecorded) == unrecorded
