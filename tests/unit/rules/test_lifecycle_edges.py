"""Edges of an obligation's lifecycle: after retention, backfilled evidence, expiry, late facts.

Each test pins one defect that once got through: a purged obligation re-derived by the next event,
a backfilled stage listing events later than itself as evidence, a stage that fell due at the
expiry instant never announced, and an area that arrived after the obligation opened ignored.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from schemas.alerts import AlertEvent
from schemas.codes import ClockKind, IncidentCategory, OffenceGroup, Stage
from schemas.events import Envelope
from streams.rules.duties import RuleContext
from streams.rules.engine import Clock, Effect, Engine
from streams.rules.families import ALL_FAMILIES
from streams.rules.measures import ComplianceMeasures
from streams.rules.model import (
    CaseKind,
    CaseState,
    ObligationClosed,
    ObligationOpened,
    Outcome,
)
from streams.rules.n100 import N100_AGEING
from streams.rules.recording import CLOSE_REVIEW
from tests.factories import AREA
from tests.unit.rules.scenario import INC, closed, crime, h, incident, n100, reviewed
from tests.unit.rules.toy_family import TOY_FAMILY

WATERMARK = ClockKind.EVENT_TIME_WATERMARK
WEEK = 7 * 24


def _alerts(effects: list[Effect]) -> list[AlertEvent]:
    return [e for e in effects if isinstance(e, AlertEvent)]


def _toy(**kwargs: Any) -> Engine:
    return Engine([TOY_FAMILY], RuleContext(), **kwargs)


# --- retention: a purged obligation stays purged --------------------------------------------


def _purged_engine(recorded_hours: float) -> Engine:
    """A toy engine whose REC-24H (recorded at `recorded_hours`) retention has just purged."""
    engine = _toy(retention=timedelta(days=2))
    engine.process(incident(0))
    engine.process(crime(recorded_hours))
    engine.advance(Clock(h(recorded_hours + 1), WATERMARK))
    engine.process(reviewed(recorded_hours + 40))  # keeps the case alive past the purge
    engine.advance(Clock(h(recorded_hours + 49), WATERMARK))
    case = engine.cases[(CaseKind.INCIDENT, INC)]
    assert case.obligations == {}
    return engine


def test_retention__next_event_does_not_reopen_or_recount_a_purged_obligation():
    """An event after the purge neither re-opens nor re-closes the purged obligation."""
    engine = _purged_engine(recorded_hours=1)
    effects = engine.process(reviewed(60))
    assert [e for e in effects if isinstance(e, ObligationOpened | ObligationClosed)] == []
    assert engine.cases[(CaseKind.INCIDENT, INC)].obligations == {}


def test_retention__purged_late_obligation_is_not_announced_again():
    """A purged obligation closed late raises no breach or resolved_late a second time."""
    engine = _purged_engine(recorded_hours=30)
    effects = engine.process(reviewed(90))
    effects += engine.advance(Clock(h(200), WATERMARK))
    assert _alerts(effects) == []
    assert [e for e in effects if isinstance(e, ObligationOpened | ObligationClosed)] == []


def test_retention__purged_obligation_stays_purged_across_snapshot_and_restore():
    """What a purge remembers survives a snapshot (the state a faust table holds)."""
    engine = _purged_engine(recorded_hours=1)
    snapshot = json.loads(json.dumps(engine.snapshot()))
    restored = _toy(retention=timedelta(days=2))
    restored.restore(snapshot)
    assert restored.snapshot() == snapshot
    effects = restored.process(reviewed(60))
    assert [e for e in effects if isinstance(e, ObligationOpened | ObligationClosed)] == []


def test_retention__legacy_purged_flag_still_loads():
    """A snapshot written with the old boolean `purged` flag still loads."""
    raw = {"kind": "incident", "key": INC, "facts": {}, "obligations": [], "seen": []}
    assert CaseState.from_dict({**raw, "purged": True}) == CaseState(CaseKind.INCIDENT, INC)


# --- evidence of backfilled stages ----------------------------------------------------------


def test_evidence__backfilled_stages_list_no_event_later_than_themselves():
    """A late record read before the clock passed the deadline is not evidence of the breach."""
    engine = _toy()
    engine.process(incident(0))
    record = crime(30)
    engine.process(record)
    effects = engine.advance(Clock(h(60), WATERMARK))
    by_stage = {a.stage: a.evidence.considered_event_ids for a in _alerts(effects)}
    assert by_stage == {
        Stage.DUE_SOON: [],
        Stage.BREACHED: [],
        Stage.RESOLVED_LATE: [record.id],
    }


def test_evidence__a_retimed_closure_lists_only_the_event_that_met_it():
    """A record earlier than the one that closed late replaces it as the evidence."""
    engine = _toy()
    engine.process(incident(0))
    late = crime(30, crime_ref="C2")
    engine.process(late)
    engine.advance(Clock(h(31), WATERMARK))
    timely = crime(20, crime_ref="C1")
    effects = engine.process(timely)
    [retracted] = _alerts(effects)
    assert retracted.stage is Stage.RETRACTED
    assert retracted.evidence.considered_event_ids == [timely.id]


def test_evidence__live_order_gives_the_replay_evidence():
    """Stages announced after the record was applied carry the evidence replay gives them."""
    replay, live = _toy(), _toy()
    record = crime(30)
    replay.process(incident(0))
    first = replay.advance(Clock(h(29), WATERMARK))
    first += replay.process(record)
    first += replay.advance(Clock(h(60), WATERMARK))
    live.process(incident(0))
    live.process(record)
    second = live.advance(Clock(h(60), WATERMARK))
    assert {a.alert_id: a.evidence.considered_event_ids for a in _alerts(first)} == {
        a.alert_id: a.evidence.considered_event_ids for a in _alerts(second)
    }


# --- max-age expiry and stages due at the same instant --------------------------------------


def test_max_age__stages_due_at_the_expiry_instant_are_announced_before_expiry():
    """Due soon and the breach at the expiry instant are announced, then the obligation expires."""
    engine = _toy(max_age=timedelta(hours=24))  # expires exactly when REC-24H breaches
    engine.process(incident(0))
    effects = engine.advance(Clock(h(100), WATERMARK))
    assert [a.stage for a in _alerts(effects)] == [Stage.DUE_SOON, Stage.BREACHED]
    [metric] = [e for e in effects if isinstance(e, ObligationClosed)]
    assert metric.outcome is Outcome.EXPIRED
    alerts_at = effects.index(_alerts(effects)[-1])
    assert alerts_at < effects.index(metric)


def test_max_age__stages_after_the_expiry_instant_are_not_announced():
    """A stage due after the expiry instant (escalation at 48 h) never is."""
    engine = _toy(max_age=timedelta(hours=30))
    engine.process(incident(0))
    effects = engine.advance(Clock(h(100), WATERMARK))
    assert [a.stage for a in _alerts(effects)] == [Stage.DUE_SOON, Stage.BREACHED]


def test_max_age__expiry_is_timed_at_the_expiry_instant_whatever_the_tick():
    """An expired obligation closes at clock start plus max age, not when a tick noticed it."""
    states = []
    for tick in (25, 100):
        engine = _toy(max_age=timedelta(hours=24))
        engine.process(incident(0))
        engine.advance(Clock(h(tick), WATERMARK))
        [ob] = engine.cases[(CaseKind.INCIDENT, INC)].obligations.values()
        states.append((ob.outcome, ob.closed_at))
    assert states == [(Outcome.EXPIRED, h(24))] * 2


# --- descriptive facts that arrive after the obligation opened ------------------------------


def _area_of(rule_id: str, steps: list[Envelope | datetime]) -> str | None:
    """The area on the breach of `rule_id` after the steps (events, or clock advances)."""
    engine = Engine(ALL_FAMILIES, RuleContext())
    effects: list[Effect] = []
    for step in steps:
        if isinstance(step, datetime):
            effects += engine.advance(Clock(step, WATERMARK))
        else:
            effects += engine.process(step)
    [breach] = [a for a in _alerts(effects) if a.rule_id == rule_id and a.stage is Stage.BREACHED]
    return breach.area


def _rape_incident(hours: float) -> Envelope:
    return incident(hours, og=OffenceGroup.RAPE)


def test_n100_ageing__area_reported_after_the_n100_is_on_the_breach():
    """An N100 read before its incident report still carries the incident's area."""
    assert _area_of(N100_AGEING, [n100(2), _rape_incident(0), h(WEEK + 3)]) == AREA


