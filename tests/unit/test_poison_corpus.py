"""Bad input is dead-lettered with its documented reason or handled harmlessly, never fatal.

Runs the shared corpus (`tests/poison.py`) through the decoder and the rules engine with every
rule family, the way a worker's loop does: decode, refuse future times, apply, and on any
`DecodeError` write a dead letter and go on.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import pytest

from schemas.alerts import AlertEvent, WorkItem
from schemas.codes import ClockKind
from schemas.deadletter import DeadLetter, DeadLetterOrigin, DeadLetterReason
from schemas.events import Envelope, IncidentReported
from schemas.registry import MAX_EVENT_BYTES, DecodeError, decode_event, decode_event_dict
from streams.rules.engine import Clock, Effect, Engine
from streams.rules.families import ALL_FAMILIES
from tests.factories import at, make_crime_recorded, make_disclosure, make_incident_reported
from tests.poison import (
    CORPUS,
    DEAD_LETTERED,
    HANDLED,
    SENTINELS,
    Handled,
    PoisonCase,
    outcome,
)

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
"""Wall clock of the intake: after every 2016 event, long before the far-future one."""
LIVE_ONLY_REASONS = {DeadLetterReason.WRONG_TOPIC, DeadLetterReason.PROCESSING_ERROR}
"""Reasons decided by the worker (topic routing, a crash in the core), not by the bytes."""


def _ids(case: PoisonCase) -> str:
    return case.name


def _alerts(effects: Iterable[Effect]) -> list[AlertEvent]:
    return [e for e in effects if isinstance(e, AlertEvent)]


def _intake(engine: Engine, raw: bytes) -> tuple[list[Effect], DeadLetter | None]:
    """One turn of a worker's loop: effects of a good input, or the dead letter of a bad one."""
    found = outcome(raw, NOW)
    if isinstance(found, DeadLetterReason):
        try:
            decode_event(raw)
        except DecodeError as exc:
            detail, event_type = exc.detail, exc.event_type
        else:  # refused by the clock only
            detail, event_type = "time is ahead of the clock", None
        letter = DeadLetter(
            dead_letter_id="dl-1",
            reason=found,
            error=detail,
            event_type=event_type,
            original_b64=base64.b64encode(raw).decode("ascii"),
            origin=DeadLetterOrigin(topic="ncrs.incidents.v1", partition=0, offset=1),
        )
        return [], letter
    return engine.process(found), None


def test_corpus_has_at_least_twenty_distinct_kinds_with_unique_names():
    """The corpus names at least 20 kinds of bad input, each once."""
    names = [case.name for case in CORPUS]
    assert len(names) == len(set(names))
    assert len(DEAD_LETTERED) >= 20


def test_corpus_exercises_every_reason_the_bytes_alone_can_earn():
    """Every dead-letter reason not reserved to the live worker has at least one case."""
    covered = {case.expected for case in DEAD_LETTERED}
    assert covered == set(DeadLetterReason) - LIVE_ONLY_REASONS


def test_corpus_exercises_every_handled_outcome():
    """Each accepted-and-handled outcome has at least one case."""
    assert {case.expected for case in HANDLED} == set(Handled)


@pytest.mark.parametrize("case", DEAD_LETTERED, ids=_ids)
def test_bad_input_is_dead_lettered_with_its_documented_reason(case: PoisonCase):
    """The intake refuses the input with exactly the reason the corpus documents."""
    assert outcome(case.raw, NOW) == case.expected


@pytest.mark.parametrize("case", DEAD_LETTERED, ids=_ids)
def test_every_refusal_fits_a_valid_dead_letter_record(case: PoisonCase):
    """The dead letter of every bad input validates, so writing it can never fail in turn."""
    _, letter = _intake(Engine(ALL_FAMILIES), case.raw)
    assert letter is not None
    assert letter.reason == case.expected
    assert base64.b64decode(letter.original_b64) == case.raw


@pytest.mark.parametrize("case", HANDLED, ids=_ids)
def test_handled_input_decodes_to_an_event(case: PoisonCase):
    """Accepted inputs come out of the intake as a typed event."""
    assert isinstance(outcome(case.raw, NOW), Envelope)


def test_deep_nesting_beyond_the_size_limit_is_too_deep_not_a_crash():
    """100,000 nested arrays with the size limit lifted is TOO_DEEP, not a RecursionError."""
    deep = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(DecodeError) as caught:
        decode_event(deep, max_bytes=len(deep))
    assert caught.value.reason is DeadLetterReason.TOO_DEEP


