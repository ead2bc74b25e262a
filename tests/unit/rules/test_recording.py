"""REC-24H, MULTI-CRIME and CLOSE-REVIEW: every outcome, table-driven over event sequences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemas.codes import (
    ClosureOutcome,
    EntitlementCode,
    IncidentCategory,
    OffenceGroup,
    Queue,
    ReviewType,
    Severity,
    Stage,
)
from streams.rules.duties import find
from streams.rules.engine import DATA_COMPLETENESS, Engine
from streams.rules.model import CaseKind, Outcome
from streams.rules.recording import CLOSE_REVIEW, FAMILY, MULTI_CRIME, REC_24H
from streams.topics import CRIME_RECORDS, INCIDENTS
from tests.unit.rules.scenario import (
    INC,
    alert_set,
    alerts,
    closed,
    crime,
    further,
    h,
    incident,
    n100,
    reviewed,
    run,
)

S1 = f"{INC}/D1"
S2 = f"{INC}/D2"
DUE, BR, ESC = Stage.DUE_SOON.value, Stage.BREACHED.value, Stage.ESCALATED.value
LATE, RETR = Stage.RESOLVED_LATE.value, Stage.RETRACTED.value
RAPE = OffenceGroup.RAPE


def _run(steps, **engine_kwargs):
    engine = Engine([FAMILY], **engine_kwargs)
    effects = run(engine, steps)
    return engine, effects, alert_set(engine, effects, FAMILY)


def _rec(*stages: str, subject: str = S1) -> set[tuple[str, str, str]]:
    return {(REC_24H, subject, s) for s in stages}


def _multi(*stages: str) -> set[tuple[str, str, str]]:
    return {(MULTI_CRIME, S1, s) for s in stages}


def _review(*stages: str) -> set[tuple[str, str, str]]:
    return {(CLOSE_REVIEW, INC, s) for s in stages}


# --- REC-24H --------------------------------------------------------------------------------

REC_TABLE = [
    pytest.param(lambda: [incident(0), crime(10), h(60)], set(), id="on_time"),
    pytest.param(lambda: [incident(0), h(17), crime(20), h(60)], _rec(DUE), id="due_soon"),
    pytest.param(lambda: [incident(0), h(25)], _rec(DUE, BR), id="breached"),
    pytest.param(lambda: [incident(0), h(49)], _rec(DUE, BR, ESC), id="escalated"),
    pytest.param(
        lambda: [incident(0), h(10), crime(30), h(60)],
        _rec(DUE, BR, LATE),
        id="late_backfills_unannounced_stages",
    ),
    pytest.param(
        lambda: [incident(0), h(50), crime(50), h(60)],
        _rec(DUE, BR, ESC, LATE),
        id="late_after_escalation",
    ),
    pytest.param(
        lambda: [incident(0), h(25), crime(23), h(60)],
        _rec(DUE, BR, RETR),
        id="retracted",
    ),
    pytest.param(
        lambda: [incident(0), crime(10, did=None, victim="V1"), h(60)],
        set(),
        id="crime_without_disclosure_ids_links_by_victim",
    ),
    pytest.param(
        lambda: [incident(0), crime(10, did=None, victim="V9"), h(25)],
        _rec(DUE, BR),
        id="crime_for_another_victim_does_not_satisfy",
    ),
    pytest.param(
        lambda: [incident(0), crime(10, did="D7"), h(25)],
        _rec(DUE, BR),
        id="crime_naming_another_disclosure_does_not_satisfy",
    ),
    pytest.param(
        lambda: [
            incident(0),
            closed(
                5,
                outcome=ClosureOutcome.CRIME_RELATED_INCIDENT,
                category=IncidentCategory.CRIME,
                supervisor_review=True,
            ),
            h(60),
        ],
        set(),
        id="crime_related_incident_with_rationale_and_review",
    ),
    pytest.param(
        lambda: [
            incident(0),
            closed(
                5,
                outcome=ClosureOutcome.CRIME_RELATED_INCIDENT,
                category=IncidentCategory.CRIME,
                supervisor_review=False,
            ),
            h(25),
        ],
        _rec(DUE, BR),
        id="crime_related_incident_without_review_does_not_satisfy",
    ),
    pytest.param(
        lambda: [incident(0, og=RAPE), n100(10, did="D1"), h(60)],
        set(),
        id="rape_disclosure_satisfied_by_its_n100",
    ),
    pytest.param(
        lambda: [incident(0, og=RAPE), n100(10, did=None), h(60)],
        set(),
        id="single_rape_disclosure_satisfied_by_incident_n100",
    ),
    pytest.param(
        lambda: [incident(0), n100(10, did="D1"), h(25)],
        _rec(DUE, BR),
        id="n100_does_not_satisfy_a_non_rape_disclosure",
    ),
    pytest.param(
        lambda: [crime(10), incident(0), h(60)],
        set(),
        id="crime_before_incident_no_false_alert",
    ),
    pytest.param(
        lambda: [crime(30), incident(0), h(60)],
        _rec(DUE, BR, LATE),
        id="late_crime_before_incident_resolves_late",
    ),
    pytest.param(
        lambda: [incident(0), crime(5), further(20), h(43)],
        _rec(DUE, subject=S2),
        id="further_disclosure_warned_on_its_own_clock",
    ),
    pytest.param(
        lambda: [incident(0), crime(5), further(20), h(45)],
        _rec(DUE, BR, subject=S2),
        id="further_disclosure_breached_on_its_own_clock",
    ),
    pytest.param(
        lambda: [incident(0), further(20), crime(40, crime_ref="C2", did="D2", victim="V2"), h(30)],
        _rec(DUE, BR),
        id="further_disclosure_record_does_not_satisfy_the_first",
    ),
]


@pytest.mark.parametrize(("steps", "expected"), REC_TABLE)
def test_rec24h__alert_lifecycle_follows_event_times(steps, expected):
    """Each REC-24H outcome gives exactly its stages, decided by event times."""
    _, _, got = _run(steps())
    assert {a for a in got if a[0] == REC_24H} == expected


def test_rec24h__breach_retracted_when_late_record_predates_deadline():
    """A record made before the deadline but arriving after the breach retracts it."""
    engine, _, got = _run([incident(0), h(25)])
    assert got == _rec(DUE, BR)
    more = run(engine, [crime(23)])
    assert [a.stage for a in alerts(more)] == [Stage.RETRACTED]
    ob = find(engine.cases[(CaseKind.INCIDENT, INC)], REC_24H, S1)
    assert ob is not None
    assert ob.outcome is Outcome.ON_TIME


def test_rec24h__late_record_closes_at_its_recorded_time_with_minutes_late():
    """Resolution is timed by the crime's recorded_at, not by when it arrived."""
    engine, effects, _ = _run([incident(0), h(100), crime(30)])
    late = [a for a in alerts(effects) if a.stage is Stage.RESOLVED_LATE]
    assert len(late) == 1
    assert late[0].minutes_late == 6 * 60
    ob = find(engine.cases[(CaseKind.INCIDENT, INC)], REC_24H, S1)
    assert ob is not None
    assert ob.closed_at == h(30)


