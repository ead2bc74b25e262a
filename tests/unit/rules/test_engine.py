"""Engine-level behaviour: the due index, stage announcement, snapshots, retention, staleness.

These run against a small test-only family (`toy_family`) so that they pin down what the engine
does whatever the real rule families decide.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from schemas.alerts import AlertEvent, WorkItem
from schemas.codes import ClockKind, OffenceGroup, Queue, Severity, Stage
from streams.rules import engine as engine_module
from streams.rules.duties import RuleContext, open_obligation
from streams.rules.engine import (
    DATA_COMPLETENESS,
    DEFAULT_RETENTION,
    Clock,
    Effect,
    Engine,
    SourceMonitor,
    advance,
    apply,
)
from streams.rules.families import ALL_FAMILIES, RULE_IDS
from streams.rules.index import DueIndex
from streams.rules.model import CaseKind, CaseState, ObligationClosed, Outcome, Refs
from streams.rules.ruleset import RULESETS
from streams.topics import CRIME_RECORDS, INCIDENTS
from tests.factories import (
    T0,
    at,
    make_crime_recorded,
    make_disclosure,
    make_incident_reported,
    make_incident_reviewed,
)
from tests.unit.rules.toy_family import RULE, TOY_FAMILY

WATERMARK = ClockKind.EVENT_TIME_WATERMARK
CTX = RuleContext()


def _incident(ref: str, hours: float = 0.0, did: str = "D1"):
    return make_incident_reported(
        incident_ref=ref,
        received_at=at(hours),
        disclosures=[make_disclosure(disclosure_id=did, offence_group=OffenceGroup.VIOLENCE)],
    )


def _crime(incident_ref: str, hours: float, did: str = "D1", crime_ref: str | None = None):
    overrides = {"crime_ref": crime_ref} if crime_ref else {}
    return make_crime_recorded(
        incident_ref=incident_ref,
        disclosure_ids=[did],
        reported_at=at(0),
        recorded_at=at(hours),
        **overrides,
    )


def _alerts(effects: list[Effect]) -> list[AlertEvent]:
    return [e for e in effects if isinstance(e, AlertEvent)]


def _stages(effects: list[Effect]) -> list[Stage]:
    return [a.stage for a in _alerts(effects)]


def _engine(**kwargs) -> Engine:
    return Engine([TOY_FAMILY], CTX, **kwargs)


# --- DueIndex -------------------------------------------------------------------------------


def test_due_index__pops_only_due_keys_in_due_order():
    """Keys come out earliest first and only when their time has come."""
    index: DueIndex[str] = DueIndex()
    index.schedule("c", at(3))
    index.schedule("a", at(1))
    index.schedule("b", at(2))
    index.schedule("later", at(10))
    assert index.pop_due(at(3)) == ["a", "b", "c"]
    assert index.pop_due(at(3)) == []
    assert len(index) == 1
    assert index.next_due() == at(10)


def test_due_index__rescheduling_later_skips_the_superseded_entry():
    """A key moved later is not popped at its old time, and is popped once at its new time."""
    index: DueIndex[str] = DueIndex()
    index.schedule("k", at(1))
    index.schedule("k", at(5))
    assert index.pop_due(at(2)) == []
    assert index.next_due() == at(5)
    assert index.pop_due(at(6)) == ["k"]
    assert index.pop_due(at(6)) == []


def test_due_index__rescheduling_earlier_pops_once_at_the_new_time():
    """A key moved earlier is popped at its new time and its stale later entry is ignored."""
    index: DueIndex[str] = DueIndex()
    index.schedule("k", at(5))
    index.schedule("k", at(1))
    assert index.pop_due(at(2)) == ["k"]
    assert index.pop_due(at(10)) == []
    assert index.next_due() is None


def test_due_index__scheduling_none_forgets_the_key():
    """`schedule(k, None)` removes the key: nothing is due for it any more."""
    index: DueIndex[str] = DueIndex()
    index.schedule("k", at(1))
    index.schedule("k", None)
    assert len(index) == 0
    assert index.pop_due(at(5)) == []


def test_due_index__rebuild_replaces_every_entry():
    """A rebuild drops what was scheduled and keeps only the given entries that have a time."""
    index: DueIndex[str] = DueIndex()
    index.schedule("old", at(1))
    index.rebuild([("x", at(2)), ("y", None), ("z", at(1))])
    assert len(index) == 2
    assert index.pop_due(at(5)) == ["z", "x"]


# --- stages ---------------------------------------------------------------------------------


def test_advance__announces_every_passed_stage_once_in_threshold_order():
    """A clock jump past the escalation threshold announces due_soon, breached and escalated."""
    engine = _engine()
    engine.process(_incident("INC-1"))
    first = engine.advance(Clock(at(50), WATERMARK))
    assert _stages(first) == [Stage.DUE_SOON, Stage.BREACHED, Stage.ESCALATED]
    assert {w.stage for w in first if isinstance(w, WorkItem)} == set(_stages(first))
    assert engine.advance(Clock(at(60), WATERMARK)) == []


def test_advance__decides_on_the_clock_it_is_given_without_adding_grace():
    """The stage falls due at exactly its threshold; grace is for the driver to take off `now`."""
    engine = _engine()
    engine.process(_incident("INC-1"))
    deadline = at(24)
    before = engine.advance(Clock(deadline - timedelta(microseconds=1), ClockKind.WALL_CLOCK))
    assert _stages(before) == [Stage.DUE_SOON]
    on_the_dot = _alerts(engine.advance(Clock(deadline, ClockKind.WALL_CLOCK)))
    assert [a.stage for a in on_the_dot] == [Stage.BREACHED]
    assert on_the_dot[0].evidence.clock == deadline
    assert on_the_dot[0].evidence.clock_kind is ClockKind.WALL_CLOCK


def test_late_close__waits_for_the_clock_then_backfills_unannounced_stages():
    """A late record is final only when the clock passes its time: then breached, resolved."""
    engine = _engine()
    engine.process(_incident("INC-1"))
    assert _alerts(engine.process(_crime("INC-1", 30))) == []
    assert _stages(engine.advance(Clock(at(29), WATERMARK))) == [Stage.DUE_SOON, Stage.BREACHED]
    effects = engine.advance(Clock(at(30), WATERMARK))
    assert _stages(effects) == [Stage.RESOLVED_LATE]
    assert _alerts(effects)[0].minutes_late == 6 * 60
    closed = [e for e in effects if isinstance(e, ObligationClosed)]
    assert [c.outcome for c in closed] == [Outcome.LATE]


def test_late_close__announced_in_one_go_when_the_clock_jumps_past_it():
    """A clock jump past a late record backfills every stage up to it, then resolves."""
    engine = _engine()
    engine.process(_incident("INC-1"))
    engine.process(_crime("INC-1", 30))
    effects = engine.advance(Clock(at(100), WATERMARK))
    assert _stages(effects) == [Stage.DUE_SOON, Stage.BREACHED, Stage.RESOLVED_LATE]


def test_on_time_record_arriving_after_breach__retracts_it_and_closes_the_work_item():
    """A record timed before the deadline that arrives after the breach retracts the breach."""
    engine = _engine()
    engine.process(_incident("INC-1"))
    engine.advance(Clock(at(25), WATERMARK))
    effects = engine.process(_crime("INC-1", 20))
    assert _stages(effects) == [Stage.RETRACTED]
    closed_items = [e for e in effects if isinstance(e, engine_module.WorkItemClosed)]
    assert [c.queue for c in closed_items] == [Queue.OMU]


def test_alert_ids__are_the_same_on_every_run():
    """Two engines fed the same input announce the same alert ids."""

    def run() -> list[str]:
        engine = _engine()
        engine.process(_incident("INC-1", did="D9"))
        return [a.alert_id for a in _alerts(engine.advance(Clock(at(50), WATERMARK)))]

    assert run() == run()
    assert len(set(run())) == 3


# --- state: snapshots and JSON ---------------------------------------------------------------


def test_snapshot_restore__gives_identical_subsequent_output():
    """An engine restored from a JSON snapshot continues exactly as the original does."""
    first = [_incident("INC-1"), _incident("INC-2", 2, did="D2"), _crime("INC-2", 3, did="D2")]
    rest = [_crime("INC-1", 30), _incident("INC-3", 40, did="D3")]
    original = _engine()
    for event in first:
        original.process(event)
    original.advance(Clock(at(20), WATERMARK))
    restored = _engine()
    restored.restore(json.loads(json.dumps(original.snapshot())))

    def carry_on(engine: Engine) -> list[Effect]:
        out: list[Effect] = []
        for event in rest:
            out.extend(engine.process(event))
            out.extend(engine.advance(Clock(event.time, WATERMARK)))
        out.extend(engine.advance(Clock(at(200), WATERMARK)))
        return out

    assert carry_on(restored) == carry_on(original)
    assert restored.snapshot() == original.snapshot()


def test_case_state__round_trips_through_json():
    """A case with open, closed and announced obligations survives `json.dumps` unchanged."""
    step = apply(None, CaseKind.INCIDENT, "INC-1", _incident("INC-1"), CTX, [TOY_FAMILY])
    assert step.case is not None
    case = advance(step.case, Clock(at(25), WATERMARK), CTX).case
    assert case is not None
    extra = _incident("INC-1", 1, did="D2")
    case = apply(case, CaseKind.INCIDENT, "INC-1", extra, CTX, [TOY_FAMILY]).case
    assert case is not None
    held = next(iter(case.obligations.values()))
    case = case.with_obligation(replace(held, undecided=True))
    case = apply(case, CaseKind.INCIDENT, "INC-1", _crime("INC-1", 26), CTX, [TOY_FAMILY]).case
    assert case is not None
    assert {ob.is_open for ob in case.obligations.values()} == {True, False}

    restored = CaseState.from_dict(json.loads(json.dumps(case.to_dict())))
    assert restored == case


# --- retention ------------------------------------------------------------------------------


def _closed_case() -> CaseState:
    case = None
    events = [
        _incident("INC-1"),
        _crime("INC-1", 1),
        make_incident_reviewed(incident_ref="INC-1", reviewed_at=at(24 * 10)),
    ]
    for event in events:
        case = apply(case, CaseKind.INCIDENT, "INC-1", event, CTX, [TOY_FAMILY]).case
    assert case is not None
    return case


def test_retention__purges_a_closed_obligation_once_retention_has_passed():
    """A closed obligation is kept for the retention period, then dropped from the state."""
    case = _closed_case()
    purge_at = at(1) + DEFAULT_RETENTION
    kept = advance(case, Clock(purge_at - timedelta(seconds=1), WATERMARK), CTX).case
    assert kept is not None
    assert len(kept.obligations) == 1
    purged = advance(case, Clock(purge_at, WATERMARK), CTX).case
    assert purged is not None  # the case itself saw an event later than the obligation closed
    assert purged.obligations == {}


def test_retention__drops_an_idle_case_with_nothing_owed():
    """A case with no obligations and no event within retention expires (Step.case is None)."""
    case = advance(_closed_case(), Clock(at(24 * 11), WATERMARK), CTX).case
    assert case is not None
    expiry = at(24 * 10) + DEFAULT_RETENTION
    just_before = Clock(expiry - timedelta(seconds=1), WATERMARK)
    assert advance(case, just_before, CTX).case is not None
    assert advance(case, Clock(expiry, WATERMARK), CTX).case is None


def test_engine__forgets_closed_cases_by_itself_after_retention():
    """The engine's index schedules the purge: no caller has to sweep for expired cases."""
    engine = _engine(retention=timedelta(days=2))
    engine.process(_incident("INC-1"))
    engine.process(_crime("INC-1", 1))
    engine.advance(Clock(at(1) + timedelta(days=2), WATERMARK))
    assert engine.cases == {}
    assert len(engine.index) == 0