def test_deep_nested_objects_beyond_the_size_limit_are_too_deep():
    """100,000 nested objects with the size limit lifted is TOO_DEEP too."""
    deep = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
    with pytest.raises(DecodeError) as caught:
        decode_event(deep, max_bytes=len(deep))
    assert caught.value.reason is DeadLetterReason.TOO_DEEP


def test_pydantic_json_parser_refuses_deep_nesting_with_a_validation_error():
    """pydantic's own JSON parser stops at its recursion limit instead of crashing."""
    deep = b'{"data":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(ValueError, match="recursion limit"):
        IncidentReported.model_validate_json(deep)


def test_deep_python_structure_given_to_decode_event_dict_is_a_decode_error():
    """An already-parsed structure 100,000 levels deep is refused, not a RecursionError."""
    deep: list[object] = []
    for _ in range(100_000):
        deep = [deep]
    obj = make_incident_reported().model_dump(mode="json")
    obj["data"]["disclosures"] = deep
    with pytest.raises(DecodeError) as caught:
        decode_event_dict(obj)
    assert caught.value.reason is DeadLetterReason.SCHEMA_VIOLATION


def test_oversized_input_is_refused_before_it_is_parsed():
    """One byte over the limit is OVERSIZED whatever the content."""
    with pytest.raises(DecodeError) as caught:
        decode_event(b" " * (MAX_EVENT_BYTES + 1))
    assert caught.value.reason is DeadLetterReason.OVERSIZED


def test_extra_personal_data_fields_are_dropped_from_the_event():
    """Unknown fields carrying personal data are not kept anywhere in the decoded event."""
    (case,) = [c for c in HANDLED if c.expected is Handled.EXTRA_DROPPED]
    assert all(s.encode() in case.raw for s in SENTINELS)
    dumped = decode_event(case.raw).model_dump_json()
    assert not [s for s in SENTINELS if s in dumped]


def test_redelivered_event_changes_no_state_and_emits_nothing():
    """A duplicate delivery (same source and id) is a no-op for the engine."""
    (case,) = [c for c in HANDLED if c.expected is Handled.DUPLICATE_NO_CHANGE]
    assert case.preceded_by is not None
    engine = Engine(ALL_FAMILIES)
    assert engine.process(decode_event(case.preceded_by))
    before = engine.snapshot()
    assert engine.process(decode_event(case.raw)) == []
    assert engine.snapshot() == before


@pytest.mark.parametrize(
    "case", [c for c in HANDLED if c.expected is Handled.UNKNOWN_CASE_STORED], ids=_ids
)
def test_event_for_unknown_case_is_stored_and_raises_no_alert(case: PoisonCase):
    """An orphan event is kept as a fact and, even 60 days on, raises no alert."""
    engine = Engine(ALL_FAMILIES)
    event = decode_event(case.raw)
    effects = engine.process(event)
    assert engine.cases, "the orphan's facts must be stored for the case that may follow"
    effects += engine.advance(
        Clock(event.time + timedelta(days=60), ClockKind.EVENT_TIME_WATERMARK)
    )
    assert _alerts(effects) == []


def test_valid_events_between_poison_inputs_are_unaffected():
    """Interleaving every refused input leaves the valid events' state and alerts unchanged."""
    incident = make_incident_reported(
        incident_ref="CLEAN-INC", received_at=at(0), disclosures=[make_disclosure()]
    )
    crime = make_crime_recorded(
        incident_ref="CLEAN-INC",
        disclosure_ids=[incident.data.disclosures[0].disclosure_id],
        reported_at=at(0),
        recorded_at=at(30),
    )
    valid = [incident.model_dump_json().encode(), crime.model_dump_json().encode()]
    late = Clock(at(24 * 90), ClockKind.EVENT_TIME_WATERMARK)

    alone = Engine(ALL_FAMILIES)
    for raw in valid:
        alone.process(decode_event(raw))
    expected = alone.advance(late)

    mixed = Engine(ALL_FAMILIES)
    letters = []
    stream = [case.raw for case in DEAD_LETTERED]
    for raw in (stream[: len(stream) // 2], [valid[0]], stream[len(stream) // 2 :], [valid[1]]):
        for item in raw:
            _, letter = _intake(mixed, item)
            letters.append(letter)
    assert sum(letter is not None for letter in letters) == len(DEAD_LETTERED)
    assert mixed.advance(late) == expected
    assert mixed.snapshot() == alone.snapshot()
    assert any(isinstance(e, WorkItem) for e in expected), "the control must raise something"