def test_rec24h__duplicate_events_change_nothing():
    """Re-delivered incident and crime events give no effects and the same alerts."""
    inc, rec = incident(0), crime(30)
    engine, _, got = _run([inc, inc, h(25), rec])
    assert run(engine, [rec, inc]) == []
    assert got == _rec(DUE, BR, LATE)


def test_rec24h__source_silence_holds_breach_undecided_until_source_resumes():
    """Silent crime records: no breach, one data-completeness alert; the breach comes on resume."""
    other = "INC-OTHER"
    engine, effects, got = _run(
        [crime(0, crime_ref="C9", ref=other), incident(0), reviewed(24.9, ref=other), h(25)],
        staleness=timedelta(hours=2),
    )
    assert got == _rec(DUE)
    undecided = [a for a in alerts(effects) if a.rule_id == DATA_COMPLETENESS]
    assert [(a.stage, a.subject.source_topic) for a in undecided] == [
        (Stage.UNDECIDED, CRIME_RECORDS.name)
    ]
    more = run(engine, [crime(26, crime_ref="C8", ref=other), h(26)])
    assert alert_set(engine, more, FAMILY) == _rec(BR)


def test_rec24h__source_resuming_with_timely_record_never_breaches():
    """When the silent source resumes with a record made in time, no breach is ever announced."""
    other = "INC-OTHER"
    engine, effects, _ = _run(
        [crime(0, crime_ref="C9", ref=other), incident(0), reviewed(24.9, ref=other), h(25)],
        staleness=timedelta(hours=2),
    )
    more = run(engine, [crime(23), h(26), h(60)])
    assert alert_set(engine, [*effects, *more], FAMILY) == _rec(DUE)


