"""CANCEL-AUTHORITY and CANCEL-NOTIFY: every outcome, order, duplicates and working-day edges."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from schemas.codes import (
    ActorRole,
    AviType,
    CancellationClass,
    NotificationOutcome,
    NotificationType,
    OffenceGroup,
    Severity,
    Stage,
    VictimType,
)
from streams.rules.cancellation import CANCEL_AUTHORITY, CANCEL_NOTIFY, FAMILY
from streams.topics import CRIME_RECORDS
from tests.factories import T0, make_crime_updated
from tests.unit.rules.crime_scenario import (
    CRIME,
    MINUTE,
    Step,
    cancelled,
    engine_for,
    h,
    notified,
    obligations,
    outcome,
    ratified,
    recorded,
    reinstated,
    run,
    utc,
)

SUBJ = f"{CRIME}/EV-CAN"
AUTH_BREACHED = {(CANCEL_AUTHORITY, SUBJ, "breached")}
AUTH_LATE = AUTH_BREACHED | {(CANCEL_AUTHORITY, SUBJ, "resolved_late")}
NOTIFY_BREACHED = {(CANCEL_NOTIFY, SUBJ, "breached")}
NOTIFY_LATE = NOTIFY_BREACHED | {(CANCEL_NOTIFY, SUBJ, "resolved_late")}
NOTIFY_RETRACTED = NOTIFY_BREACHED | {(CANCEL_NOTIFY, SUBJ, "retracted")}

# T0 is Tuesday 1 March 2016 09:00 UTC: 5 working days end at midnight on Tuesday 8 March,
# 1 working day (enhanced) at midnight on Wednesday 2 March (GMT, so midnight UTC).
FIVE_WD = utc("2016-03-09T00:00")
ONE_WD = utc("2016-03-03T00:00")

SERGEANT = ActorRole.UNIFORMED_SERGEANT


AUTHORITY_CASES: list[tuple[str, list[Step], set[tuple[str, str, str]]]] = [
    ("valid_ddm_c4_violence_is_no_finding", [cancelled(), h(1)], set()),
    (
        "valid_fcr_rape_is_no_finding",
        [cancelled(og=OffenceGroup.RAPE, role=ActorRole.FCR), h(1)],
        set(),
    ),
    (
        "ddm_cancelling_rape_breaches",
        [cancelled(og=OffenceGroup.RAPE, role=ActorRole.DDM), h(1)],
        AUTH_BREACHED,
    ),
    ("sergeant_cancelling_violence_breaches", [cancelled(role=SERGEANT), h(1)], AUTH_BREACHED),
    (
        "c2_without_avi_breaches",
        [cancelled(cls=CancellationClass.C2), h(1)],
        AUTH_BREACHED,
    ),
    *(
        (
            f"c2_resting_on_{avi.value}_breaches",
            [cancelled(cls=CancellationClass.C2, avi_present=True, avi_type=avi), h(1)],
            AUTH_BREACHED,
        )
        for avi in (
            AviType.OFFICER_OPINION,
            AviType.SUSPECT_CLAIMS_CONSENT,
            AviType.VICTIM_WITHDRAWAL,
        )
    ),
    (
        "c2_with_cctv_avi_is_no_finding",
        [cancelled(cls=CancellationClass.C2, avi_present=True, avi_type=AviType.CCTV), h(1)],
        set(),
    ),
    (
        "fcr_ratification_at_the_cancellation_is_on_time",
        [cancelled(role=SERGEANT), ratified(T0), h(1)],
        set(),
    ),
    (
        "fcr_ratification_after_breach_resolves_late",
        [cancelled(role=SERGEANT), h(1), ratified(h(2)), h(3)],
        AUTH_LATE,
    ),
    (
        "fcr_ratification_before_any_tick_backfills_breach_and_resolves_late",
        [cancelled(role=SERGEANT), ratified(h(2)), h(3)],
        AUTH_LATE,
    ),
    (
        "reinstatement_after_breach_resolves_late",
        [cancelled(role=SERGEANT), h(1), reinstated(h(2)), h(3)],
        AUTH_LATE,
    ),
    (
        "ratification_by_a_ddm_does_not_close",
        [cancelled(role=SERGEANT), h(1), ratified(h(2), role=ActorRole.DDM), h(3)],
        AUTH_BREACHED,
    ),
    (
        "ratification_dated_before_the_cancellation_does_not_close",
        [ratified(h(-2)), cancelled(role=SERGEANT), h(1)],
        AUTH_BREACHED,
    ),
    (
        "late_arriving_ratification_dated_at_the_cancellation_retracts_breach",
        [cancelled(role=SERGEANT), h(1), ratified(T0)],
        AUTH_BREACHED | {(CANCEL_AUTHORITY, SUBJ, "retracted")},
    ),
    (
        "ratification_arriving_before_the_cancellation_still_closes_it",
        [ratified(h(2)), cancelled(role=SERGEANT), h(3)],
        AUTH_LATE,
    ),
    (
        "duplicate_cancellation_is_one_finding",
        [cancelled(role=SERGEANT), cancelled(role=SERGEANT), h(1), cancelled(role=SERGEANT)],
        AUTH_BREACHED,
    ),
    (
        "each_cancellation_is_checked_separately",
        [
            cancelled(role=SERGEANT),
            reinstated(h(1)),
            cancelled(h(2), role=SERGEANT, event_id="EV-CAN2"),
            h(3),
        ],
        AUTH_LATE | {(CANCEL_AUTHORITY, f"{CRIME}/EV-CAN2", "breached")},
    ),
]


@pytest.mark.parametrize(
    ("steps", "expected"),
    [pytest.param(s, e, id=name) for name, s, e in AUTHORITY_CASES],
)
def test_cancel_authority__outcomes(steps: list[Step], expected: set[tuple[str, str, str]]) -> None:
    """Each cancellation scenario yields exactly the expected CANCEL-AUTHORITY alerts."""
    assert outcome(FAMILY, steps, rule=CANCEL_AUTHORITY) == expected


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        pytest.param(cancelled(role=SERGEANT), "unauthorised_decision_maker", id="sergeant"),
        pytest.param(
            cancelled(og=OffenceGroup.RAPE, cls=CancellationClass.C2, role=ActorRole.DDM),
            "unauthorised_decision_maker",
            id="authority_checked_before_avi",
        ),
        pytest.param(cancelled(cls=CancellationClass.C2), "c2_without_avi", id="no_avi"),
        pytest.param(
            cancelled(cls=CancellationClass.C2, avi_present=True, avi_type=AviType.NONE),
            "c2_without_avi",
            id="avi_flag_without_type",
        ),
        pytest.param(
            cancelled(
                cls=CancellationClass.C2, avi_present=True, avi_type=AviType.VICTIM_WITHDRAWAL
            ),
            "c2_avi_not_verifiable",
            id="withdrawal_alone",
        ),
    ],
)
def test_cancel_authority__reason_code_names_the_defect(event: Step, reason: str) -> None:
    """The finding's reason code says which requirement the cancellation failed."""
    engine = engine_for(FAMILY)
    alerts = run(engine, [event, h(1)])
    assert {a.reason_code for a in alerts if a.rule_id == CANCEL_AUTHORITY} == {reason}


