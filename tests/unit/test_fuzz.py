"""Property tests: no input can crash the decoder, and no valid event can crash the rules core.

A worker survives bad input only because `decode_event` raises nothing but `DecodeError` (which
the loop dead-letters) and the engine raises nothing at all on a valid event (an exception there
is a `processing_error` dead letter and a lost obligation). Hypothesis searches for
counter-examples with random bytes, random JSON, mutated valid events and random sequences of
valid events over every rule family.
"""

from __future__ import annotations

import json
import types
import typing
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from schemas.codes import ClockKind
from schemas.events import INPUT_EVENT_TYPES, Disclosure, Envelope
from schemas.registry import DecodeError, decode_event
from streams.rules.engine import Clock, Engine
from streams.rules.families import ALL_FAMILIES
from tests.factories import ALL_EVENT_TYPES, make_event_dict

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ENGINE_FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

ANCHORS = (
    datetime(2014, 6, 2, 9, 0, tzinfo=UTC),  # hocr-2014: 72-hour limit, no N100
    datetime(2015, 3, 31, 12, 0, tzinfo=UTC),  # the day before the 24-hour ruleset starts
    datetime(2016, 3, 26, 23, 30, tzinfo=UTC),  # spring clock change that night
    datetime(2016, 12, 23, 16, 0, tzinfo=UTC),  # Christmas bank holidays ahead
    datetime(2024, 4, 30, 23, 0, tzinfo=UTC),  # the May 2024 rape counting change
)
"""Event times cluster around dates where the rules' calendars and rulesets change."""

POOLS: dict[str, tuple[str, ...]] = {
    "incident": ("INC-A", "INC-B"),
    "disclosure": ("D1", "D2", "D3"),
    "crime": ("CRI-A", "CRI-B", "CRI-C"),
    "n100": ("N100-A", "N100-B"),
    "victim": ("V1", "V2", "V3"),
}
"""Few refs, so random events keep landing on the same cases and interact."""

ENVELOPE_REFS = ("incident_ref", "disclosure_id", "crime_ref", "n100_ref", "victim_pseudo_id")
HOME_OFFICE_CODES = ("8N", "19C", "19D", "106", "28E", "105A", "8P", "20")

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=40,
)


def _pool(name: str) -> tuple[str, ...] | None:
    for key, refs in POOLS.items():
        if key in name:
            return refs
    return None