SEVERITY_TABLE = [
    pytest.param(OffenceGroup.RAPE, {}, (), Severity.S1, id="rape"),
    pytest.param(OffenceGroup.THEFT, {"child_victim": True}, (), Severity.S1, id="child"),
    pytest.param(OffenceGroup.VIOLENCE, {}, (), Severity.S2, id="violence"),
    pytest.param(OffenceGroup.OTHER_SEXUAL, {}, (), Severity.S2, id="other_sexual"),
    pytest.param(OffenceGroup.THEFT, {"domestic_abuse": True}, (), Severity.S2, id="da_flag"),
    pytest.param(OffenceGroup.THEFT, {}, (EntitlementCode.VULNERABLE,), Severity.S2, id="enhanced"),
    pytest.param(OffenceGroup.THEFT, {}, (), Severity.S3, id="theft"),
]


@pytest.mark.parametrize(("og", "flags", "enhanced", "severity"), SEVERITY_TABLE)
def test_rec24h__severity_and_queues_follow_offence_and_flags(og, flags, enhanced, severity):
    """S1 rape/child, S2 violence/sexual/DA/enhanced, else S3; control room told of S1/S2."""
    _, effects, _ = _run([incident(0, og=og, flags=flags, enhanced=enhanced), h(25)])
    breach = next(a for a in alerts(effects) if a.stage is Stage.BREACHED)
    assert breach.severity is severity
    assert breach.queue is Queue.OMU
    expected_also = [Queue.CONTROL_ROOM] if severity in (Severity.S1, Severity.S2) else []
    assert breach.also_notify == expected_also
    assert breach.offence_group is og


def test_rec24h__obligation_names_crime_records_as_its_source():
    """A REC-24H breach depends on the crime-records topic."""
    engine, _, _ = _run([incident(0)])
    [ob] = engine.open_obligations()
    assert ob.source == CRIME_RECORDS.name


RULESET_TABLE = [
    pytest.param(
        datetime(2015, 3, 31, 23, 0, tzinfo=UTC), 48, set(), "hocr-2014", id="72h_before_april_2015"
    ),
    pytest.param(
        datetime(2015, 3, 31, 23, 0, tzinfo=UTC),
        73,
        _rec(DUE, BR, LATE),
        "hocr-2014",
        id="late_after_72h_before_april_2015",
    ),
    pytest.param(
        datetime(2015, 4, 1, 0, 0, tzinfo=UTC),
        25,
        _rec(DUE, BR, LATE),
        "hocr-2015",
        id="24h_from_april_2015",
    ),
]


@pytest.mark.parametrize(("start", "record_after", "expected", "ruleset"), RULESET_TABLE)
def test_rec24h__ruleset_chosen_by_receipt_time(start, record_after, expected, ruleset):
    """72 h before 2015-04-01 and 24 h from then, by the event time of the report."""
    engine, effects, got = _run(
        [incident(0, start=start), crime(record_after, start=start), h(200, start)]
    )
    assert got == expected
    assert {a.ruleset_id for a in alerts(effects)} <= {ruleset}
    ob = find(engine.cases[(CaseKind.INCIDENT, INC)], REC_24H, S1)
    assert ob is not None
    assert ob.ruleset_id == ruleset


CLOCK_CHANGE_TABLE = [
    # Spring forward 2016-03-27 01:00 UTC: local "same time tomorrow" is 23 h, not 24.
    pytest.param(datetime(2016, 3, 26, 12, 0, tzinfo=UTC), 23.5, set(), id="spring_on_time"),
    pytest.param(
        datetime(2016, 3, 26, 12, 0, tzinfo=UTC), 24.5, _rec(DUE, BR, LATE), id="spring_late"
    ),
    # Fall back 2016-10-30 01:00 UTC: local "same time tomorrow" is 25 h, not 24.
    pytest.param(datetime(2016, 10, 29, 12, 0, tzinfo=UTC), 23.5, set(), id="autumn_on_time"),
    pytest.param(
        datetime(2016, 10, 29, 12, 0, tzinfo=UTC), 24.5, _rec(DUE, BR, LATE), id="autumn_late"
    ),
]


@pytest.mark.parametrize(("start", "record_after", "expected"), CLOCK_CHANGE_TABLE)
def test_rec24h__24_hours_is_elapsed_time_across_clock_changes(start, record_after, expected):
    """The deadline is 24 elapsed hours whether the clocks go forward or back overnight."""
    engine, _, got = _run([incident(0, start=start), crime(record_after, start=start)])
    assert got == expected
    ob = find(engine.cases[(CaseKind.INCIDENT, INC)], REC_24H, S1)
    assert ob is not None
    assert ob.deadline - ob.clock_start == timedelta(hours=24)