@pytest.mark.parametrize(
    ("og", "severity"),
    [(OffenceGroup.RAPE, Severity.S1), (OffenceGroup.VIOLENCE, Severity.S2)],
)
def test_cancel_authority__rape_is_critical_else_high(og: OffenceGroup, severity: Severity) -> None:
    """An unauthorised cancellation of a rape is S1 on the FCR queue; others are S2."""
    engine = engine_for(FAMILY)
    alerts = run(engine, [cancelled(og=og, role=SERGEANT), h(1)])
    found = [a for a in alerts if a.rule_id == CANCEL_AUTHORITY]
    assert [(a.severity, a.queue.value) for a in found] == [(severity, "fcr")]


def test_cancel_authority__undecided_while_crime_records_silent_then_announced() -> None:
    """A silent crime-records source holds the finding undecided until the source speaks."""
    engine = engine_for(FAMILY, staleness=timedelta(minutes=15))
    first = run(engine, [recorded(h(-1)), cancelled(role=SERGEANT), h(1)])
    assert [a.stage for a in first if a.rule_id == CANCEL_AUTHORITY] == []
    silent = {a.subject.source_topic for a in first if a.rule_id == "DATA-COMPLETENESS"}
    assert CRIME_RECORDS.name in silent
    assert [ob.undecided for ob in obligations(engine, CANCEL_AUTHORITY)] == [True]
    later = run(engine, [make_crime_updated(crime_ref="C2", updated_at=h(2)), h(2)])
    assert [a.stage for a in later if a.rule_id == CANCEL_AUTHORITY] == [Stage.BREACHED]


