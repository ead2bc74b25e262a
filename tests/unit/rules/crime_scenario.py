"""Scenario helpers for the crime-side and safeguarding rule tests: fixed-id builders, a runner.

A scenario is a list of steps: an event is processed, a datetime advances the event-time
watermark to it. `outcome` answers the alert lifecycle as a set of (rule, subject, stage), which
is what the table-driven tests compare; subjects are read back from the engine's obligations.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.alerts import AlertEvent
from schemas.codes import (
    ActorRole,
    AviType,
    CancellationClass,
    ClockKind,
    NotificationOutcome,
    NotificationType,
    OffenceGroup,
    ReferralStatus,
    RiskLevel,
    VictimType,
)
from schemas.events import Envelope
from streams.rules.engine import Clock, Engine
from streams.rules.family import RuleFamily
from streams.rules.model import Obligation
from tests.factories import (
    T0,
    make_cancellation_ratified,
    make_crime_cancelled,
    make_crime_filed,
    make_crime_reclassified,
    make_crime_recorded,
    make_crime_reinstated,
    make_crime_updated,
    make_equality_fields,
    make_incident_reported,
    make_nrm_referral_made,
    make_safeguarding_assessed,
    make_victim_care_referral,
    make_victim_notified,
)

INC = "INC-1"
CRIME = "C1"
MINUTE = timedelta(minutes=1)

Step = Envelope | datetime
Alert = tuple[str, str, str]


def h(hours: float, start: datetime = T0) -> datetime:
    """`start` (default T0, Tuesday 1 March 2016 09:00 UTC) plus elapsed hours."""
    return start + timedelta(hours=hours)


def utc(text: str) -> datetime:
    """An ISO timestamp without zone, read as UTC (`utc("2016-03-29T23:00")`)."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- crime side -----------------------------------------------------------------------------


def recorded(
    at: datetime = T0,
    *,
    reported: datetime | None = None,
    og: OffenceGroup = OffenceGroup.VIOLENCE,
    ho: str | None = None,
    victim_type: VictimType = VictimType.PERSON,
    enhanced: Sequence[str] = (),
    flags: dict[str, bool] | None = None,
    equality: dict[str, bool] | None = None,
    crime_ref: str = CRIME,
    incident_ref: str = INC,
    event_id: str = "EV-REC",
) -> Envelope:
    """The crime recorded at `at`, reported (received) at `reported` (default: the same)."""
    return make_crime_recorded(
        id=event_id,
        crime_ref=crime_ref,
        incident_ref=incident_ref,
        reported_at=reported or at,
        recorded_at=at,
        offence_group=og,
        home_office_code=ho or ("19C" if og is OffenceGroup.RAPE else "8N"),
        victim_type=victim_type,
        enhanced_entitlement=list(enhanced),
        flags=flags or {},
        equality_fields_present=make_equality_fields(**(equality or {})),
    )


def cancelled(
    at: datetime = T0,
    *,
    cls: CancellationClass = CancellationClass.C4,
    role: ActorRole = ActorRole.DDM,
    og: OffenceGroup = OffenceGroup.VIOLENCE,
    avi_present: bool = False,
    avi_type: AviType = AviType.NONE,
    surviving: str | None = None,
    event_id: str = "EV-CAN",
) -> Envelope:
    """The crime cancelled at `at` (default: C4 by a DDM, a valid cancellation of violence)."""
    return make_crime_cancelled(
        id=event_id,
        crime_ref=CRIME,
        incident_ref=INC,
        cancelled_at=at,
        cancellation_class=cls,
        decision_maker_role=role,
        offence_group=og,
        avi_present=avi_present,
        avi_type=avi_type,
        surviving_crime_ref=surviving,
    )


def ratified(
    at: datetime, *, role: ActorRole = ActorRole.FCR, event_id: str = "EV-RAT"
) -> Envelope:
    """A ratification of the cancellation at `at`."""
    return make_cancellation_ratified(
        id=event_id, crime_ref=CRIME, ratified_at=at, ratified_by_role=role
    )


def reinstated(at: datetime, *, event_id: str = "EV-REI") -> Envelope:
    """The crime reinstated at `at`."""
    return make_crime_reinstated(id=event_id, crime_ref=CRIME, reinstated_at=at)


def notified(
    at: datetime,
    *,
    kind: NotificationType = NotificationType.CANCELLATION,
    outcome: NotificationOutcome = NotificationOutcome.DELIVERED,
    rationale: bool = False,
    event_id: str = "EV-NOT",
) -> Envelope:
    """The victim notified at `at` (default: told of a cancellation, delivered)."""
    return make_victim_notified(
        id=event_id,
        crime_ref=CRIME,
        notified_at=at,
        notification_type=kind,
        outcome=outcome,
        rationale_present=rationale,
    )


