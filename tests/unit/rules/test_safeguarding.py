"""DA-SAFEGUARDING (with its MARAC check) and MODERN-SLAVERY: outcomes, order, clock changes."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from schemas.codes import OffenceGroup, RiskLevel, Severity, Stage
from streams.rules.safeguarding import DA_SAFEGUARDING, FAMILY, MODERN_SLAVERY
from tests.factories import T0, make_crime_recorded, make_disclosure_added, make_incident_reported
from tests.unit.rules.crime_scenario import (
    INC,
    MINUTE,
    Step,
    assessed,
    engine_for,
    h,
    incident,
    nrm,
    obligations,
    outcome,
    reclassified,
    recorded,
    run,
    utc,
)

DA = {"domestic_abuse": True}
MARAC = f"{INC}/marac/EV-SAF"
DA_BREACHED = {(DA_SAFEGUARDING, INC, "breached")}
DA_LATE = DA_BREACHED | {(DA_SAFEGUARDING, INC, "resolved_late")}
MARAC_BREACHED = {(DA_SAFEGUARDING, MARAC, "breached")}
MS_BREACHED = {(MODERN_SLAVERY, INC, "breached")}
MS_LATE = MS_BREACHED | {(MODERN_SLAVERY, INC, "resolved_late")}


def ms_crime(
    at: datetime, *, og: OffenceGroup = OffenceGroup.MODERN_SLAVERY, ho: str = "106"
) -> Step:
    """A crime linked to the incident, recorded at `at` (default: modern slavery, class 106)."""
    return recorded(at, reported=T0, og=og, ho=ho)


DA_CASES: list[tuple[str, list[Step], set[tuple[str, str, str]]]] = [
    ("assessed_in_time_is_no_alert", [incident(flags=DA), assessed(h(20)), h(48)], set()),
    ("unassessed_breaches_after_24_hours", [incident(flags=DA), h(24)], DA_BREACHED),
    ("not_breached_a_minute_before_24_hours", [incident(flags=DA), h(24) - MINUTE], set()),
    (
        "assessed_after_the_breach_resolves_late",
        [incident(flags=DA), h(24), assessed(h(30)), h(30)],
        DA_LATE,
    ),
    (
        "late_arriving_assessment_dated_in_time_retracts_breach",
        [incident(flags=DA), h(24), assessed(h(20))],
        DA_BREACHED | {(DA_SAFEGUARDING, INC, "retracted")},
    ),
    ("incident_without_the_flag_is_not_owed", [incident(), h(48)], set()),
    (
        "domestic_abuse_flag_on_a_linked_crime_opens_it",
        [incident(), recorded(h(2), reported=T0, flags=DA), h(24)],
        DA_BREACHED,
    ),
    (
        "assessment_arriving_before_the_incident_counts",
        [assessed(h(3)), incident(flags=DA), h(48)],
        set(),
    ),
    (
        "duplicates_change_nothing",
        [incident(flags=DA), incident(flags=DA), h(24), assessed(h(30)), assessed(h(30)), h(30)],
        DA_LATE,
    ),
    (
        "high_risk_with_marac_referral_is_no_finding",
        [incident(flags=DA), assessed(h(2), RiskLevel.HIGH, marac=True), h(48)],
        set(),
    ),
    (
        "high_risk_without_marac_referral_is_an_immediate_finding",
        [incident(flags=DA), assessed(h(2), RiskLevel.HIGH), h(3)],
        MARAC_BREACHED,
    ),
    (
        "medium_risk_without_marac_referral_is_no_finding",
        [incident(flags=DA), assessed(h(2), RiskLevel.MEDIUM), h(48)],
        set(),
    ),
    (
        "later_marac_referral_resolves_the_finding_late",
        [
            incident(flags=DA),
            assessed(h(2), RiskLevel.HIGH),
            h(3),
            assessed(h(5), RiskLevel.HIGH, marac=True, event_id="EV-SAF2"),
            h(5),
        ],
        MARAC_BREACHED | {(DA_SAFEGUARDING, MARAC, "resolved_late")},
    ),
]


@pytest.mark.parametrize(
    ("steps", "expected"),
    [pytest.param(s, e, id=name) for name, s, e in DA_CASES],
)
def test_da_safeguarding__outcomes(steps: list[Step], expected: set[tuple[str, str, str]]) -> None:
    """Each domestic-abuse scenario yields exactly the expected DA-SAFEGUARDING alerts."""
    assert outcome(FAMILY, steps, rule=DA_SAFEGUARDING) == expected


def test_da_safeguarding__flag_raised_by_a_later_disclosure_starts_its_own_clock() -> None:
    """A DA flag first raised by a further disclosure is owed 24 h from that disclosure."""
    later = make_disclosure_added(incident_ref=INC, disclosed_at=h(10), flags=DA)
    assert outcome(FAMILY, [incident(), later, h(24)], rule=DA_SAFEGUARDING) == set()
    assert outcome(FAMILY, [incident(), later, h(34)], rule=DA_SAFEGUARDING) == DA_BREACHED


@pytest.mark.parametrize(
    ("steps", "severity"),
    [
        pytest.param([incident(flags=DA), h(24)], Severity.S2, id="adult"),
        pytest.param(
            [incident(flags={**DA, "child_victim": True}), h(24)], Severity.S1, id="child_flag"
        ),
        pytest.param(
            [incident(flags=DA), recorded(h(1), reported=T0, flags={"child_victim": True}), h(24)],
            Severity.S1,
            id="child_on_linked_crime",
        ),
        pytest.param(
            [incident(flags=DA), assessed(h(30), RiskLevel.HIGH, marac=True), h(30)],
            Severity.S1,
            id="assessed_late_as_high_risk",
        ),
    ],
)
def test_da_safeguarding__child_or_high_risk_is_critical(
    steps: list[Step], severity: Severity
) -> None:
    """A child victim or a high-risk assessment makes the breach S1 on the PPU queue; else S2."""
    engine = engine_for(FAMILY)
    alerts = run(engine, steps)
    found = {(a.severity, a.queue.value) for a in alerts if a.rule_id == DA_SAFEGUARDING}
    assert found == {(severity, "ppu")}


def test_da_safeguarding__undecided_while_incidents_silent_then_announced() -> None:
    """A silent incidents source holds the breach undecided until the source speaks again."""
    engine = engine_for(FAMILY, staleness=timedelta(minutes=15))
    first = run(engine, [incident(flags=DA), h(24)])
    assert [a.stage for a in first if a.rule_id == DA_SAFEGUARDING] == []
    assert [ob.undecided for ob in obligations(engine, DA_SAFEGUARDING)] == [True]
    other = make_incident_reported(incident_ref="INC-9", received_at=h(25))
    later = run(engine, [other, h(25)])
    assert [a.stage for a in later if a.rule_id == DA_SAFEGUARDING] == [Stage.BREACHED]


@pytest.mark.parametrize(
    "received_at",
    [
        pytest.param(utc("2016-03-26T12:00"), id="spring_clock_change"),
        pytest.param(utc("2016-10-29T12:00"), id="autumn_clock_change"),
        pytest.param(utc("2016-03-24T18:00"), id="easter_holidays_do_not_count"),
    ],
)
def test_da_safeguarding__24_hours_are_elapsed_time(received_at: datetime) -> None:
    """Across a clock change or a bank holiday the deadline is exactly 24 elapsed hours."""
    deadline = received_at + timedelta(hours=24)
    steps: list[Step] = [incident(received_at, flags=DA)]
    assert outcome(FAMILY, [*steps, deadline - MINUTE], rule=DA_SAFEGUARDING) == set()
    assert outcome(FAMILY, [*steps, deadline], rule=DA_SAFEGUARDING) == DA_BREACHED


MS_CASES: list[tuple[str, list[Step], set[tuple[str, str, str]]]] = [
    ("nrm_referral_recorded_as_crime_in_time", [nrm(T0), ms_crime(h(5)), h(48)], set()),
    ("nrm_referral_not_recorded_breaches", [nrm(T0), h(24)], MS_BREACHED),
    ("not_breached_a_minute_before_24_hours", [nrm(T0), h(24) - MINUTE], set()),
    (
        "class_106_code_satisfies_whatever_the_group",
        [nrm(T0), ms_crime(h(5), og=OffenceGroup.OTHER, ho="106/1"), h(48)],
        set(),
    ),
    (
        "a_crime_of_another_class_does_not_satisfy",
        [nrm(T0), ms_crime(h(5), og=OffenceGroup.VIOLENCE, ho="8N"), h(48)],
        MS_BREACHED,
    ),
    (
        "crime_recorded_after_the_breach_resolves_late",
        [nrm(T0), h(24), ms_crime(h(30)), h(30)],
        MS_LATE,
    ),
    (
        "late_arriving_crime_recorded_in_time_retracts_breach",
        [nrm(T0), h(24), ms_crime(h(5))],
        MS_BREACHED | {(MODERN_SLAVERY, INC, "retracted")},
    ),
    (
        "reclassification_to_modern_slavery_resolves_late",
        [
            nrm(T0),
            ms_crime(h(5), og=OffenceGroup.VIOLENCE, ho="8N"),
            h(24),
            reclassified(h(30), og=OffenceGroup.MODERN_SLAVERY, ho="106"),
            h(30),
        ],
        MS_LATE,
    ),
    (
        "modern_slavery_flag_opens_it_without_referral",
        [incident(flags={"modern_slavery": True}), h(24)],
        MS_BREACHED,
    ),
    (
        "crime_arriving_before_the_referral_counts",
        [ms_crime(h(5)), nrm(T0), h(48)],
        set(),
    ),
    ("duplicate_referral_is_one_obligation", [nrm(T0), nrm(T0), h(24), nrm(T0)], MS_BREACHED),
]


@pytest.mark.parametrize(
    ("steps", "expected"),
    [pytest.param(s, e, id=name) for name, s, e in MS_CASES],
)
def test_modern_slavery__outcomes(steps: list[Step], expected: set[tuple[str, str, str]]) -> None:
    """Each modern-slavery scenario yields exactly the expected MODERN-SLAVERY alerts."""
    assert outcome(FAMILY, steps, rule=MODERN_SLAVERY) == expected


@pytest.mark.parametrize(
    ("steps", "severity"),
    [
        pytest.param([nrm(T0)], Severity.S2, id="adult"),
        pytest.param([nrm(T0, child=True)], Severity.S1, id="child_referral"),
        pytest.param(
            [incident(flags={"modern_slavery": True, "child_victim": True})],
            Severity.S1,
            id="child_flag",
        ),
    ],
)
def test_modern_slavery__child_is_critical(steps: list[Step], severity: Severity) -> None:
    """A child victim makes the modern-slavery breach S1 on the PPU queue; an adult S2."""
    engine = engine_for(FAMILY)
    alerts = run(engine, [*steps, h(24)])
    found = [a for a in alerts if a.rule_id == MODERN_SLAVERY]
    assert [(a.severity, a.queue.value) for a in found] == [(severity, "ppu")]


def test_modern_slavery__undecided_while_crime_records_silent() -> None:
    """A silent crime-records source holds the modern-slavery breach undecided."""
    engine = engine_for(FAMILY, staleness=timedelta(minutes=15))
    other = make_crime_recorded(crime_ref="C9", recorded_at=T0)
    alerts = run(engine, [other, nrm(T0), h(24)])
    assert [a.stage for a in alerts if a.rule_id == MODERN_SLAVERY] == []
    assert [ob.undecided for ob in obligations(engine, MODERN_SLAVERY)] == [True]