# --- MULTI-CRIME ----------------------------------------------------------------------------


def _two_victims(**kw):
    return incident(0, victims=("V1", "V2"), **kw)


MULTI_TABLE = [
    pytest.param(
        lambda: [_two_victims(), crime(5), crime(10, crime_ref="C2", victim="V2"), h(60)],
        set(),
        id="on_time_one_crime_per_victim",
    ),
    pytest.param(lambda: [_two_victims(), crime(5), h(25)], _multi(BR), id="breached"),
    pytest.param(lambda: [_two_victims(), crime(5), h(49)], _multi(BR, ESC), id="escalated"),
    pytest.param(
        lambda: [_two_victims(), crime(5), crime(30, crime_ref="C2", victim="V2")],
        _multi(BR, LATE),
        id="late_closed_by_the_crime_completing_the_count",
    ),
    pytest.param(
        lambda: [_two_victims(), crime(5), h(25), crime(20, crime_ref="C2", victim="V2")],
        _multi(BR, RETR),
        id="retracted",
    ),
    pytest.param(
        lambda: [_two_victims(), crime(5), crime(5), h(25)],
        _multi(BR),
        id="duplicate_crime_counts_once",
    ),
    pytest.param(
        lambda: [
            crime(5),
            crime(10, crime_ref="C2", victim="V2", did=None),
            _two_victims(),
            h(60),
        ],
        set(),
        id="crimes_before_incident_no_false_alert",
    ),
    pytest.param(
        lambda: [incident(0, og=RAPE, offenders=3), crime(5, og=RAPE), h(25)],
        _multi(BR),
        id="rape_one_crime_per_offender_before_2024",
    ),
    pytest.param(
        lambda: [
            incident(0, og=RAPE, offenders=3, start=datetime(2024, 6, 3, 9, tzinfo=UTC)),
            crime(5, og=RAPE, start=datetime(2024, 6, 3, 9, tzinfo=UTC)),
            h(25, datetime(2024, 6, 3, 9, tzinfo=UTC)),
        ],
        set(),
        id="rape_one_crime_per_victim_from_2024",
    ),
]


@pytest.mark.parametrize(("steps", "expected"), MULTI_TABLE)
def test_multi_crime__needs_one_distinct_crime_per_victim(steps, expected):
    """Each MULTI-CRIME outcome gives exactly its stages."""
    _, _, got = _run(steps())
    assert {a for a in got if a[0] == MULTI_CRIME} == expected


def test_multi_crime__not_opened_when_one_crime_is_needed():
    """A single-victim, single-offender disclosure owes no MULTI-CRIME obligation."""
    engine, _, _ = _run([incident(0)])
    assert find(engine.cases[(CaseKind.INCIDENT, INC)], MULTI_CRIME, S1) is None


def test_multi_crime__72_hours_before_april_2015():
    """MULTI-CRIME follows the 72-hour limit of the 2014 ruleset."""
    start = datetime(2015, 3, 2, 9, tzinfo=UTC)
    _, _, got = _run([_two_victims(start=start), crime(5, start=start), h(50, start)])
    assert {a for a in got if a[0] == MULTI_CRIME} == set()
    _, _, got = _run([_two_victims(start=start), crime(5, start=start), h(73, start)])
    assert {a for a in got if a[0] == MULTI_CRIME} == _multi(BR)


# --- CLOSE-REVIEW ---------------------------------------------------------------------------


def _bare_incident(**kw):
    return incident(0, disclosures=[], **kw)