def referral(
    at: datetime, status: ReferralStatus = ReferralStatus.MADE, *, event_id: str = "EV-REF"
) -> Envelope:
    """A victim-care referral status at `at`."""
    return make_victim_care_referral(id=event_id, crime_ref=CRIME, at=at, status=status)


def updated(at: datetime, *, event_id: str = "EV-UPD", **equality: bool) -> Envelope:
    """The crime updated at `at` with the given equality fields present (default age and sex)."""
    return make_crime_updated(
        id=event_id,
        crime_ref=CRIME,
        updated_at=at,
        equality_fields_present=make_equality_fields(**equality),
    )


def filed(at: datetime, role: ActorRole, *, event_id: str = "EV-FIL") -> Envelope:
    """The crime filed at `at` by `role`."""
    return make_crime_filed(id=event_id, crime_ref=CRIME, filed_at=at, filed_by_role=role)


def reclassified(
    at: datetime, *, og: OffenceGroup, ho: str, crime_ref: str = CRIME, event_id: str = "EV-RCL"
) -> Envelope:
    """The crime (linked to INC) reclassified at `at`."""
    return make_crime_reclassified(
        id=event_id,
        crime_ref=crime_ref,
        incident_ref=INC,
        reclassified_at=at,
        offence_group=og,
        home_office_code=ho,
    )


# --- incident side --------------------------------------------------------------------------


def incident(
    at: datetime = T0, *, flags: dict[str, bool] | None = None, event_id: str = "EV-INC"
) -> Envelope:
    """The incident received at `at` with the given flags."""
    return make_incident_reported(id=event_id, incident_ref=INC, received_at=at, flags=flags or {})


def assessed(
    at: datetime,
    risk: RiskLevel = RiskLevel.STANDARD,
    *,
    marac: bool = False,
    event_id: str = "EV-SAF",
) -> Envelope:
    """A safeguarding assessment of the incident at `at`."""
    return make_safeguarding_assessed(
        id=event_id, incident_ref=INC, assessed_at=at, risk_level=risk, marac_referral=marac
    )


def nrm(at: datetime, *, child: bool = False, event_id: str = "EV-NRM") -> Envelope:
    """An NRM referral on the incident at `at`."""
    return make_nrm_referral_made(id=event_id, incident_ref=INC, referred_at=at, child_victim=child)


# --- running --------------------------------------------------------------------------------


def engine_for(family: RuleFamily, **kwargs: Any) -> Engine:
    """An engine running only `family` (kwargs: staleness, retention)."""
    return Engine([family], **kwargs)


def run(engine: Engine, steps: Sequence[Step]) -> list[AlertEvent]:
    """Feed the steps (events processed, datetimes advance the watermark), then the end."""
    out: list[AlertEvent] = []
    latest: datetime | None = None
    for step in steps:
        if isinstance(step, datetime):
            effects = engine.advance(Clock(step, ClockKind.EVENT_TIME_WATERMARK))
        else:
            effects = engine.process(step)
        moment = step if isinstance(step, datetime) else step.time
        latest = moment if latest is None or moment > latest else latest
        out.extend(e for e in effects if isinstance(e, AlertEvent))
    if latest is not None:  # end of input: the clock reaches the last moment, as replay does
        effects = engine.advance(Clock(latest, ClockKind.EVENT_TIME_WATERMARK))
        out.extend(e for e in effects if isinstance(e, AlertEvent))
    return out


def obligations(engine: Engine, rule: str | None = None) -> list[Obligation]:
    """Every obligation the engine holds (of one rule), open or closed."""
    return [
        ob
        for case in engine.cases.values()
        for ob in case.obligations.values()
        if rule is None or ob.rule_id == rule
    ]


def outcome(
    family: RuleFamily, steps: Sequence[Step], *, rule: str | None = None, **kwargs: Any
) -> set[Alert]:
    """(rule, subject, stage) of every alert the family raises over the steps (of one rule)."""
    engine = engine_for(family, **kwargs)
    alerts = run(engine, steps)
    subjects = {ob.obligation_id: ob.subject for ob in obligations(engine)}
    return {
        (a.rule_id, subjects.get(a.obligation_id, a.obligation_id), a.stage.value)
        for a in alerts
        if a.rule_id in family.rule_ids and (rule is None or a.rule_id == rule)
    }