def _unwrap(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _strategy(name: str, annotation: Any, times: st.SearchStrategy[datetime]) -> Any:
    """A strategy for one payload field, or None to keep the factory's default."""
    annotation = _unwrap(annotation)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    strategy: Any = None
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        inner = _strategy(name, next(a for a in args if a is not type(None)), times)
        strategy = None if inner is None else st.none() | inner
    elif origin is list:
        inner = _unwrap(args[0])
        pool = _pool(name)
        if inner is str and pool is not None:
            strategy = st.lists(st.sampled_from(pool), max_size=3, unique=True)
        elif (item := _strategy(name, inner, times)) is not None:
            strategy = st.lists(item, max_size=3)
    elif annotation is bool:
        strategy = st.booleans()
    elif annotation is datetime:
        strategy = times
    elif name == "home_office_code":
        strategy = st.sampled_from(HOME_OFFICE_CODES)
    elif annotation is str and _pool(name) is not None:
        strategy = st.sampled_from(_pool(name) or ())
    elif isinstance(annotation, type) and issubclass(annotation, Enum):
        strategy = st.sampled_from(list(annotation))
    elif annotation is Disclosure:
        strategy = st.fixed_dictionaries(
            {
                "disclosure_id": st.sampled_from(POOLS["disclosure"]),
                "offence_group": _strategy(
                    "g", Disclosure.model_fields["offence_group"].annotation, times
                ),
                "victim_pseudo_ids": st.lists(
                    st.sampled_from(POOLS["victim"]), max_size=3, unique=True
                ),
                "offender_count": st.integers(0, 4),
                "attempted": st.booleans(),
            }
        )
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        fields = {n: _strategy(n, f.annotation, times) for n, f in annotation.model_fields.items()}
        strategy = st.fixed_dictionaries({n: s for n, s in fields.items() if s is not None})
    return strategy


@st.composite
def valid_events(draw: st.DrawFn, anchor: datetime) -> Envelope:
    """A valid event of any type, its codes, flags, times and refs all drawn."""
    event_type = draw(st.sampled_from(ALL_EVENT_TYPES))
    cls = INPUT_EVENT_TYPES[event_type]
    times = st.integers(-2 * 24 * 60, 20 * 24 * 60).map(lambda m: anchor + timedelta(minutes=m))
    data_cls = cls.model_fields["data"].annotation
    assert data_cls is not None
    data = {}
    for name, field in data_cls.model_fields.items():
        strategy = _strategy(name, field.annotation, times)
        if strategy is not None:
            data[name] = draw(strategy)
    envelope: dict[str, Any] = {"id": f"E{draw(st.integers(0, 50))}", "time": draw(times)}
    for ref in ENVELOPE_REFS:
        if ref in cls.REQUIRED_REFS or draw(st.booleans()):
            envelope[ref] = draw(st.sampled_from(_pool(ref) or ()))
    raw = make_event_dict(event_type, data=data, **envelope)
    try:
        return cls.model_validate(raw)
    except ValidationError:
        return draw(st.nothing())  # a cross-field rule refused the combination: try another


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[datetime, list[Envelope], list[int]]:
    """An anchor date, a sequence of events around it, and clock ticks (minutes after it)."""
    anchor = draw(st.sampled_from(ANCHORS))
    events = draw(st.lists(valid_events(anchor), min_size=1, max_size=20))
    ticks = sorted(draw(st.lists(st.integers(0, 90 * 24 * 60), max_size=6)))
    return anchor, events, ticks


def _decodes_or_refuses(raw: bytes) -> Envelope | None:
    """The decoder's whole contract: an event, or DecodeError and nothing else."""
    try:
        return decode_event(raw)
    except DecodeError:
        return None


def _mutate(obj: Any, path: list[int], value: Any) -> Any:
    """Replace the node that `path` picks (indexes taken modulo each container's size)."""
    if not path or not isinstance(obj, dict | list) or not obj:
        return value
    keys = list(obj) if isinstance(obj, dict) else list(range(len(obj)))
    key = keys[path[0] % len(keys)]
    copy = dict(obj) if isinstance(obj, dict) else list(obj)
    copy[key] = _mutate(obj[key], path[1:], value)
    return copy


def _run(engine: Engine, events: list[Envelope], anchor: datetime, ticks: list[int]) -> None:
    for event in events:
        for effect in engine.process(event):
            if isinstance(effect, BaseModel):
                effect.model_dump_json()
    for minutes in ticks:
        clock = Clock(anchor + timedelta(minutes=minutes), ClockKind.EVENT_TIME_WATERMARK)
        for effect in engine.advance(clock):
            if isinstance(effect, BaseModel):
                effect.model_dump_json()


@FUZZ
@given(st.binary(max_size=4096))
def test_decode_event_raises_only_decode_error_on_random_bytes(raw: bytes):
    """Arbitrary bytes decode to an event or raise DecodeError, nothing else."""
    _decodes_or_refuses(raw)


@FUZZ
@given(json_values)
def test_decode_event_raises_only_decode_error_on_random_json(value: Any):
    """Any JSON document (NaN and Infinity included) decodes or raises DecodeError."""
    _decodes_or_refuses(json.dumps(value, allow_nan=True).encode())


@FUZZ
@given(st.sampled_from(ALL_EVENT_TYPES), st.lists(st.integers(0, 50), max_size=4), json_values)
def test_mutated_valid_events_decode_or_are_refused(event_type: str, path: list[int], value: Any):
    """A valid event with any one node replaced by any JSON decodes or raises DecodeError."""
    obj = _mutate(make_event_dict(event_type), path, value)
    event = _decodes_or_refuses(json.dumps(obj, allow_nan=True).encode())
    if event is not None:
        _run(Engine(ALL_FAMILIES), [event], event.time, [60 * 24 * 60])


@FUZZ
@given(st.sampled_from(ALL_EVENT_TYPES), st.integers(0, 400), st.binary(min_size=1, max_size=8))
def test_valid_events_with_bytes_spliced_in_decode_or_are_refused(
    event_type: str, position: int, junk: bytes
):
    """Random bytes spliced into a valid event's JSON decode or raise DecodeError."""
    raw = json.dumps(make_event_dict(event_type)).encode()
    cut = position % (len(raw) + 1)
    _decodes_or_refuses(raw[:cut] + junk + raw[cut:])


@ENGINE_FUZZ
@given(scenarios())
def test_engine_never_raises_on_valid_event_sequences(scenario):
    """Random valid events, in any order, then clock ticks, never make any rule family raise."""
    anchor, events, ticks = scenario
    _run(Engine(ALL_FAMILIES), events, anchor, ticks)


@ENGINE_FUZZ
@given(scenarios())
def test_engine_with_source_staleness_never_raises(scenario):
    """The same with source-freshness tracking on, where breaches can be held undecided."""
    anchor, events, ticks = scenario
    _run(Engine(ALL_FAMILIES, staleness=timedelta(minutes=15)), events, anchor, ticks)


@ENGINE_FUZZ
@given(scenarios())
def test_engine_survives_snapshot_and_restore_mid_stream(scenario):
    """Restoring a snapshot halfway through and continuing never raises either."""
    anchor, events, ticks = scenario
    engine = Engine(ALL_FAMILIES)
    half = len(events) // 2
    _run(engine, events[:half], anchor, [])
    restored = Engine(ALL_FAMILIES)
    restored.restore(json.loads(json.dumps(engine.snapshot(), default=str)))
    _run(restored, events[half:], anchor, ticks)