# --- source staleness -----------------------------------------------------------------------


def test_source_monitor__announces_one_silence_and_resolves_it_when_the_source_speaks():
    """Silence longer than the limit raises one undecided alert; speaking again resolves it."""
    monitor = SourceMonitor(limit=timedelta(minutes=15))
    source = CRIME_RECORDS.name
    assert monitor.observe(source, at(0), CTX, WATERMARK) == []
    assert monitor.check(Clock(at(0.25), WATERMARK), CTX) == []  # exactly the limit: not silent
    silent = monitor.check(Clock(at(1), WATERMARK), CTX)
    alerts = _alerts(silent)
    assert [(a.rule_id, a.stage) for a in alerts] == [(DATA_COMPLETENESS, Stage.UNDECIDED)]
    assert alerts[0].subject.source_topic == source
    assert alerts[0].deadline == at(0.25)
    assert monitor.stale == frozenset({source})
    assert monitor.check(Clock(at(2), WATERMARK), CTX) == []
    resumed = monitor.observe(source, at(3), CTX, WATERMARK)
    assert [a.stage for a in _alerts(resumed)] == [Stage.RESOLVED_LATE]
    assert _alerts(resumed)[0].obligation_id == alerts[0].obligation_id
    assert monitor.stale == frozenset()


def test_source_monitor__alert_ids_are_deterministic_per_silence():
    """The same silence gets the same ids on every run; a new silence gets new ones."""

    def silence_ids(start_hours: float) -> list[str]:
        monitor = SourceMonitor(limit=timedelta(minutes=15))
        monitor.observe(INCIDENTS.name, at(start_hours), CTX, WATERMARK)
        effects = monitor.check(Clock(at(start_hours + 1), WATERMARK), CTX)
        return [a.alert_id for a in _alerts(effects)]

    assert silence_ids(0) == silence_ids(0)
    assert set(silence_ids(0)).isdisjoint(silence_ids(5))


