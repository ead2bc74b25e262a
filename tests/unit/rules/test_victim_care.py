"""CARE-REFERRAL and CRIME-CONFIRMATION: every outcome, cause, order, duplicates, working days."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from schemas.codes import (
    Cause,
    NotificationOutcome,
    NotificationType,
    OffenceGroup,
    ReferralStatus,
    Severity,
    Stage,
    VictimType,
)
from streams.rules.victim_care import CARE_REFERRAL, CRIME_CONFIRMATION, FAMILY
from tests.factories import T0, make_victim_notified
from tests.unit.rules.crime_scenario import (
    CRIME,
    MINUTE,
    Step,
    engine_for,
    h,
    notified,
    obligations,
    outcome,
    recorded,
    referral,
    run,
    utc,
)

# T0 is Tuesday 1 March 2016 09:00 UTC (GMT).
TWO_WD = utc("2016-03-04T00:00")
FIVE_WD = utc("2016-03-09T00:00")
ONE_WD = utc("2016-03-03T00:00")

REF_BREACHED = {(CARE_REFERRAL, CRIME, "breached")}
REF_LATE = REF_BREACHED | {(CARE_REFERRAL, CRIME, "resolved_late")}
CONF_BREACHED = {(CRIME_CONFIRMATION, CRIME, "breached")}
CONF_LATE = CONF_BREACHED | {(CRIME_CONFIRMATION, CRIME, "resolved_late")}


def confirmed(
    at: datetime,
    outcome: NotificationOutcome = NotificationOutcome.DELIVERED,
    *,
    rationale: bool = False,
) -> Step:
    """Written confirmation of the crime record sent at `at`."""
    return notified(at, kind=NotificationType.CRIME_RECORDED, outcome=outcome, rationale=rationale)


REFERRAL_CASES: list[tuple[str, list[Step], set[tuple[str, str, str]]]] = [
    ("referral_made_in_time_is_no_alert", [recorded(), referral(h(24)), TWO_WD], set()),
    ("no_referral_breaches_after_two_working_days", [recorded(), TWO_WD], REF_BREACHED),
    ("not_breached_a_minute_before_the_deadline", [recorded(), TWO_WD - MINUTE], set()),
    (
        "referral_after_the_breach_resolves_late",
        [recorded(), TWO_WD, referral(TWO_WD + MINUTE), TWO_WD + MINUTE],
        REF_LATE,
    ),
    (
        "late_arriving_referral_dated_in_time_retracts_breach",
        [recorded(), TWO_WD, referral(h(24))],
        REF_BREACHED | {(CARE_REFERRAL, CRIME, "retracted")},
    ),
    *(
        (
            f"status_{status.value}_satisfies",
            [recorded(), referral(h(2), status), TWO_WD],
            set(),
        )
        for status in (
            ReferralStatus.DECLINED,
            ReferralStatus.CONSENT_REFUSED,
            ReferralStatus.SELF_REFERRED,
            ReferralStatus.NOT_ELIGIBLE,
        )
    ),
    (
        "consent_requested_alone_does_not_satisfy_for_a_sexual_offence",
        [
            recorded(og=OffenceGroup.OTHER_SEXUAL),
            referral(h(2), ReferralStatus.CONSENT_REQUESTED),
            TWO_WD,
        ],
        REF_BREACHED,
    ),
    (
        "consent_requested_then_refused_in_time_satisfies",
        [
            recorded(og=OffenceGroup.OTHER_SEXUAL),
            referral(h(2), ReferralStatus.CONSENT_REQUESTED),
            referral(h(20), ReferralStatus.CONSENT_REFUSED, event_id="EV-REF2"),
            TWO_WD,
        ],
        set(),
    ),
    (
        "clock_runs_from_reporting_not_recording",
        [recorded(h(30), reported=T0), referral(TWO_WD + MINUTE), TWO_WD + MINUTE],
        REF_LATE,
    ),
    (
        "organisation_victim_is_not_owed",
        [recorded(victim_type=VictimType.ORGANISATION), TWO_WD],
        set(),
    ),
    (
        "referral_arriving_before_the_crime_record_counts",
        [referral(h(3)), recorded(h(1), reported=T0), TWO_WD],
        set(),
    ),
    (
        "duplicates_change_nothing",
        [
            recorded(),
            recorded(),
            TWO_WD,
            referral(TWO_WD + MINUTE),
            referral(TWO_WD + MINUTE),
            TWO_WD + MINUTE,
        ],
        REF_LATE,
    ),
]


@pytest.mark.parametrize(
    ("steps", "expected"),
    [pytest.param(s, e, id=name) for name, s, e in REFERRAL_CASES],
)
def test_care_referral__outcomes(steps: list[Step], expected: set[tuple[str, str, str]]) -> None:
    """Each referral scenario yields exactly the expected CARE-REFERRAL alerts."""
    assert outcome(FAMILY, steps, rule=CARE_REFERRAL) == expected


@pytest.mark.parametrize(
    ("recorded_at", "cause"),
    [
        pytest.param(h(30), Cause.REFERRAL_DELAY, id="recorded_in_time_referral_delay"),
        pytest.param(TWO_WD + MINUTE, Cause.RECORDING_DELAY, id="recorded_too_late_recording"),
    ],
)
def test_care_referral__breach_names_its_cause(recorded_at: datetime, cause: Cause) -> None:
    """A crime recorded after the referral deadline is a recording delay, else a referral delay."""
    engine = engine_for(FAMILY)
    alerts = run(engine, [recorded(recorded_at, reported=T0), max(recorded_at, TWO_WD) + MINUTE])
    assert {a.cause for a in alerts if a.rule_id == CARE_REFERRAL} == {cause}


@pytest.mark.parametrize(
    ("steps", "severity"),
    [
        pytest.param([recorded()], Severity.S3, id="standard"),
        pytest.param([recorded(enhanced=["vulnerable"])], Severity.S2, id="enhanced"),
        pytest.param([recorded(flags={"domestic_abuse": True})], Severity.S2, id="da"),
        pytest.param([recorded(flags={"child_victim": True})], Severity.S2, id="child"),
    ],
)
def test_care_referral__enhanced_is_high_else_medium(steps: list[Step], severity: Severity) -> None:
    """Enhanced-entitlement victims' referral breaches are S2, others S3, on victim care."""
    engine = engine_for(FAMILY)
    alerts = run(engine, [*steps, TWO_WD])
    found = [a for a in alerts if a.rule_id == CARE_REFERRAL]
    assert [(a.severity, a.queue.value) for a in found] == [(severity, "victim_care")]


