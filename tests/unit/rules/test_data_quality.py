"""EQUALITY-DATA and FILING-AUTHORITY: every outcome, order, duplicates and elapsed time."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from schemas.codes import ActorRole, Severity, Stage, VictimType
from streams.rules.data_quality import AUTHORISED_FILERS, EQUALITY_DATA, FAMILY, FILING_AUTHORITY
from tests.factories import T0, make_crime_updated
from tests.unit.rules.crime_scenario import (
    CRIME,
    MINUTE,
    Step,
    engine_for,
    filed,
    h,
    obligations,
    outcome,
    recorded,
    run,
    updated,
    utc,
)

NO_SEX = {"sex": False}
WEEK = h(7 * 24)
EQ_BREACHED = {(EQUALITY_DATA, CRIME, "breached")}
EQ_LATE = EQ_BREACHED | {(EQUALITY_DATA, CRIME, "resolved_late")}
SERGEANT = ActorRole.UNIFORMED_SERGEANT
FILING = f"{CRIME}/EV-FIL"
FIL_BREACHED = {(FILING_AUTHORITY, FILING, "breached")}
FIL_LATE = FIL_BREACHED | {(FILING_AUTHORITY, FILING, "resolved_late")}


EQUALITY_CASES: list[tuple[str, list[Step], set[tuple[str, str, str]]]] = [
    ("age_and_sex_present_is_not_owed", [recorded(), WEEK], set()),
    ("completed_in_time_is_no_alert", [recorded(equality=NO_SEX), updated(h(48)), WEEK], set()),
    ("missing_sex_breaches_after_seven_days", [recorded(equality=NO_SEX), WEEK], EQ_BREACHED),
    (
        "missing_age_breaches_after_seven_days",
        [recorded(equality={"age": False}), WEEK],
        EQ_BREACHED,
    ),
    ("not_breached_a_minute_before_seven_days", [recorded(equality=NO_SEX), WEEK - MINUTE], set()),
    (
        "completed_after_the_breach_resolves_late",
        [recorded(equality=NO_SEX), WEEK, updated(WEEK + MINUTE), WEEK + MINUTE],
        EQ_LATE,
    ),
    (
        "late_arriving_update_dated_in_time_retracts_breach",
        [recorded(equality=NO_SEX), WEEK, updated(h(48))],
        EQ_BREACHED | {(EQUALITY_DATA, CRIME, "retracted")},
    ),
    (
        "an_update_still_lacking_sex_does_not_satisfy",
        [recorded(equality=NO_SEX), updated(h(48), sex=False), WEEK],
        EQ_BREACHED,
    ),
    (
        "update_arriving_before_the_crime_record_counts",
        [updated(h(48)), recorded(equality=NO_SEX), WEEK],
        set(),
    ),
    (
        "organisation_victim_is_not_owed",
        [recorded(equality=NO_SEX, victim_type=VictimType.ORGANISATION), WEEK],
        set(),
    ),
    (
        "duplicates_change_nothing",
        [
            recorded(equality=NO_SEX),
            recorded(equality=NO_SEX),
            WEEK,
            updated(WEEK + MINUTE),
            updated(WEEK + MINUTE),
            WEEK + MINUTE,
        ],
        EQ_LATE,
    ),
]


@pytest.mark.parametrize(
    ("steps", "expected"),
    [pytest.param(s, e, id=name) for name, s, e in EQUALITY_CASES],
)
def test_equality_data__outcomes(steps: list[Step], expected: set[tuple[str, str, str]]) -> None:
    """Each equality-data scenario yields exactly the expected EQUALITY-DATA alerts."""
    assert outcome(FAMILY, steps, rule=EQUALITY_DATA) == expected


@pytest.mark.parametrize(
    "recorded_at",
    [
        pytest.param(utc("2016-03-21T12:00"), id="across_spring_clock_change_and_easter"),
        pytest.param(utc("2016-10-27T12:00"), id="across_autumn_clock_change"),
    ],
)
def test_equality_data__seven_days_are_elapsed_time(recorded_at: datetime) -> None:
    """Seven days are 168 elapsed hours, neither shortened nor lengthened by a clock change."""
    deadline = recorded_at + timedelta(hours=168)
    steps: list[Step] = [recorded(recorded_at, equality=NO_SEX)]
    assert outcome(FAMILY, [*steps, deadline - MINUTE], rule=EQUALITY_DATA) == set()
    assert outcome(FAMILY, [*steps, deadline], rule=EQUALITY_DATA) == EQ_BREACHED


def test_equality_data__is_data_quality_s4() -> None:
    """An equality-data breach is S4 on the data-quality queue."""
    engine = engine_for(FAMILY)
    alerts = run(engine, [recorded(equality=NO_SEX), WEEK])
    found = [a for a in alerts if a.rule_id == EQUALITY_DATA]
    assert [(a.severity, a.queue.value) for a in found] == [(Severity.S4, "data_quality")]


def test_equality_data__undecided_while_crime_records_silent_then_announced() -> None:
    """A silent crime-records source holds the breach undecided until it speaks again."""
    engine = engine_for(FAMILY, staleness=timedelta(minutes=15))
    first = run(engine, [recorded(equality=NO_SEX), WEEK])
    assert [a.stage for a in first if a.rule_id == EQUALITY_DATA] == []
    assert [ob.undecided for ob in obligations(engine, EQUALITY_DATA)] == [True]
    other = make_crime_updated(crime_ref="C9", updated_at=WEEK + MINUTE)
    later = run(engine, [other, WEEK + MINUTE])
    assert [a.stage for a in later if a.rule_id == EQUALITY_DATA] == [Stage.BREACHED]


FILING_CASES: list[tuple[str, list[Step], set[tuple[str, str, str]]]] = [
    *(
        (f"filing_by_{role.value}_is_no_finding", [filed(T0, role), h(1)], set())
        for role in sorted(AUTHORISED_FILERS)
    ),
    ("filing_by_a_uniformed_sergeant_breaches_at_once", [filed(T0, SERGEANT), h(1)], FIL_BREACHED),
    (
        "later_filing_by_the_omu_resolves_late",
        [filed(T0, SERGEANT), h(1), filed(h(2), ActorRole.OMU_STAFF, event_id="EV-FIL2"), h(2)],
        FIL_LATE,
    ),
    (
        "refiling_before_any_tick_backfills_the_breach",
        [filed(T0, SERGEANT), filed(h(2), ActorRole.FCR, event_id="EV-FIL2"), h(3)],
        FIL_LATE,
    ),
    (
        "an_authorised_filing_before_the_unauthorised_one_does_not_close_it",
        [filed(h(-2), ActorRole.OMU_STAFF, event_id="EV-FIL0"), filed(T0, SERGEANT), h(1)],
        FIL_BREACHED,
    ),
    (
        "refiling_by_another_unauthorised_role_does_not_close_it",
        [
            filed(T0, SERGEANT),
            filed(h(2), ActorRole.ATTENDING_OFFICER, event_id="EV-FIL2"),
            h(3),
        ],
        FIL_BREACHED | {(FILING_AUTHORITY, f"{CRIME}/EV-FIL2", "breached")},
    ),
    (
        "late_arriving_authorised_filing_at_the_same_instant_retracts",
        [filed(T0, SERGEANT), h(1), filed(T0, ActorRole.OMU_STAFF, event_id="EV-FIL2")],
        FIL_BREACHED | {(FILING_AUTHORITY, FILING, "retracted")},
    ),
    (
        "refiling_arriving_before_the_unauthorised_filing_still_closes_it",
        [filed(h(2), ActorRole.OMU_STAFF, event_id="EV-FIL2"), filed(T0, SERGEANT), h(3)],
        FIL_LATE,
    ),
    (
        "duplicate_filing_is_one_finding",
        [filed(T0, SERGEANT), filed(T0, SERGEANT), h(1), filed(T0, SERGEANT)],
        FIL_BREACHED,
    ),
]


@pytest.mark.parametrize(
    ("steps", "expected"),
    [pytest.param(s, e, id=name) for name, s, e in FILING_CASES],
)
def test_filing_authority__outcomes(steps: list[Step], expected: set[tuple[str, str, str]]) -> None:
    """Each filing scenario yields exactly the expected FILING-AUTHORITY alerts."""
    assert outcome(FAMILY, steps, rule=FILING_AUTHORITY) == expected


def test_filing_authority__is_omu_s2_with_reason() -> None:
    """An unauthorised filing is S2 on the OMU queue with reason unauthorised_filing_role."""
    engine = engine_for(FAMILY)
    alerts = run(engine, [filed(T0, SERGEANT), h(1)])
    found = [a for a in alerts if a.rule_id == FILING_AUTHORITY]
    assert [(a.severity, a.queue.value, a.reason_code) for a in found] == [
        (Severity.S2, "omu", "unauthorised_filing_role")
    ]


def test_filing_authority__undecided_while_crime_records_silent() -> None:
    """A silent crime-records source holds the filing finding undecided."""
    engine = engine_for(FAMILY, staleness=timedelta(minutes=15))
    alerts = run(engine, [filed(T0, SERGEANT), h(1)])
    assert [a.stage for a in alerts if a.rule_id == FILING_AUTHORITY] == []
    assert [ob.undecided for ob in obligations(engine, FILING_AUTHORITY)] == [True]


def test_filing_authority__uniformed_sergeant_is_not_authorised() -> None:
    """The documented set of authorised filers leaves out uniformed sergeants (the seed finding)."""
    assert SERGEANT not in AUTHORISED_FILERS
    assert {ActorRole.OMU_STAFF, ActorRole.DDM, ActorRole.FCR, ActorRole.INVESTIGATOR} == set(
        AUTHORISED_FILERS
    )
