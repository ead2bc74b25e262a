"""N100, N100-REASON, RAPE-MISCLASSIFIED and N100-AGEING: every outcome, table-driven."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemas.codes import N100Outcome, N100Reason, OffenceGroup, Queue, Severity, Stage
from streams.rules.duties import find
from streams.rules.engine import DATA_COMPLETENESS, Engine
from streams.rules.model import CaseKind, Outcome
from streams.rules.n100 import FAMILY, N100, N100_AGEING, N100_REASON, RAPE_MISCLASSIFIED
from streams.topics import CRIME_RECORDS, INCIDENTS
from tests.unit.rules.scenario import (
    INC,
    alert_set,
    alerts,
    crime,
    further,
    h,
    incident,
    n100,
    n100_resolved,
    reclassified,
    reviewed,
    run,
)

S1 = f"{INC}/D1"
S2 = f"{INC}/D2"
DUE, BR = Stage.DUE_SOON.value, Stage.BREACHED.value
LATE, RETR = Stage.RESOLVED_LATE.value, Stage.RETRACTED.value
RAPE, VIOLENCE = OffenceGroup.RAPE, OffenceGroup.VIOLENCE
DOUBT = N100Reason.DOUBT_NOT_SUPPORTING_PROSECUTION
WEEK = 7 * 24
APRIL_2015 = datetime(2015, 4, 1, 0, 0, tzinfo=UTC)
MARCH_2015 = datetime(2015, 3, 31, 23, 0, tzinfo=UTC)

Alerts = set[tuple[str, str, str]]


def _run(steps, **engine_kwargs):
    engine = Engine([FAMILY], **engine_kwargs)
    effects = run(engine, steps)
    return engine, effects, alert_set(engine, effects, FAMILY)


def _only(rule: str, got: Alerts) -> Alerts:
    return {a for a in got if a[0] == rule}


def _n100(*stages: str, subject: str = S1) -> Alerts:
    return {(N100, subject, s) for s in stages}


def _reason(*stages: str) -> Alerts:
    return {(N100_REASON, "N1", s) for s in stages}


def _mis(*stages: str) -> Alerts:
    return {(RAPE_MISCLASSIFIED, "C1", s) for s in stages}


def _ageing(*stages: str) -> Alerts:
    return {(N100_AGEING, "N1", s) for s in stages}


def _rape(hours: float = 0.0, **kw):
    return incident(hours, og=RAPE, **kw)


def _flagged(**kw):
    return incident(0, og=VIOLENCE, flags={"rape_alleged": True}, **kw)


# --- N100 -----------------------------------------------------------------------------------

N100_TABLE = [
    pytest.param(lambda: [_rape(), crime(10, og=RAPE), h(30)], set(), id="on_time_rape_crime"),
    pytest.param(lambda: [_rape(), n100(10), h(30)], set(), id="on_time_n100"),
    pytest.param(lambda: [_rape(), h(17), crime(20, og=RAPE), h(30)], _n100(DUE), id="due_soon"),
    pytest.param(lambda: [_rape(), h(25)], _n100(DUE, BR), id="breached"),
    pytest.param(
        lambda: [_rape(), h(10), crime(30, og=RAPE), h(40)],
        _n100(DUE, BR, LATE),
        id="late_backfills_unannounced_stages",
    ),
    pytest.param(
        lambda: [_rape(), h(25), n100(23), h(30)],
        _n100(DUE, BR, RETR),
        id="retracted_by_n100_recorded_before_deadline",
    ),
    pytest.param(
        lambda: [_rape(), crime(5, og=VIOLENCE), h(25)],
        _n100(DUE, BR),
        id="non_rape_crime_does_not_satisfy",
    ),
    pytest.param(
        lambda: [_rape(), crime(5, og=VIOLENCE), reclassified(10), h(30)],
        set(),
        id="reclassification_to_rape_satisfies",
    ),
    pytest.param(
        lambda: [crime(10, og=RAPE), _rape(), h(30)],
        set(),
        id="crime_before_incident_no_false_alert",
    ),
    pytest.param(
        lambda: [_rape(), crime(2, og=RAPE), further(20, og=RAPE), h(43)],
        _n100(DUE, subject=S2),
        id="further_rape_disclosure_warned_on_its_own_clock",
    ),
    pytest.param(
        lambda: [_rape(), crime(2, og=RAPE), further(20, og=RAPE), h(45)],
        _n100(DUE, BR, subject=S2),
        id="further_rape_disclosure_breached_on_its_own_clock",
    ),
    pytest.param(lambda: [_flagged(), h(25)], _n100(DUE, BR, subject=INC), id="flag_only_breach"),
    pytest.param(
        lambda: [_flagged(), n100(10, did=None), h(30)],
        set(),
        id="flag_only_satisfied_by_incident_n100",
    ),
    pytest.param(
        lambda: [_flagged(), crime(10, og=RAPE, did=None, victim="V7"), h(30)],
        set(),
        id="flag_only_satisfied_by_any_rape_crime_on_the_incident",
    ),
    pytest.param(
        lambda: [_flagged(), further(2, og=RAPE), h(27)],
        _n100(DUE, BR, subject=S2),
        id="flag_duty_lapses_when_a_rape_disclosure_arrives",
    ),
    pytest.param(lambda: [incident(0), h(30)], set(), id="no_rape_no_obligation"),
    pytest.param(
        lambda: [_rape(start=MARCH_2015), h(100, MARCH_2015)],
        set(),
        id="not_in_force_before_april_2015",
    ),
    pytest.param(
        lambda: [_rape(start=APRIL_2015), h(25, APRIL_2015)],
        _n100(DUE, BR),
        id="in_force_from_april_2015",
    ),
    # Clock changes: 24 elapsed hours, not "same local time tomorrow".
    pytest.param(
        lambda: [
            _rape(start=datetime(2016, 3, 26, 12, tzinfo=UTC)),
            crime(23.5, og=RAPE, start=datetime(2016, 3, 26, 12, tzinfo=UTC)),
        ],
        set(),
        id="spring_clock_change_on_time",
    ),
    pytest.param(
        lambda: [
            _rape(start=datetime(2016, 10, 29, 12, tzinfo=UTC)),
            crime(24.5, og=RAPE, start=datetime(2016, 10, 29, 12, tzinfo=UTC)),
        ],
        _n100(DUE, BR, LATE),
        id="autumn_clock_change_late",
    ),
]


@pytest.mark.parametrize(("steps", "expected"), N100_TABLE)
def test_n100__rape_report_becomes_rape_crime_or_n100_within_24h(steps, expected):
    """Each N100 outcome gives exactly its stages, decided by event times."""
    _, _, got = _run(steps())
    assert _only(N100, got) == expected


def test_n100__breach_goes_to_fcr_and_omu_at_s1():
    """The N100 breach is S1 on the FCR queue with the OMU told, and depends on crime records."""
    engine, effects, _ = _run([_rape(), h(25)])
    breach = next(a for a in alerts(effects) if a.stage is Stage.BREACHED)
    assert (breach.queue, breach.also_notify, breach.severity) == (
        Queue.FCR,
        [Queue.OMU],
        Severity.S1,
    )
    ob = find(engine.cases[(CaseKind.INCIDENT, INC)], N100, S1)
    assert ob is not None
    assert ob.source == CRIME_RECORDS.name


def test_n100__flag_duty_cancelled_by_rape_disclosure():
    """The incident-level duty of a rape flag is cancelled once a rape disclosure is known."""
    engine, _, _ = _run([_flagged(), further(2, og=RAPE)])
    ob = find(engine.cases[(CaseKind.INCIDENT, INC)], N100, INC)
    assert ob is not None
    assert ob.outcome is Outcome.CANCELLED


def test_n100__no_n100_rules_before_april_2015():
    """Before 2015-04-01 neither a rape report nor an N100 record opens any N100 rule."""
    engine, _, _ = _run(
        [_rape(start=MARCH_2015), n100(0.5, start=MARCH_2015, reason=DOUBT)],
    )
    rules = {ob.rule_id for ob in engine.open_obligations()}
    assert rules.isdisjoint({N100, N100_REASON, N100_AGEING})


def test_n100__duplicate_events_change_nothing():
    """Re-delivered report and N100 give no effects."""
    report, record = _rape(), n100(10)
    engine, _, got = _run([report, report, record, record, h(30)])
    assert run(engine, [record, report]) == []
    assert _only(N100, got) == set()


def test_n100__crime_records_silence_holds_breach_undecided():
    """Silent crime records: one data-completeness alert, no breach until the source resumes."""
    other = "INC-OTHER"
    engine, effects, got = _run(
        [crime(0, crime_ref="C9", ref=other), _rape(), reviewed(24.9, ref=other), h(25)],
        staleness=timedelta(hours=2),
    )
    assert _only(N100, got) == _n100(DUE)
    undecided = [a for a in alerts(effects) if a.rule_id == DATA_COMPLETENESS]
    assert [(a.stage, a.subject.source_topic) for a in undecided] == [
        (Stage.UNDECIDED, CRIME_RECORDS.name)
    ]
    more = run(engine, [crime(26, crime_ref="C8", ref=other), h(26)])
    assert _only(N100, alert_set(engine, more, FAMILY)) == _n100(BR)


# --- N100-REASON ----------------------------------------------------------------------------

REASON_TABLE = [
    pytest.param(lambda: [_rape(), n100(2), h(30)], set(), id="allowed_reason_no_obligation"),
    pytest.param(
        lambda: [_rape(), crime(1, og=RAPE), n100(2, reason=DOUBT), h(30)],
        set(),
        id="on_time_rape_crime_recorded_first",
    ),
    pytest.param(lambda: [_rape(), n100(2, reason=DOUBT), h(2)], _reason(BR), id="breached"),
    pytest.param(
        lambda: [
            _rape(),
            n100(2, reason=DOUBT),
            n100_resolved(20, outcome=N100Outcome.CONVERTED_TO_CRIME),
        ],
        _reason(BR, LATE),
        id="late_converted_to_crime_backfills_breach",
    ),
    pytest.param(
        lambda: [_rape(), n100(2, reason=DOUBT), h(3), crime(20, og=RAPE)],
        _reason(BR, LATE),
        id="late_rape_crime_linked",
    ),
    pytest.param(
        lambda: [_rape(), n100(2, reason=DOUBT), h(3), crime(1, og=RAPE)],
        _reason(BR, RETR),
        id="retracted_by_rape_crime_recorded_before",
    ),
    pytest.param(
        lambda: [
            _rape(),
            n100(2, reason=DOUBT),
            h(3),
            n100_resolved(20, outcome=N100Outcome.TRANSFERRED),
        ],
        _reason(BR),
        id="transfer_does_not_cure_the_reason",
    ),
    pytest.param(
        lambda: [n100(2, reason=DOUBT), _rape(), h(3)],
        _reason(BR),
        id="n100_before_incident_still_judged",
    ),
    pytest.param(
        lambda: [
            _rape(start=MARCH_2015),
            n100(0.5, start=MARCH_2015, reason=DOUBT),
            h(9, MARCH_2015),
        ],
        set(),
        id="not_in_force_before_april_2015",
    ),
]


@pytest.mark.parametrize(("steps", "expected"), REASON_TABLE)
def test_n100_reason__disallowed_reason_breaches_at_once(steps, expected):
    """Each N100-REASON outcome gives exactly its stages."""
    _, _, got = _run(steps())
    assert _only(N100_REASON, got) == expected


@pytest.mark.parametrize("reason", sorted(N100Reason))
def test_n100_reason__only_victim_doubt_reasons_breach(reason):
    """Exactly the disallowed reasons open an N100-REASON obligation."""
    engine, _, _ = _run([_rape(), n100(2, reason=reason)])
    ob = find(engine.cases[(CaseKind.INCIDENT, INC)], N100_REASON, "N1")
    assert (ob is not None) == reason.value.startswith("doubt_")


def test_n100_reason__alert_code_is_generic_and_s1_on_fcr():
    """The breach is S1 on the FCR queue with a reason code that names no health condition."""
    _, effects, _ = _run([_rape(), n100(2, reason=N100Reason.DOUBT_MENTAL_HEALTH), h(2)])
    [breach] = [a for a in alerts(effects) if a.rule_id == N100_REASON]
    assert (breach.queue, breach.severity) == (Queue.FCR, Severity.S1)
    assert breach.reason_code == "n100_reason_rests_on_victim_doubt"
    assert "health" not in breach.model_dump_json()


def test_n100_reason__incidents_silence_holds_breach_undecided():
    """With the incidents topic silent the immediate breach is held until it resumes."""
    other = "INC-OTHER"
    engine, effects, got = _run(
        [_rape(), n100(2, reason=DOUBT), crime(4.9, crime_ref="C9", ref=other), h(5)],
        staleness=timedelta(hours=2),
    )
    assert _only(N100_REASON, got) == set()
    undecided = [a for a in alerts(effects) if a.rule_id == DATA_COMPLETENESS]
    assert [(a.stage, a.subject.source_topic) for a in undecided] == [
        (Stage.UNDECIDED, INCIDENTS.name)
    ]
    more = run(engine, [reviewed(6, ref=other), h(6)])
    assert _only(N100_REASON, alert_set(engine, more, FAMILY)) == _reason(BR)


# --- RAPE-MISCLASSIFIED ---------------------------------------------------------------------

MIS_TABLE = [
    pytest.param(lambda: [_rape(), crime(5, og=RAPE), h(30)], set(), id="recorded_as_rape"),
    pytest.param(lambda: [_rape(), crime(5, og=VIOLENCE), h(5)], _mis(BR), id="breached"),
    pytest.param(
        lambda: [_rape(), crime(5, og=VIOLENCE), reclassified(5), h(30)],
        set(),
        id="on_time_reclassified_at_once",
    ),
    pytest.param(
        lambda: [_rape(), crime(5, og=VIOLENCE), h(6), reclassified(10)],
        _mis(BR, LATE),
        id="late_reclassified_to_rape",
    ),
    pytest.param(
        lambda: [
            _rape(),
            crime(5, og=VIOLENCE),
            reclassified(10, og=OffenceGroup.OTHER_SEXUAL, ratified=True),
        ],
        _mis(BR, LATE),
        id="late_fcr_ratified_rationale_backfills_breach",
    ),
    pytest.param(
        lambda: [_rape(), crime(5, og=VIOLENCE), h(6), reclassified(10, og=VIOLENCE)],
        _mis(BR),
        id="reclassification_to_another_group_does_not_cure",
    ),
    pytest.param(
        lambda: [_rape(), crime(5, og=VIOLENCE), h(6), reclassified(5)],
        _mis(BR, RETR),
        id="retracted_by_reclassification_at_the_record_time",
    ),
    pytest.param(
        lambda: [_rape(), crime(5, og=VIOLENCE, did=None, victim="V9"), h(30)],
        set(),
        id="crime_for_another_victim_not_linked",
    ),
    pytest.param(
        lambda: [crime(5, og=VIOLENCE), _rape(), h(30)],
        _mis(BR),
        id="crime_before_incident_judged_when_incident_arrives",
    ),
    pytest.param(
        lambda: [_flagged(), crime(5, og=VIOLENCE), h(6)],
        _mis(BR),
        id="flagged_incident_recorded_as_violence",
    ),
    pytest.param(
        lambda: [_flagged(), crime(3, crime_ref="C0", og=RAPE, victim="V2"), crime(5), h(30)],
        set(),
        id="flagged_incident_already_recorded_as_rape",
    ),
    pytest.param(lambda: [incident(0), crime(5), h(30)], set(), id="no_rape_report"),
    pytest.param(
        lambda: [_rape(start=MARCH_2015), crime(5, start=MARCH_2015), h(6, MARCH_2015)],
        _mis(BR),
        id="in_force_before_april_2015",
    ),
]


@pytest.mark.parametrize(("steps", "expected"), MIS_TABLE)
def test_rape_misclassified__non_rape_record_of_rape_report_breaches_at_once(steps, expected):
    """Each RAPE-MISCLASSIFIED outcome gives exactly its stages."""
    _, _, got = _run(steps())
    assert _only(RAPE_MISCLASSIFIED, got) == expected


def test_rape_misclassified__alert_names_the_crime_at_s1_on_fcr():
    """The subject is the crime record; S1 on the FCR queue."""
    _, effects, _ = _run([_rape(), crime(5), h(5)])
    [breach] = [a for a in alerts(effects) if a.rule_id == RAPE_MISCLASSIFIED]
    assert (breach.subject.crime_ref, breach.subject.disclosure_id) == ("C1", "D1")
    assert (breach.queue, breach.severity) == (Queue.FCR, Severity.S1)


def test_rape_misclassified__duplicate_record_changes_nothing():
    """A re-delivered non-rape record opens nothing more and emits nothing."""
    record = crime(5)
    engine, _, got = _run([_rape(), record, h(5)])
    assert run(engine, [record]) == []
    assert _only(RAPE_MISCLASSIFIED, got) == _mis(BR)


# --- N100-AGEING ----------------------------------------------------------------------------

AGEING_TABLE = [
    pytest.param(lambda: [_rape(), n100(2), n100_resolved(50), h(WEEK + 10)], set(), id="on_time"),
    pytest.param(lambda: [_rape(), n100(2), h(WEEK + 3)], _ageing(BR), id="breached"),
    pytest.param(
        lambda: [_rape(), n100(2), h(WEEK + 3), n100_resolved(WEEK + 20)],
        _ageing(BR, LATE),
        id="late",
    ),
    pytest.param(
        lambda: [_rape(), n100(2), h(WEEK + 3), n100_resolved(WEEK)],
        _ageing(BR, RETR),
        id="retracted",
    ),
    pytest.param(
        lambda: [_rape(), n100_resolved(50), n100(2), h(WEEK + 10)],
        set(),
        id="resolution_before_record_no_false_alert",
    ),
    pytest.param(
        lambda: [_rape(start=MARCH_2015), n100(0.5, start=MARCH_2015), h(WEEK * 2, MARCH_2015)],
        set(),
        id="not_in_force_before_april_2015",
    ),
]


@pytest.mark.parametrize(("steps", "expected"), AGEING_TABLE)
def test_n100_ageing__open_n100_resolved_within_7_days(steps, expected):
    """Each N100-AGEING outcome gives exactly its stages."""
    _, _, got = _run(steps())
    assert _only(N100_AGEING, got) == expected


def test_n100_ageing__breach_is_s2_on_fcr():
    """An ageing N100 is an S2 item on the FCR queue."""
    _, effects, _ = _run([_rape(), n100(2), h(WEEK + 3)])
    [breach] = [a for a in alerts(effects) if a.rule_id == N100_AGEING]
    assert (breach.queue, breach.severity) == (Queue.FCR, Severity.S2)


UNDECIDED_TABLE = [
    pytest.param(
        lambda: [_rape(), crime(5), reviewed(7.9, ref="INC-OTHER"), h(8)],
        lambda: [crime(9, crime_ref="C8", ref="INC-OTHER"), h(9)],
        RAPE_MISCLASSIFIED,
        _mis(BR),
        CRIME_RECORDS.name,
        id="rape_misclassified",
    ),
    pytest.param(
        lambda: [_rape(), n100(2), crime(WEEK + 2.9, crime_ref="C9", ref="INC-OTHER"), h(WEEK + 3)],
        lambda: [reviewed(WEEK + 4, ref="INC-OTHER"), h(WEEK + 4)],
        N100_AGEING,
        _ageing(BR),
        INCIDENTS.name,
        id="n100_ageing",
    ),
]


@pytest.mark.parametrize(("before", "resume", "rule", "expected", "silent"), UNDECIDED_TABLE)
def test_n100_family__silent_source_holds_breach_until_it_resumes(
    before, resume, rule, expected, silent
):
    """A breach that depends on a silent topic is held undecided and announced on its return."""
    engine, effects, got = _run(before(), staleness=timedelta(hours=2))
    assert _only(rule, got) == set()
    undecided = [a for a in alerts(effects) if a.rule_id == DATA_COMPLETENESS]
    assert [(a.stage, a.subject.source_topic) for a in undecided] == [(Stage.UNDECIDED, silent)]
    more = run(engine, resume())
    assert _only(rule, alert_set(engine, more, FAMILY)) == expected
