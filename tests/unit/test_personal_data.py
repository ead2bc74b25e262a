"""No personal data leaves the monitor (rules file §5): sentinels in, none of them out.

Fake personal data (a name, an address, a date of birth, narrative text: `tests.poison.SENTINELS`)
is injected into unknown and extra fields at every level of every input event type, and into
wrong-typed fields where it makes the event invalid. Everything the monitor derives from those
inputs — decoded events, alerts, work items, every other engine effect, dead-letter reason text —
is serialised and searched for the sentinels. Only a dead letter's `original_b64` may hold them
(docs/security.md: the dead-letter topic is restricted).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from schemas.alerts import AlertEvent
from schemas.codes import ClockKind, OffenceGroup
from schemas.deadletter import DeadLetter, DeadLetterOrigin
from schemas.events import INPUT_EVENT_TYPES
from schemas.registry import DecodeError, decode_event
from streams.replay.runner import replay_files
from streams.rules.engine import Clock, Effect, Engine
from streams.rules.families import ALL_FAMILIES
from tests.factories import ALL_EVENT_TYPES, at, make_disclosure, make_event_dict
from tests.poison import SENTINEL_NAME, SENTINEL_NARRATIVE, SENTINELS, with_personal_data


def _leaks(text: str) -> list[str]:
    """The sentinels found in `text` (also JSON-escaped forms, as a serialiser may write them)."""
    found = []
    for sentinel in SENTINELS:
        escaped = json.dumps(sentinel)[1:-1]
        if sentinel in text or escaped in text or sentinel.lower() in text.lower():
            found.append(sentinel)
    return found


def _serialise(effect: Effect) -> str:
    if isinstance(effect, BaseModel):
        return effect.model_dump_json()
    return repr(effect)


def _raw(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


def _scenario() -> list[dict[str, Any]]:
    """Linked events that open obligations in every family, so alerts and work items exist."""
    incident_ref, crime_ref, victim = "PD-INC-1", "PD-CRI-1", "PD-V-1"
    rape = make_disclosure(
        disclosure_id="PD-DIS-1", offence_group=OffenceGroup.RAPE, victims=[victim]
    )
    other = make_disclosure(disclosure_id="PD-DIS-2", victims=[victim, "PD-V-2"])
    events = [
        make_event_dict(
            "incident.reported",
            incident_ref=incident_ref,
            received_at=at(0),
            disclosures=[rape, other],
            flags={"domestic_abuse": True, "rape_alleged": True, "modern_slavery": True},
        ),
        make_event_dict(
            "crime.recorded",
            crime_ref=crime_ref,
            incident_ref=incident_ref,
            victim_pseudo_id=victim,
            disclosure_ids=["PD-DIS-2"],
            reported_at=at(0),
            recorded_at=at(30),
        ),
        make_event_dict("crime.cancelled", crime_ref=crime_ref, victim_pseudo_id=victim),
        make_event_dict("crime.filed", crime_ref=crime_ref, victim_pseudo_id=victim),
        make_event_dict("incident.closed", incident_ref="PD-INC-2", closing_category="sexual"),
        make_event_dict("n100.recorded", incident_ref=incident_ref, reason="doubt_mental_health"),
    ]
    # and one event of every type, so every payload shape is decoded with sentinels inside
    events += [make_event_dict(event_type) for event_type in ALL_EVENT_TYPES]
    return events


def _paths(node: Any, prefix: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """Every path to a value inside a JSON-able event, containers included."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield (*prefix, index)
            yield from _paths(value, (*prefix, index))


