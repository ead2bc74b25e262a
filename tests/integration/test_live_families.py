"""Each rule family end to end through one live worker on the real broker.

Per family: the trigger is produced to its input topic; the expected alert arrives on
ncrs.alerts.v1 and the open item on the owning work-queue topic; then a satisfying event that
arrives late (after the alert) closes the obligation, as resolved_late or, when its own time
was before the deadline, retracted, and the item is tombstoned. One worker serves all cases
(unique refs); event times are in 2016, so every deadline is already due.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from schemas.codes import ActorRole, OffenceGroup, Queue
from schemas.events import Envelope
from tests.factories import (
    at,
    make_cancellation_ratified,
    make_crime_cancelled,
    make_crime_recorded,
    make_crime_recording,
    make_crime_updated,
    make_disclosure,
    make_equality_fields,
    make_incident_reported,
    make_n100_recorded,
    make_safeguarding_assessed,
    make_victim_care_referral,
)
from tests.integration.kit import Fleet, Reader, Worker, about, produce_events, unique

Keyed = list[tuple[str, Envelope]]


@dataclass(frozen=True)
class Case:
    """One family's scenario: trigger, the alert it must raise, and the late fix."""

    rule: str
    queue: Queue
    ref: str
    trigger: Keyed
    fix: Keyed
    closing: str  # the stage the late fix announces: resolved_late or retracted


def recording() -> Case:
    """REC-24H: an incident breaches; its crime record, made in time, arrives late: retracted."""
    ref, crime_ref = unique("INC"), unique("CRI")
    disclosure = make_disclosure()
    crime = make_crime_recording(
        disclosure,
        incident_ref=ref,
        crime_ref=crime_ref,
        reported_at=at(0),
        recorded_at=at(2),
    )
    reported = make_incident_reported(incident_ref=ref, received_at=at(0), disclosures=[disclosure])
    return Case("REC-24H", Queue.OMU, ref, [(ref, reported)], [(crime_ref, crime)], "retracted")


def n100() -> Case:
    """N100: a rape report neither recorded nor N100'd in 24 h; an N100 30 h later."""
    ref = unique("INC")
    disclosure = make_disclosure(offence_group=OffenceGroup.RAPE)
    reported = make_incident_reported(
        incident_ref=ref,
        received_at=at(0),
        disclosures=[disclosure],
        flags={"rape_alleged": True, "sexual": True},
    )
    late = make_n100_recorded(
        incident_ref=ref,
        n100_ref=unique("N100"),
        recorded_at=at(30),
        disclosure_id=disclosure.disclosure_id,
    )
    return Case("N100", Queue.FCR, ref, [(ref, reported)], [(ref, late)], "resolved_late")


def cancellation() -> Case:
    """CANCEL-AUTHORITY: a crime cancelled by OMU staff (no authority); ratified by the FCR."""
    crime_ref = unique("CRI")
    cancelled = make_crime_cancelled(
        crime_ref=crime_ref, cancelled_at=at(0), decision_maker_role=ActorRole.OMU_STAFF
    )
    ratified = make_cancellation_ratified(crime_ref=crime_ref, ratified_at=at(5))
    return Case(
        "CANCEL-AUTHORITY",
        Queue.FCR,
        crime_ref,
        [(crime_ref, cancelled)],
        [(crime_ref, ratified)],
        "resolved_late",
    )


def victim_care() -> Case:
    """CARE-REFERRAL: no victim-care referral within 2 working days; one made 10 days later."""
    crime_ref = unique("CRI")
    crime = make_crime_recorded(
        crime_ref=crime_ref, incident_ref=unique("INC"), reported_at=at(0), recorded_at=at(1)
    )
    referral = make_victim_care_referral(crime_ref=crime_ref, at=at(24 * 10))
    return Case(
        "CARE-REFERRAL",
        Queue.VICTIM_CARE,
        crime_ref,
        [(crime_ref, crime)],
        [(crime_ref, referral)],
        "resolved_late",
    )


def safeguarding() -> Case:
    """DA-SAFEGUARDING: a domestic-abuse incident unassessed for 24 h; assessed at 30 h."""
    ref = unique("INC")
    reported = make_incident_reported(
        incident_ref=ref,
        received_at=at(0),
        disclosures=[make_disclosure()],
        flags={"domestic_abuse": True},
    )
    assessed = make_safeguarding_assessed(incident_ref=ref, assessed_at=at(30))
    return Case(
        "DA-SAFEGUARDING", Queue.PPU, ref, [(ref, reported)], [(ref, assessed)], "resolved_late"
    )


def data_quality() -> Case:
    """EQUALITY-DATA: a crime recorded without the victim's age; completed 10 days later."""
    crime_ref = unique("CRI")
    crime = make_crime_recorded(
        crime_ref=crime_ref,
        incident_ref=unique("INC"),
        reported_at=at(0),
        recorded_at=at(1),
        equality_fields_present=make_equality_fields(age=False),
    )
    updated = make_crime_updated(crime_ref=crime_ref, updated_at=at(24 * 10))
    return Case(
        "EQUALITY-DATA",
        Queue.DATA_QUALITY,
        crime_ref,
        [(crime_ref, crime)],
        [(crime_ref, updated)],
        "resolved_late",
    )


FAMILIES: dict[str, Callable[[], Case]] = {
    "recording": recording,
    "n100": n100,
    "cancellation": cancellation,
    "victim_care": victim_care,
    "safeguarding": safeguarding,
    "data_quality": data_quality,
}


@pytest.fixture(scope="module")
def fleet(bootstrap: str) -> Fleet:
    """This module's topics and consumer group."""
    created = Fleet(bootstrap, unique("lf"))
    created.create_topics()
    return created


@pytest.fixture(scope="module")
def worker(fleet: Fleet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    """One worker for every family's case."""
    w = Worker(fleet, tmp_path_factory.mktemp("families"))
    w.start()
    yield w
    w.stop_quietly()


def _alert(reader: Reader, topic: str, case: Case, stage: str) -> dict[str, Any] | None:
    return next(
        (
            a
            for a in reader.values(topic)
            if a["rule_id"] == case.rule and a["stage"] == stage and about(a, case.ref)
        ),
        None,
    )


@pytest.mark.parametrize("family", list(FAMILIES))
async def test_family__alert_and_work_item_then_late_fix_closes_the_item(
    family: str, fleet: Fleet, worker: Worker
) -> None:
    """Trigger -> breached alert and open item on the owning queue; late fix -> the closing
    stage on the alerts topic and a tombstone for the item."""
    case = FAMILIES[family]()
    alerts, queue = fleet.topic("ncrs.alerts.v1"), fleet.queue_topic(case.queue)
    await produce_events(fleet, case.trigger)
    async with Reader(fleet.bootstrap, [alerts, queue]) as out:
        await out.until(
            lambda r: _alert(r, alerts, case, "breached") is not None, what=f"{case.rule} breach"
        )
        breach = _alert(out, alerts, case, "breached")
        assert breach is not None
        item_id = breach["obligation_id"]
        assert breach["queue"] == case.queue.value
        await out.until(lambda r: item_id in r.open_items(queue), what="open work item")
        item = out.open_items(queue)[item_id]
        assert (item["rule_id"], item["severity"]) == (case.rule, breach["severity"])

        await produce_events(fleet, case.fix)
        await out.until(
            lambda r: _alert(r, alerts, case, case.closing) is not None, what=case.closing
        )
        await out.until(
            lambda r: (
                item_id.encode() in r.latest(queue) and r.latest(queue)[item_id.encode()] is None
            ),
            what="tombstone",
        )
    assert item_id not in out.open_items(queue)
