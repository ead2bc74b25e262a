"""`next_due_from_hint(due_hint(case))` is `next_due(case)`, whatever the parameters.

A live worker rebuilds its due index after a restart from the small hint stored beside each case
(`streams.live.processing.table_value`) instead of decoding every case. That is only safe if the
hint gives exactly the time `next_due` gives: an earlier time costs a needless read, a later one
misses a deadline. Checked on the cases random histories leave behind, at random clocks, and on
the same cases with their obligations' lifecycle (stages announced, held undecided, closed on
time or late, pending late) redrawn, for any stale sources, retention and max age; the hint is
compared after a JSON round trip, as the table stores it.
"""

from __future__ import annotations

import json
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.codes import ClockKind, Stage
from streams.rules.duties import RuleContext
from streams.rules.engine import (
    DEFAULT_RETENTION,
    Clock,
    Engine,
    due_hint,
    next_due,
    next_due_from_hint,
)
from streams.rules.families import ALL_FAMILIES
from streams.rules.model import CaseState, Obligation, Outcome
from streams.topics import TOPIC_OF_TYPE
from tests.unit.rules.test_performance_equivalence import rich_histories

HINT_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
SOURCES = sorted({spec.name for spec in TOPIC_OF_TYPE.values()})

stale_sets = st.frozensets(st.sampled_from(SOURCES))
retentions = st.sampled_from(
    [DEFAULT_RETENTION, timedelta(0), timedelta(hours=6), timedelta(days=400)]
)
max_ages = st.sampled_from([None, timedelta(0), timedelta(days=2), timedelta(days=90)])


def _cases(events, advance_to_fraction: float) -> list[CaseState]:
    """The cases an engine holds after `events`, advanced part of the way past the last one."""
    engine = Engine(ALL_FAMILIES, RuleContext())
    for event in events:
        engine.process(event)
    first, last = events[0].time, events[-1].time
    now = last + (last - first + timedelta(days=40)) * advance_to_fraction
    engine.advance(Clock(now, ClockKind.EVENT_TIME_WATERMARK))
    return [CaseState.from_dict(raw) for raw in engine.snapshot()]


def _stored(case: CaseState) -> dict[str, object]:
    """The hint as a table holds it: through JSON."""
    hint: dict[str, object] = json.loads(json.dumps(due_hint(case)))
    return hint


def _assert_same(case: CaseState, stale, retention, max_age) -> None:
    expected = next_due(case, stale_sources=stale, retention=retention, max_age=max_age)
    got = next_due_from_hint(
        _stored(case), stale_sources=stale, retention=retention, max_age=max_age
    )
    assert got == expected


@HINT_SETTINGS
@given(rich_histories(), st.floats(0, 1), stale_sets, retentions, max_ages)
def test_hint__gives_next_due_of_the_cases_histories_leave(
    events, fraction, stale, retention, max_age
):
    """On realistic cases the hint's next due time equals `next_due`'s for any parameters."""
    for case in _cases(events, fraction):
        _assert_same(case, stale, retention, max_age)


@st.composite
def lifecycles(draw: st.DrawFn, ob: Obligation) -> Obligation:
    """`ob` with its announced stages, undecided flag and closure redrawn (any combination)."""
    emitted = tuple(s for s in ob.stages if draw(st.booleans()))
    if draw(st.booleans()):
        emitted += (Stage.RESOLVED_LATE,)
    ob = ob.announced(emitted, draw(st.booleans()))
    outcome = draw(st.sampled_from([None, *Outcome]))
    if outcome is None:
        return ob
    closed_at = draw(
        st.one_of(
            st.none(),
            st.sampled_from([ob.clock_start, ob.deadline, *ob.stage_at]),
            st.just(ob.deadline + timedelta(minutes=draw(st.integers(-5000, 5000)))),
        )
    )
    # closed_at None: a closure without a time, which `next_due` skips; drawn to cover it.
    return ob.closed(outcome, closed_at, ob.considered_event_ids)  # type: ignore[arg-type]


@HINT_SETTINGS
@given(rich_histories(), st.data(), stale_sets, retentions, max_ages)
def test_hint__gives_next_due_for_every_obligation_lifecycle(
    events, data, stale, retention, max_age
):
    """Held-undecided, pending-late and closed obligations in any mix: still `next_due`'s time."""
    for case in _cases(events, 0.0):
        redrawn = {oid: data.draw(lifecycles(ob)) for oid, ob in case.obligations.items()}
        _assert_same(case.with_obligations(redrawn), stale, retention, max_age)