def _replaced(event: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    copy = json.loads(json.dumps(event))
    node = copy
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return copy


def _wrong_typed(event_type: str) -> Iterable[tuple[str, bytes]]:
    """The event with each of its fields in turn replaced by a sentinel-bearing wrong value."""
    event = make_event_dict(event_type)
    bad_values = (
        SENTINEL_NAME,
        {SENTINEL_NARRATIVE: SENTINEL_NAME},
        [SENTINEL_NARRATIVE],
    )
    for path in _paths(event):
        for value in bad_values:
            label = ".".join(map(str, path))
            yield label, _raw(_replaced(event, path, value))


def _dead_letter(exc: DecodeError, raw: bytes) -> DeadLetter:
    return DeadLetter(
        dead_letter_id="pd-1",
        reason=exc.reason,
        error=exc.detail,
        event_type=exc.event_type,
        original_b64=base64.b64encode(raw).decode("ascii"),
        origin=DeadLetterOrigin(topic="ncrs.incidents.v1", partition=0, offset=0),
    )


@pytest.mark.parametrize("event_type", ALL_EVENT_TYPES)
def test_extra_fields_with_personal_data_are_dropped_on_decode(event_type: str):
    """Sentinels in unknown fields at every level of every event type are not in the event."""
    raw = _raw(with_personal_data(make_event_dict(event_type)))
    assert len(_leaks(raw.decode())) == len(SENTINELS)
    event = decode_event(raw)
    assert _leaks(event.model_dump_json()) == []
    assert _leaks(repr(event)) == []


def test_no_alert_work_item_or_effect_carries_personal_data():
    """Alerts, work items and every other effect of sentinel-laden inputs hold no sentinel."""
    engine = Engine(ALL_FAMILIES)
    effects: list[Effect] = []
    for event in _scenario():
        effects += engine.process(decode_event(_raw(with_personal_data(event))))
    effects += engine.advance(Clock(at(24 * 120), ClockKind.EVENT_TIME_WATERMARK))
    alerts = [e for e in effects if isinstance(e, AlertEvent)]
    assert len({a.rule_id for a in alerts}) >= 5, "the scenario must raise alerts of many rules"
    leaked = {type(e).__name__: _leaks(_serialise(e)) for e in effects if _leaks(_serialise(e))}
    assert leaked == {}
    assert _leaks(json.dumps(engine.snapshot(), default=str)) == []


@pytest.mark.parametrize("event_type", ALL_EVENT_TYPES)
def test_wrong_typed_fields_with_personal_data_leave_no_trace_in_dead_letter_reasons(
    event_type: str,
):
    """A sentinel in any field, making the event invalid, appears in no reason text."""
    refused, leaks, kept = 0, [], 0
    for label, raw in _wrong_typed(event_type):
        try:
            decode_event(raw)
        except DecodeError as exc:
            refused += 1
            letter = _dead_letter(exc, raw)
            text = str(exc) + letter.model_dump_json(exclude={"original_b64"})
            if _leaks(text):
                leaks.append(f"{label}: {exc}")
            kept += bool(_leaks(base64.b64decode(letter.original_b64).decode()))
    assert refused > 0
    assert leaks == []
    assert kept == refused, "the original bytes are kept as sent, for the data owner"


def test_unknown_type_made_of_personal_data_is_not_echoed():
    """A `type` holding free text is refused without naming it, even as the event type."""
    raw = _raw(_replaced(make_event_dict("incident.reported"), ("type",), SENTINEL_NARRATIVE))
    with pytest.raises(DecodeError) as caught:
        decode_event(raw)
    assert caught.value.event_type is None
    assert _leaks(str(caught.value)) == []


def test_upcast_of_old_version_carrying_personal_data_drops_it():
    """A v1 crime.cancelled with sentinels is upcast to the current version without them."""
    event = make_event_dict("crime.cancelled", schema_version=1)
    data = dict(event["data"])
    data["class_code"] = data.pop("cancellation_class")
    event["data"] = data
    decoded = decode_event(_raw(with_personal_data(event)))
    assert decoded.schema_version == INPUT_EVENT_TYPES["crime.cancelled"].SCHEMA_VERSION
    assert _leaks(decoded.model_dump_json()) == []


def test_replay_outputs_carry_no_personal_data(tmp_path: Path):
    """Replaying sentinel-laden NDJSON: no sentinel in alerts, items, reasons or measures."""
    lines = [_raw(with_personal_data(event)) for event in _scenario()]
    lines += [raw for _, raw in _wrong_typed("incident.reported")]
    path = tmp_path / "input.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    result = replay_files([path], as_of=at(24 * 120))
    assert result.alerts
    assert result.dead_letters
    assert result.open_items
    texts = [a.model_dump_json() for a in result.alerts]
    texts += [item.model_dump_json() for item in result.open_items.values()]
    texts += [d.model_dump_json(exclude={"original_b64"}) for d in result.dead_letters]
    texts.append(repr(result.measures))
    assert [t for t in texts if _leaks(t)] == []
