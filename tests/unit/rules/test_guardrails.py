"""The max-age guardrail: an obligation open too long is expired, so state cannot grow forever."""

from __future__ import annotations

from datetime import timedelta

from schemas.codes import ClockKind, Stage
from streams.rules.engine import Clock, Engine
from streams.rules.model import ObligationClosed, Outcome, WorkItemClosed
from streams.rules.recording import FAMILY
from tests.unit.rules.scenario import alerts, h, incident

MAX_AGE = timedelta(days=10)


def _engine() -> Engine:
    return Engine([FAMILY], max_age=MAX_AGE)


def test_max_age__open_obligation_expires_with_its_work_item_closed() -> None:
    """An unrecorded disclosure older than the max age is closed as expired and leaves state."""
    engine = _engine()
    engine.process(incident(0))
    breached = engine.advance(Clock(h(49), ClockKind.EVENT_TIME_WATERMARK))
    assert {a.stage for a in alerts(breached)} == {Stage.DUE_SOON, Stage.BREACHED, Stage.ESCALATED}
    effects = engine.advance(Clock(h(24 * 10), ClockKind.EVENT_TIME_WATERMARK))
    closed = [e for e in effects if isinstance(e, ObligationClosed)]
    assert [(c.rule_id, c.outcome) for c in closed] == [("REC-24H", Outcome.EXPIRED)]
    assert any(isinstance(e, WorkItemClosed) for e in effects)
    assert not list(engine.open_obligations())


def test_max_age__not_reached__obligation_stays_open() -> None:
    """Just short of the max age nothing expires."""
    engine = _engine()
    engine.process(incident(0))
    engine.advance(Clock(h(24 * 10) - timedelta(seconds=1), ClockKind.EVENT_TIME_WATERMARK))
    assert [o.rule_id for o in engine.open_obligations()] == ["REC-24H"]


def test_max_age__expiry_is_scheduled_in_the_due_index() -> None:
    """The expiry time is in the index, so a tick finds it without scanning every case."""
    engine = _engine()
    engine.process(incident(0))
    engine.advance(Clock(h(49), ClockKind.EVENT_TIME_WATERMARK))
    assert engine.index.next_due() == h(0) + MAX_AGE