NOTIFY_CASES: list[tuple[str, list[Step], set[tuple[str, str, str]]]] = [
    ("told_in_time_is_no_alert", [cancelled(), notified(h(48)), FIVE_WD], set()),
    ("never_told_breaches_after_five_working_days", [cancelled(), FIVE_WD], NOTIFY_BREACHED),
    ("not_breached_a_minute_before_the_deadline", [cancelled(), FIVE_WD - MINUTE], set()),
    (
        "told_after_the_breach_resolves_late",
        [
            cancelled(),
            FIVE_WD,
            notified(FIVE_WD + timedelta(hours=5)),
            FIVE_WD + timedelta(hours=6),
        ],
        NOTIFY_LATE,
    ),
    (
        "told_late_before_any_tick_backfills_breach",
        [cancelled(), notified(FIVE_WD + timedelta(hours=5)), FIVE_WD + timedelta(hours=6)],
        NOTIFY_LATE,
    ),
    (
        "late_arriving_notice_dated_in_time_retracts_breach",
        [cancelled(), FIVE_WD, notified(h(48))],
        NOTIFY_RETRACTED,
    ),
    (
        "notice_arriving_before_the_cancellation_still_counts",
        [notified(h(48)), cancelled(), FIVE_WD],
        set(),
    ),
    (
        "notice_dated_before_the_cancellation_does_not_count",
        [notified(h(-1)), cancelled(), FIVE_WD],
        NOTIFY_BREACHED,
    ),
    (
        "duplicate_events_change_nothing",
        [
            cancelled(),
            cancelled(),
            FIVE_WD,
            notified(FIVE_WD + MINUTE),
            notified(FIVE_WD + MINUTE),
            FIVE_WD + MINUTE,
        ],
        NOTIFY_LATE,
    ),
    (
        "reinstatement_before_the_deadline_cancels_the_duty",
        [cancelled(), reinstated(h(24)), FIVE_WD],
        set(),
    ),
    (
        "reinstatement_after_the_breach_withdraws_it",
        [cancelled(), FIVE_WD, reinstated(FIVE_WD + MINUTE)],
        NOTIFY_RETRACTED,
    ),
    (
        "c3_with_a_surviving_record_is_not_owed",
        [cancelled(cls=CancellationClass.C3, surviving="C0"), FIVE_WD],
        set(),
    ),
    (
        "c3_without_a_surviving_record_is_owed",
        [cancelled(cls=CancellationClass.C3), FIVE_WD],
        NOTIFY_BREACHED,
    ),
    (
        "c1_is_satisfied_by_a_transfer_notice",
        [
            cancelled(cls=CancellationClass.C1),
            notified(h(2), kind=NotificationType.TRANSFER),
            FIVE_WD,
        ],
        set(),
    ),
    (
        "c4_is_not_satisfied_by_a_transfer_notice",
        [cancelled(), notified(h(2), kind=NotificationType.TRANSFER), FIVE_WD],
        NOTIFY_BREACHED,
    ),
    (
        "a_failed_attempt_does_not_satisfy",
        [cancelled(), notified(h(2), outcome=NotificationOutcome.ATTEMPT_FAILED), FIVE_WD],
        NOTIFY_BREACHED,
    ),
    (
        "opted_out_satisfies",
        [cancelled(), notified(h(2), outcome=NotificationOutcome.OPTED_OUT), FIVE_WD],
        set(),
    ),
    (
        "unsafe_to_contact_with_rationale_satisfies",
        [
            cancelled(),
            notified(h(2), outcome=NotificationOutcome.UNSAFE_TO_CONTACT, rationale=True),
            FIVE_WD,
        ],
        set(),
    ),
    (
        "unsafe_to_contact_without_rationale_does_not_satisfy",
        [cancelled(), notified(h(2), outcome=NotificationOutcome.UNSAFE_TO_CONTACT), FIVE_WD],
        NOTIFY_BREACHED,
    ),
    (
        "organisation_victim_is_not_owed",
        [recorded(h(-48), victim_type=VictimType.ORGANISATION), cancelled(), FIVE_WD],
        set(),
    ),
    (
        "organisation_victim_known_after_the_cancellation_is_not_owed",
        [cancelled(), recorded(h(-48), victim_type=VictimType.ORGANISATION), FIVE_WD],
        set(),
    ),
    (
        "enhanced_victim_told_on_day_two_is_late",
        [recorded(h(-48), enhanced=["vulnerable"]), cancelled(), notified(h(40)), h(41)],
        NOTIFY_LATE,
    ),
    (
        "domestic_abuse_victim_has_one_working_day",
        [recorded(h(-48), flags={"domestic_abuse": True}), cancelled(), ONE_WD],
        NOTIFY_BREACHED,
    ),
    (
        "enhanced_entitlement_known_after_the_cancellation_shortens_the_deadline",
        [cancelled(), recorded(h(-48), enhanced=["vulnerable"]), ONE_WD],
        NOTIFY_BREACHED,
    ),
]


