"""Scenario helpers for the rule-family tests: fixed refs, event builders and a runner.

A scenario is a list of steps: an event is processed, a datetime advances the event-time
watermark to it. The runner answers the alert lifecycle as a set of (rule, subject, stage), which
is what the table-driven tests compare.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from schemas.alerts import AlertEvent
from schemas.codes import (
    ClockKind,
    ClosureOutcome,
    IncidentCategory,
    N100Outcome,
    N100Reason,
    OffenceGroup,
    ReviewType,
)
from schemas.events import Envelope
from streams.rules.engine import Clock, Effect, Engine
from streams.rules.family import RuleFamily
from tests.factories import (
    T0,
    make_crime_reclassified,
    make_crime_recorded,
    make_disclosure,
    make_disclosure_added,
    make_incident_closed,
    make_incident_reported,
    make_incident_reviewed,
    make_n100_recorded,
    make_n100_resolved,
)

INC = "INC-1"
WATERMARK = ClockKind.EVENT_TIME_WATERMARK

Step = Envelope | datetime
Alert = tuple[str, str, str]


def h(hours: float, start: datetime = T0) -> datetime:
    """`start` plus elapsed hours."""
    return start + timedelta(hours=hours)


def incident(
    hours: float = 0.0,
    *,
    start: datetime = T0,
    og: OffenceGroup = OffenceGroup.VIOLENCE,
    victims: Sequence[str] = ("V1",),
    did: str = "D1",
    offenders: int = 1,
    flags: dict[str, bool] | None = None,
    enhanced: Sequence[str] = (),
    disclosures: list[Any] | None = None,
    ref: str = INC,
) -> Envelope:
    """An incident received at `hours` with one disclosure (or the given list)."""
    if disclosures is None:
        disclosures = [
            make_disclosure(
                disclosure_id=did,
                offence_group=og,
                victims=list(victims),
                offender_count=offenders,
            )
        ]
    return make_incident_reported(
        incident_ref=ref,
        received_at=h(hours, start),
        disclosures=disclosures,
        flags=flags or {},
        enhanced_entitlement=list(enhanced),
    )


def further(
    hours: float,
    *,
    start: datetime = T0,
    did: str = "D2",
    og: OffenceGroup = OffenceGroup.VIOLENCE,
    victims: Sequence[str] = ("V2",),
    ref: str = INC,
) -> Envelope:
    """A further disclosure added at `hours`."""
    return make_disclosure_added(
        incident_ref=ref,
        disclosed_at=h(hours, start),
        disclosure=make_disclosure(disclosure_id=did, offence_group=og, victims=list(victims)),
    )


def crime(
    hours: float,
    *,
    start: datetime = T0,
    crime_ref: str = "C1",
    did: str | None = "D1",
    victim: str = "V1",
    og: OffenceGroup = OffenceGroup.VIOLENCE,
    ref: str = INC,
) -> Envelope:
    """A crime on the incident recorded at `hours`, linked to `did` (None: by victim only)."""
    return make_crime_recorded(
        incident_ref=ref,
        crime_ref=crime_ref,
        victim_pseudo_id=victim,
        disclosure_ids=[did] if did else [],
        reported_at=start,
        recorded_at=h(hours, start),
        offence_group=og,
        home_office_code="19C" if og is OffenceGroup.RAPE else "8N",
    )


def closed(
    hours: float,
    *,
    start: datetime = T0,
    outcome: ClosureOutcome = ClosureOutcome.NON_CRIME,
    category: IncidentCategory = IncidentCategory.DOMESTIC_ABUSE,
    rationale: bool = True,
    supervisor_review: bool = False,
    crimes: Sequence[str] = (),
    n100s: Sequence[str] = (),
) -> Envelope:
    """The incident closed at `hours`."""
    return make_incident_closed(
        incident_ref=INC,
        closed_at=h(hours, start),
        outcome=outcome,
        closing_category=category,
        rationale_present=rationale,
        supervisor_review=supervisor_review,
        linked_crime_refs=list(crimes),
        linked_n100_refs=list(n100s),
    )


def reviewed(
    hours: float,
    *,
    review_type: ReviewType = ReviewType.SUPERVISOR_CRIME_RECORDING,
    ref: str = INC,
) -> Envelope:
    """A review of the incident at `hours`."""
    return make_incident_reviewed(incident_ref=ref, reviewed_at=h(hours), review_type=review_type)


def n100(
    hours: float,
    *,
    start: datetime = T0,
    n100_ref: str = "N1",
    did: str | None = "D1",
    reason: N100Reason = N100Reason.OCCURRED_OTHER_FORCE,
) -> Envelope:
    """An N100 recorded at `hours` (for `did`, or for the incident when None)."""
    return make_n100_recorded(
        incident_ref=INC,
        n100_ref=n100_ref,
        disclosure_id=did,
        recorded_at=h(hours, start),
        reason=reason,
    )


def n100_resolved(
    hours: float,
    *,
    n100_ref: str = "N1",
    outcome: N100Outcome = N100Outcome.TRANSFERRED,
) -> Envelope:
    """The N100 resolved at `hours`."""
    return make_n100_resolved(
        incident_ref=INC, n100_ref=n100_ref, resolved_at=h(hours), outcome=outcome
    )


def reclassified(
    hours: float,
    *,
    crime_ref: str = "C1",
    og: OffenceGroup = OffenceGroup.RAPE,
    ratified: bool = False,
) -> Envelope:
    """The crime reclassified at `hours`."""
    return make_crime_reclassified(
        incident_ref=INC,
        crime_ref=crime_ref,
        reclassified_at=h(hours),
        offence_group=og,
        home_office_code="19C" if og is OffenceGroup.RAPE else "8N",
        ratified_by_fcr=ratified,
    )


def run(engine: Engine, steps: Sequence[Step]) -> list[Effect]:
    """Feed the steps: events are processed, datetimes advance the watermark, then the end."""
    effects: list[Effect] = []
    latest: datetime | None = None
    for step in steps:
        if isinstance(step, datetime):
            effects.extend(engine.advance(Clock(step, WATERMARK)))
        else:
            effects.extend(engine.process(step))
        moment = step if isinstance(step, datetime) else step.time
        latest = moment if latest is None or moment > latest else latest
    if latest is not None:  # end of input: the clock reaches the last moment, as replay does
        effects.extend(engine.advance(Clock(latest, WATERMARK)))
    return effects


def alerts(effects: Sequence[Effect]) -> list[AlertEvent]:
    """The alert events among the effects."""
    return [e for e in effects if isinstance(e, AlertEvent)]


def alert_set(engine: Engine, effects: Sequence[Effect], family: RuleFamily) -> set[Alert]:
    """(rule, subject, stage) of every alert of the family's rules; subjects from the engine."""
    subjects = {
        ob.obligation_id: ob.subject
        for case in engine.cases.values()
        for ob in case.obligations.values()
    }
    return {
        (a.rule_id, subjects.get(a.obligation_id, a.obligation_id), a.stage.value)
        for a in alerts(effects)
        if a.rule_id in family.rule_ids
    }