def test_stale_source__holds_the_breach_undecided_and_releases_it_when_the_source_resumes():
    """While the satisfying source is silent the breach is held; it is announced when it speaks."""
    engine = _engine(staleness=timedelta(minutes=15))
    engine.process(_crime("INC-OTHER", 0, did="DX", crime_ref="CRI-OTHER"))
    engine.process(_incident("INC-1"))
    held = engine.advance(Clock(at(25), WATERMARK))
    assert (DATA_COMPLETENESS, Stage.UNDECIDED) in {(a.rule_id, a.stage) for a in _alerts(held)}
    assert [a.stage for a in _alerts(held) if a.rule_id == RULE] == [Stage.DUE_SOON]
    (ob,) = engine.open_obligations()
    assert ob.undecided
    assert engine.advance(Clock(at(26), WATERMARK)) == []  # still held, nothing re-announced

    resumed = engine.process(_crime("INC-OTHER2", 26, did="DY", crime_ref="CRI-OTHER2"))
    assert (DATA_COMPLETENESS, Stage.RESOLVED_LATE) in {
        (a.rule_id, a.stage) for a in _alerts(resumed)
    }
    released = _alerts(engine.advance(Clock(at(26), WATERMARK)))
    assert [(a.rule_id, a.stage) for a in released] == [(RULE, Stage.BREACHED)]
    (ob,) = engine.open_obligations()
    assert not ob.undecided