REVIEW_TABLE = [
    pytest.param(lambda: [_bare_incident(), closed(1), reviewed(5), h(60)], set(), id="on_time"),
    pytest.param(
        lambda: [_bare_incident(), closed(1, supervisor_review=True), h(60)],
        set(),
        id="supervisor_review_on_closure",
    ),
    pytest.param(lambda: [_bare_incident(), closed(1), h(26)], _review(BR), id="breached"),
    pytest.param(
        lambda: [_bare_incident(), closed(1), h(26), reviewed(30)],
        _review(BR, LATE),
        id="late",
    ),
    pytest.param(
        lambda: [_bare_incident(), closed(1), h(26), reviewed(20)],
        _review(BR, RETR),
        id="retracted",
    ),
    pytest.param(
        lambda: (
            [
                _bare_incident(),
                closed(1),
                reviewed(5, review_type=ReviewType.QUALITY_ASSURANCE),
                h(26),
            ]
        ),
        _review(BR),
        id="quality_review_does_not_satisfy",
    ),
    pytest.param(
        lambda: [_bare_incident(), closed(1), crime(3, did=None), h(60)],
        set(),
        id="cancelled_by_later_crime",
    ),
    pytest.param(
        lambda: [_bare_incident(), closed(1), n100(3, did=None), h(60)],
        set(),
        id="cancelled_by_later_n100",
    ),
    pytest.param(
        lambda: [_bare_incident(), closed(1), h(26), crime(30, did=None)],
        _review(BR, RETR),
        id="cancelled_after_breach_retracts",
    ),
    pytest.param(
        lambda: [_bare_incident(), closed(1, crimes=["C1"]), h(60)],
        set(),
        id="closure_naming_a_crime_owes_nothing",
    ),
    pytest.param(
        lambda: [_bare_incident(), closed(1, category=IncidentCategory.ASB), h(26)],
        _review(BR),
        id="asb_category",
    ),
    pytest.param(
        lambda: (
            [_bare_incident(), closed(1, category=IncidentCategory.CONCERN_FOR_WELFARE), h(60)]
        ),
        set(),
        id="other_category_owes_nothing",
    ),
    pytest.param(
        lambda: [
            _bare_incident(flags={"domestic_abuse": True}),
            closed(1, category=IncidentCategory.CONCERN_FOR_WELFARE),
            h(26),
        ],
        _review(BR),
        id="da_flag_brings_other_category_in",
    ),
    pytest.param(
        lambda: [closed(1), _bare_incident(), reviewed(5), h(60)],
        set(),
        id="closure_before_report_no_false_alert",
    ),
]


@pytest.mark.parametrize(("steps", "expected"), REVIEW_TABLE)
def test_close_review__supervisor_review_due_within_24h_of_closure(steps, expected):
    """Each CLOSE-REVIEW outcome gives exactly its stages."""
    _, _, got = _run(steps())
    assert {a for a in got if a[0] == CLOSE_REVIEW} == expected


def test_close_review__linked_crime_cancels_the_obligation():
    """A crime linked after the closure cancels the review obligation."""
    engine, _, _ = _run([_bare_incident(), closed(1), crime(3, did=None)])
    ob = find(engine.cases[(CaseKind.INCIDENT, INC)], CLOSE_REVIEW, INC)
    assert ob is not None
    assert ob.outcome is Outcome.CANCELLED


def test_close_review__breach_goes_to_control_room_at_s2():
    """The breach names the control-room queue, S2, and depends on the incidents topic."""
    engine, effects, _ = _run([_bare_incident(), closed(1), h(26)])
    [breach] = [a for a in alerts(effects) if a.rule_id == CLOSE_REVIEW]
    assert (breach.queue, breach.severity) == (Queue.CONTROL_ROOM, Severity.S2)
    ob = find(engine.cases[(CaseKind.INCIDENT, INC)], CLOSE_REVIEW, INC)
    assert ob is not None
    assert ob.source == INCIDENTS.name


def test_close_review__incidents_silence_holds_breach_undecided():
    """With the incidents topic silent the breach is held; it comes when the topic resumes."""
    other = "INC-OTHER"
    engine, effects, got = _run(
        [_bare_incident(), closed(1), crime(25.9, crime_ref="C9", ref=other), h(26)],
        staleness=timedelta(hours=2),
    )
    assert got == set()
    undecided = [a for a in alerts(effects) if a.rule_id == DATA_COMPLETENESS]
    assert [(a.stage, a.subject.source_topic) for a in undecided] == [
        (Stage.UNDECIDED, INCIDENTS.name)
    ]
    more = run(engine, [reviewed(27, ref=other), h(27)])
    assert alert_set(engine, more, FAMILY) == _review(BR)


def test_multi_crime__crime_records_silence_holds_breach_undecided():
    """Too few crimes while crime records are silent: held undecided, breached on resume."""
    other = "INC-OTHER"
    engine, effects, got = _run(
        [_two_victims(), crime(5), reviewed(24.9, ref=other), h(25)],
        staleness=timedelta(hours=2),
    )
    assert {a for a in got if a[0] == MULTI_CRIME} == set()
    undecided = [a for a in alerts(effects) if a.rule_id == DATA_COMPLETENESS]
    assert [(a.stage, a.subject.source_topic) for a in undecided] == [
        (Stage.UNDECIDED, CRIME_RECORDS.name)
    ]
    more = run(engine, [crime(26, crime_ref="C8", ref=other), h(26)])
    assert alert_set(engine, more, FAMILY) == _multi(BR)