@pytest.mark.parametrize(
    ("steps", "expected"),
    [pytest.param(s, e, id=name) for name, s, e in NOTIFY_CASES],
)
def test_cancel_notify__outcomes(steps: list[Step], expected: set[tuple[str, str, str]]) -> None:
    """Each notification scenario yields exactly the expected CANCEL-NOTIFY alerts."""
    assert outcome(FAMILY, steps, rule=CANCEL_NOTIFY) == expected


def test_cancel_notify__undecided_while_victim_contact_silent() -> None:
    """A silent victim-contact source holds the breach undecided, then a late notice resolves it."""
    engine = engine_for(FAMILY, staleness=timedelta(minutes=15))
    first = run(engine, [notified(h(-30), kind=NotificationType.CRIME_RECORDED), cancelled()])
    first += run(engine, [FIVE_WD])
    assert [a.stage for a in first if a.rule_id == CANCEL_NOTIFY] == []
    assert [ob.undecided for ob in obligations(engine, CANCEL_NOTIFY)] == [True]
    later = run(engine, [notified(FIVE_WD + MINUTE, event_id="EV-NOT2"), FIVE_WD + 2 * MINUTE])
    assert [a.stage for a in later if a.rule_id == CANCEL_NOTIFY] == [
        Stage.BREACHED,
        Stage.RESOLVED_LATE,
    ]


@pytest.mark.parametrize(
    ("steps", "severity"),
    [
        pytest.param([cancelled()], Severity.S3, id="violence"),
        pytest.param([cancelled(og=OffenceGroup.RAPE, role=ActorRole.FCR)], Severity.S2, id="rape"),
        pytest.param([cancelled(og=OffenceGroup.OTHER_SEXUAL)], Severity.S2, id="sexual"),
        pytest.param(
            [recorded(h(-48), flags={"domestic_abuse": True}), cancelled()],
            Severity.S2,
            id="domestic_abuse",
        ),
        pytest.param(
            [recorded(h(-48), enhanced=["intimidated"]), cancelled()], Severity.S2, id="enhanced"
        ),
    ],
)
def test_cancel_notify__severity_and_queue(steps: list[Step], severity: Severity) -> None:
    """Rape, sexual, domestic-abuse and enhanced victims are S2; others S3; victim-care queue."""
    engine = engine_for(FAMILY)
    alerts = run(engine, [*steps, FIVE_WD])
    found = [a for a in alerts if a.rule_id == CANCEL_NOTIFY]
    assert [(a.severity, a.queue.value) for a in found] == [(severity, "victim_care")]


@pytest.mark.parametrize(
    ("cancelled_at", "enhanced", "deadline"),
    [
        pytest.param(
            utc("2016-03-04T10:00"), True, utc("2016-03-08T00:00"), id="friday_skips_weekend"
        ),
        pytest.param(
            utc("2016-03-05T10:00"), True, utc("2016-03-08T00:00"), id="saturday_counts_monday"
        ),
        pytest.param(
            utc("2016-03-24T10:00"),
            True,
            utc("2016-03-29T23:00"),
            id="easter_good_friday_and_monday_skipped_deadline_in_bst",
        ),
        pytest.param(
            utc("2016-03-27T12:00"),
            False,
            utc("2016-04-04T23:00"),
            id="spring_clock_change_day_five_working_days",
        ),
        pytest.param(
            utc("2016-03-28T23:30"),
            True,
            utc("2016-03-30T23:00"),
            id="local_day_is_tuesday_after_easter_monday",
        ),
        pytest.param(
            utc("2016-10-28T10:00"),
            True,
            utc("2016-11-01T00:00"),
            id="deadline_after_autumn_change",
        ),
        pytest.param(
            utc("2016-10-30T00:30"),
            True,
            utc("2016-11-01T00:00"),
            id="autumn_clock_change_day",
        ),
    ],
)
def test_cancel_notify__working_day_deadline_is_local_midnight(
    cancelled_at: datetime, enhanced: bool, deadline: datetime
) -> None:
    """The deadline is local midnight (Europe/London) after the n-th working day, in UTC."""
    codes = ["vulnerable"] if enhanced else []
    before = [recorded(cancelled_at - timedelta(days=3), enhanced=codes), cancelled(cancelled_at)]
    assert outcome(FAMILY, [*before, deadline - MINUTE], rule=CANCEL_NOTIFY) == set()
    assert outcome(FAMILY, [*before, deadline], rule=CANCEL_NOTIFY) == NOTIFY_BREACHED
    engine = engine_for(FAMILY)
    run(engine, before)
    assert [ob.deadline for ob in obligations(engine, CANCEL_NOTIFY)] == [deadline]