def test_source_monitor__expected_source_never_heard_goes_silent_a_limit_after_the_first_clock():
    """A feed down from the start counts as heard at the first check, then goes silent."""
    monitor = SourceMonitor(limit=timedelta(minutes=15), expected=frozenset({CRIME_RECORDS.name}))
    assert monitor.check(Clock(at(0), WATERMARK), CTX) == []
    assert monitor.check(Clock(at(0.25), WATERMARK), CTX) == []  # exactly the limit: not silent
    alerts = _alerts(monitor.check(Clock(at(1), WATERMARK), CTX))
    assert [(a.rule_id, a.stage) for a in alerts] == [(DATA_COMPLETENESS, Stage.UNDECIDED)]
    assert alerts[0].subject.source_topic == CRIME_RECORDS.name
    assert alerts[0].deadline == at(0.25)
    assert alerts[0].evidence.clock_start == at(0)
    assert monitor.stale == frozenset({CRIME_RECORDS.name})
    resumed = _alerts(monitor.observe(CRIME_RECORDS.name, at(2), CTX, WATERMARK))
    assert [(a.stage, a.obligation_id) for a in resumed] == [
        (Stage.RESOLVED_LATE, alerts[0].obligation_id)
    ]
    assert monitor.stale == frozenset()


def test_source_monitor__expected_source_counts_from_an_explicit_start_not_the_first_check():
    """Given a start time, a source never heard is judged from it, however late the first check."""
    monitor = SourceMonitor(
        limit=timedelta(minutes=15), expected=frozenset({INCIDENTS.name}), started=at(0)
    )
    alerts = _alerts(monitor.check(Clock(at(0.5), WATERMARK), CTX))
    assert [a.deadline for a in alerts] == [at(0.25)]


