"""The live decision clock (streams/live/clock.py): input bounds, per-partition clocks, ticks."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from schemas.codes import ClockKind
from streams.live.clock import (
    Bound,
    DecisionClock,
    InputProgress,
    decode_tick,
    encode_tick,
    source_id,
)

WALL = datetime(2024, 6, 4, 12, 0, tzinfo=UTC)
GRACE = timedelta(minutes=2)
SRC = ("ncrs.crime-records.v1", 2)


def _bound(
    progress: InputProgress, *, highwater: int | None, floor: int | None = None
) -> Bound | None:
    return progress.bound(SRC, highwater=highwater, floor=floor, wall=WALL, grace=GRACE)


def test_bound__caught_up_input_is_wall_clock_minus_grace() -> None:
    """A partition processed up to its highwater bounds nothing but the wall clock."""
    progress = InputProgress()
    progress.delivered(SRC, 10, WALL - timedelta(days=3))
    assert _bound(progress, highwater=10) == Bound(WALL - GRACE, ClockKind.WALL_CLOCK)


def test_bound__lagging_input_is_its_reached_event_time_minus_grace() -> None:
    """A partition behind its highwater holds the clock at the event time it has reached."""
    progress = InputProgress()
    reached = WALL - timedelta(hours=30)
    progress.delivered(SRC, 5, reached - timedelta(hours=1))
    progress.delivered(SRC, 9, reached)
    assert _bound(progress, highwater=500) == Bound(reached - GRACE, ClockKind.EVENT_TIME_WATERMARK)


def test_bound__reached_is_the_latest_event_time_not_the_last_one() -> None:
    """An older event read after a newer one does not pull the bound back."""
    progress = InputProgress()
    progress.delivered(SRC, 5, WALL - timedelta(hours=2))
    progress.delivered(SRC, 6, WALL - timedelta(hours=9))
    bound = _bound(progress, highwater=100)
    assert bound is not None
    assert bound.at == WALL - timedelta(hours=2) - GRACE


def test_bound__lagging_input_with_nothing_processed_is_unknown() -> None:
    """Behind its highwater and nothing processed yet: no bound, the clock holds."""
    assert _bound(InputProgress(), highwater=100, floor=40) is None


def test_bound__unknown_highwater_counts_as_lagging() -> None:
    """Before the first fetch response the lag is unknown, so the wall clock is not vouched for."""
    progress = InputProgress()
    progress.delivered(SRC, 10, WALL - timedelta(hours=1))
    bound = _bound(progress, highwater=None)
    assert bound is not None
    assert bound.kind is ClockKind.EVENT_TIME_WATERMARK


def test_bound__floor_lets_an_untouched_partition_count_as_caught_up() -> None:
    """Committed offset (or log start) at the highwater: caught up though nothing was read."""
    assert _bound(InputProgress(), highwater=7, floor=7) == Bound(
        WALL - GRACE, ClockKind.WALL_CLOCK
    )


def test_bound__future_reached_time_is_capped_at_the_wall_clock() -> None:
    """An event stamped slightly ahead of the clock cannot move the bound past the wall clock."""
    progress = InputProgress()
    progress.delivered(SRC, 3, WALL + timedelta(minutes=4))
    bound = _bound(progress, highwater=9)
    assert bound is not None
    assert bound.at == WALL - GRACE


def test_progress__retain_forgets_revoked_partitions() -> None:
    """After a rebalance only the partitions still owned keep their progress."""
    progress = InputProgress()
    other = ("ncrs.incidents.v1", 0)
    progress.delivered(SRC, 4, WALL)
    progress.delivered(other, 8, WALL)
    progress.retain([other])
    assert progress.next_offset(SRC) is None
    assert progress.next_offset(other) == 8


def test_progress__offsets_never_move_back() -> None:
    """A re-delivered older batch does not lower the processed offset."""
    progress = InputProgress()
    progress.delivered(SRC, 9, None)
    progress.delivered(SRC, 4, None)
    assert progress.next_offset(SRC) == 9


REQUIRED = frozenset({"a/0", "a/1", "b/0"})


def _wall(minutes: int) -> Bound:
    return Bound(WALL + timedelta(minutes=minutes), ClockKind.WALL_CLOCK)


def test_decision_clock__unknown_until_every_source_reported() -> None:
    """A partition decides nothing until each required input partition has a bound."""
    clock = DecisionClock(REQUIRED)
    assert clock.update({"a/0": _wall(0), "a/1": _wall(0)}) is None
    assert clock.update({"b/0": _wall(1)}) == _wall(0)


def test_decision_clock__is_the_minimum_over_sources_from_several_senders() -> None:
    """Ticks from different workers name different sources; the clock is their minimum."""
    clock = DecisionClock(REQUIRED)
    clock.update({"a/0": _wall(5), "a/1": _wall(5)})
    lagging = Bound(WALL - timedelta(hours=6), ClockKind.EVENT_TIME_WATERMARK)
    assert clock.update({"b/0": lagging}) == lagging
    assert clock.update({"b/0": _wall(6)}) == _wall(5)


def test_decision_clock__never_moves_backwards() -> None:
    """A lower bound (a new owner restarting from its committed offset) holds the clock."""
    clock = DecisionClock(REQUIRED)
    clock.update({s: _wall(10) for s in REQUIRED})
    assert clock.update({"a/0": _wall(-30)}) == _wall(10)
    assert clock.update({"a/0": None}) == _wall(10)


def test_decision_clock__source_without_bound_holds_until_it_reports_again() -> None:
    """A source reported as unknown stops the clock advancing until it has a bound again."""
    clock = DecisionClock(REQUIRED)
    clock.update({s: _wall(0) for s in REQUIRED})
    clock.update({"a/0": None})
    assert clock.update({"a/1": _wall(9), "b/0": _wall(9)}) == _wall(0)
    assert clock.update({"a/0": _wall(9)}) == _wall(9)


def test_decision_clock__ignores_sources_it_does_not_wait_for() -> None:
    """A bound for an unknown input (another deployment's topic) changes nothing."""
    clock = DecisionClock(REQUIRED)
    assert clock.update({"zzz/9": _wall(0)}) is None


def test_tick__round_trips_bounds_and_unknowns() -> None:
    """encode_tick and decode_tick agree, including unknown (None) bounds."""
    bounds = {
        source_id(SRC): Bound(WALL - timedelta(hours=1), ClockKind.EVENT_TIME_WATERMARK),
        "ncrs.incidents.v1/0": None,
    }
    tick = decode_tick(encode_tick(WALL, bounds))
    assert tick.at == WALL
    assert dict(tick.bounds) == bounds


def test_tick__old_format_without_sources_bounds_nothing() -> None:
    """A tick written before the decision clock existed is read as bounding no source."""
    tick = decode_tick(json.dumps({"at": WALL.isoformat()}).encode())
    assert tick.at == WALL
    assert dict(tick.bounds) == {}


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"[]",
        b'{"sources": {}}',
        b'{"at": "2024-06-04T12:00:00"}',
        b'{"at": "2024-06-04T12:00:00+00:00", "sources": []}',
        b'{"at": "2024-06-04T12:00:00+00:00", "sources": {"a/0": ["x", "wall_clock"]}}',
        b'{"at": "2024-06-04T12:00:00+00:00", "sources": {"a/0": ["2024-06-04T12:00Z", "sun"]}}',
    ],
)
def test_tick__malformed_values_raise_value_key_or_type_error(raw: bytes) -> None:
    """Anything but a well-formed tick raises one of the errors the agent catches."""
    with pytest.raises((ValueError, KeyError, TypeError)):
        decode_tick(raw)