def test_care_referral__undecided_while_victim_contact_silent() -> None:
    """A silent victim-contact source holds the referral breach undecided until it speaks."""
    engine = engine_for(FAMILY, staleness=timedelta(minutes=15))
    other = make_victim_notified(crime_ref="C9", notified_at=T0)
    first = run(engine, [other, recorded(), TWO_WD])
    assert [a.stage for a in first if a.rule_id == CARE_REFERRAL] == []
    assert [ob.undecided for ob in obligations(engine, CARE_REFERRAL)] == [True]
    resumed = make_victim_notified(crime_ref="C9", notified_at=TWO_WD + MINUTE)
    later = run(engine, [resumed, TWO_WD + MINUTE])
    assert [a.stage for a in later if a.rule_id == CARE_REFERRAL] == [Stage.BREACHED]


@pytest.mark.parametrize(
    ("reported_at", "deadline"),
    [
        pytest.param(utc("2016-03-04T16:00"), utc("2016-03-09T00:00"), id="friday_skips_weekend"),
        pytest.param(utc("2016-03-05T16:00"), utc("2016-03-09T00:00"), id="saturday"),
        pytest.param(
            utc("2016-03-24T15:00"), utc("2016-03-30T23:00"), id="easter_holidays_skipped_bst"
        ),
        pytest.param(
            utc("2016-03-27T12:00"), utc("2016-03-30T23:00"), id="spring_clock_change_day"
        ),
        pytest.param(
            utc("2016-10-28T10:00"), utc("2016-11-02T00:00"), id="across_autumn_clock_change"
        ),
        pytest.param(
            utc("2016-10-30T00:30"), utc("2016-11-02T00:00"), id="autumn_clock_change_day"
        ),
    ],
)
def test_care_referral__working_day_deadline_is_local_midnight(
    reported_at: datetime, deadline: datetime
) -> None:
    """Two working days end at local midnight (Europe/London), converted to UTC."""
    before = [recorded(reported_at + timedelta(hours=1), reported=reported_at)]
    assert outcome(FAMILY, [*before, deadline - MINUTE], rule=CARE_REFERRAL) == set()
    assert outcome(FAMILY, [*before, deadline], rule=CARE_REFERRAL) == REF_BREACHED