def test_source_monitor__expected_source_heard_before_the_first_check_is_judged_from_its_arrival():
    """Once an expected source has spoken, its own arrival counts, not the start."""
    monitor = SourceMonitor(
        limit=timedelta(minutes=15), expected=frozenset({INCIDENTS.name}), started=at(0)
    )
    monitor.observe(INCIDENTS.name, at(1), CTX, WATERMARK)
    assert monitor.check(Clock(at(1.2), WATERMARK), CTX) == []
    assert monitor.stale == frozenset()


def test_source_monitor__without_expected_sources_an_unheard_source_is_never_judged():
    """The default monitor judges only what it heard (the audit replay passes no monitor)."""
    monitor = SourceMonitor(limit=timedelta(minutes=15))
    monitor.check(Clock(at(0), WATERMARK), CTX)
    assert monitor.check(Clock(at(10), WATERMARK), CTX) == []


def test_stale_source__never_heard_expected_source_holds_the_breach_undecided():
    """Regression: a satisfying source silent from the start never held its breaches."""
    engine = _engine(staleness=timedelta(minutes=15), expected_sources=[CRIME_RECORDS.name])
    engine.process(_incident("INC-1"))
    assert engine.advance(Clock(at(0), WATERMARK)) == []  # the first clock: "heard" now
    held = engine.advance(Clock(at(25), WATERMARK))
    assert (DATA_COMPLETENESS, Stage.UNDECIDED) in {(a.rule_id, a.stage) for a in _alerts(held)}
    assert [a.stage for a in _alerts(held) if a.rule_id == RULE] == [Stage.DUE_SOON]
    (ob,) = engine.open_obligations()
    assert ob.undecided


# --- cost -----------------------------------------------------------------------------------


def _open_case(key: str, start: datetime) -> CaseState:
    return open_obligation(
        CaseState(CaseKind.INCIDENT, key, facts={"last_event_at": start.isoformat()}),
        CTX,
        rule_id=RULE,
        subject=f"{key}/D1",
        refs=Refs(incident_ref=key, disclosure_id="D1"),
        clock_start=start,
        severity=Severity.S2,
        queue=Queue.OMU,
        source=CRIME_RECORDS.name,
        reason_code="not_recorded_within_limit",
        trigger_event_ids=(f"EVT-{key}",),
    )


def test_advance__visits_only_due_cases_among_100000_open_obligations(monkeypatch):
    """With 100,000 open obligations and 10 due, `Engine.advance` advances exactly 10 cases."""
    engine = _engine()
    far = _open_case("INC-FAR", at(24 * 30))
    for i in range(100_000):
        key = f"INC-{i:06d}"
        engine.cases[(CaseKind.INCIDENT, key)] = replace(far, key=key)
    due_keys = [f"INC-DUE-{i}" for i in range(10)]
    for key in due_keys:
        engine.cases[(CaseKind.INCIDENT, key)] = _open_case(key, T0)
    engine.rebuild_index()

    visited: list[str] = []
    real_advance = engine_module.advance

    def counting_advance(case: CaseState, *args, **kwargs):
        visited.append(case.key)
        return real_advance(case, *args, **kwargs)

    monkeypatch.setattr(engine_module, "advance", counting_advance)
    effects = engine.advance(Clock(at(17), WATERMARK))
    assert sorted(visited) == due_keys
    assert len(_alerts(effects)) == 10


@pytest.mark.parametrize("hours", [0, 15.99])
def test_advance__announces_nothing_before_the_first_threshold(hours):
    """Before the due-soon threshold there is nothing to say."""
    engine = _engine()
    engine.process(_incident("INC-1"))
    assert engine.advance(Clock(at(hours), WATERMARK)) == []


# --- the family catalogue -------------------------------------------------------------------


def test_families__cover_every_rule_of_every_ruleset_once():
    """Each rule a ruleset parameterises is owned by exactly one family; RULE_IDS lists them."""
    owned = [rule for family in ALL_FAMILIES for rule in family.rule_ids]
    assert len(owned) == len(set(owned))
    assert {rule for rs in RULESETS for rule in rs.params} == set(owned)
    assert (*owned, DATA_COMPLETENESS) == RULE_IDS