def test_close_review__area_reported_after_the_closure_is_on_the_breach():
    """An incident closure read before its report still carries the incident's area."""
    done = closed(5, category=IncidentCategory.DOMESTIC_ABUSE)
    assert _area_of(CLOSE_REVIEW, [done, incident(0), h(40)]) == AREA


def test_close_review__area_is_the_same_whichever_arrives_first():
    """The closure's obligation is the same whether the report or the closure is read first."""
    done = closed(5, category=IncidentCategory.DOMESTIC_ABUSE)
    report = incident(0)
    assert _area_of(CLOSE_REVIEW, [done, report, h(40)]) == _area_of(
        CLOSE_REVIEW, [report, done, h(40)]
    )


def test_measures__an_obligation_relabelled_by_a_late_area_is_counted_under_that_area():
    """The N100 opened before its report is counted once, under the area the report names."""
    engine = Engine(ALL_FAMILIES, RuleContext())
    measures = ComplianceMeasures()
    for event in (n100(2), _rape_incident(0)):
        measures.observe_event(event)
        measures.observe(engine.process(event))
    opened = {k: v for k, v in measures.counts.items() if k[0] == f"{N100_AGEING}.opened"}
    assert opened == {(f"{N100_AGEING}.opened", OffenceGroup.RAPE.value, AREA): 1}