CONFIRMATION_CASES: list[tuple[str, list[Step], set[tuple[str, str, str]]]] = [
    ("confirmed_in_time_is_no_alert", [recorded(), confirmed(h(48)), FIVE_WD], set()),
    ("unconfirmed_breaches_after_five_working_days", [recorded(), FIVE_WD], CONF_BREACHED),
    ("not_breached_a_minute_before_the_deadline", [recorded(), FIVE_WD - MINUTE], set()),
    (
        "confirmed_after_the_breach_resolves_late",
        [recorded(), FIVE_WD, confirmed(FIVE_WD + MINUTE), FIVE_WD + MINUTE],
        CONF_LATE,
    ),
    (
        "late_arriving_confirmation_dated_in_time_retracts_breach",
        [recorded(), FIVE_WD, confirmed(h(48))],
        CONF_BREACHED | {(CRIME_CONFIRMATION, CRIME, "retracted")},
    ),
    (
        "enhanced_victim_has_one_working_day",
        [recorded(enhanced=["vulnerable"]), ONE_WD],
        CONF_BREACHED,
    ),
    (
        "enhanced_victim_confirmed_on_day_three_is_late",
        [recorded(enhanced=["vulnerable"]), confirmed(h(48)), h(48)],
        CONF_LATE,
    ),
    (
        "a_cancellation_notice_is_not_a_confirmation",
        [recorded(), notified(h(2)), FIVE_WD],
        CONF_BREACHED,
    ),
    (
        "a_failed_attempt_does_not_satisfy",
        [recorded(), confirmed(h(2), NotificationOutcome.ATTEMPT_FAILED), FIVE_WD],
        CONF_BREACHED,
    ),
    (
        "unsafe_to_contact_with_rationale_satisfies",
        [
            recorded(),
            confirmed(h(2), NotificationOutcome.UNSAFE_TO_CONTACT, rationale=True),
            FIVE_WD,
        ],
        set(),
    ),
    (
        "unsafe_to_contact_without_rationale_does_not_satisfy",
        [recorded(), confirmed(h(2), NotificationOutcome.UNSAFE_TO_CONTACT), FIVE_WD],
        CONF_BREACHED,
    ),
    (
        "confirmation_arriving_before_the_crime_record_counts",
        [confirmed(h(2)), recorded(), FIVE_WD],
        set(),
    ),
    (
        "organisation_victim_is_not_owed",
        [recorded(victim_type=VictimType.ORGANISATION), FIVE_WD],
        set(),
    ),
    (
        "duplicates_change_nothing",
        [
            recorded(),
            recorded(),
            FIVE_WD,
            confirmed(FIVE_WD + MINUTE),
            confirmed(FIVE_WD + MINUTE),
            FIVE_WD + MINUTE,
        ],
        CONF_LATE,
    ),
]


@pytest.mark.parametrize(
    ("steps", "expected"),
    [pytest.param(s, e, id=name) for name, s, e in CONFIRMATION_CASES],
)
def test_crime_confirmation__outcomes(
    steps: list[Step], expected: set[tuple[str, str, str]]
) -> None:
    """Each confirmation scenario yields exactly the expected CRIME-CONFIRMATION alerts."""
    assert outcome(FAMILY, steps, rule=CRIME_CONFIRMATION) == expected


def test_crime_confirmation__undecided_while_victim_contact_silent() -> None:
    """A silent victim-contact source holds the confirmation breach undecided."""
    engine = engine_for(FAMILY, staleness=timedelta(minutes=15))
    other = make_victim_notified(crime_ref="C9", notified_at=T0)
    alerts = run(engine, [other, recorded(), FIVE_WD])
    assert [a.stage for a in alerts if a.rule_id == CRIME_CONFIRMATION] == []
    assert [ob.undecided for ob in obligations(engine, CRIME_CONFIRMATION)] == [True]


def test_crime_confirmation__is_medium_on_victim_care() -> None:
    """A confirmation breach is S3 on the victim-care queue, even for enhanced entitlement."""
    engine = engine_for(FAMILY)
    alerts = run(engine, [recorded(enhanced=["vulnerable"]), FIVE_WD])
    found = [a for a in alerts if a.rule_id == CRIME_CONFIRMATION]
    assert [(a.severity, a.queue.value) for a in found] == [(Severity.S3, "victim_care")]
