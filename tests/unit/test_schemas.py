"""Contracts: valid examples, readable rejections, no values leaked, versions and round trips."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from schemas import registry
from schemas.alerts import AlertEvent, Evidence, SubjectRefs, WorkItem
from schemas.codes import CancellationClass, OffenceGroup
from schemas.deadletter import DeadLetter, DeadLetterOrigin, DeadLetterReason
from schemas.events import INPUT_EVENT_TYPES, CrimeCancelled, Envelope, InputEvent
from schemas.registry import (
    MAX_EVENT_BYTES,
    DecodeError,
    check_not_future,
    decode_event,
    decode_event_dict,
    encode_event,
)
from tests.factories import (
    ALL_EVENT_TYPES,
    FACTORIES,
    T0,
    make_alert_event,
    make_dead_letter,
    make_disclosure,
    make_event_dict,
    make_incident_reported,
    make_work_item,
)

SENTINEL = "Jane Sentinelperson born 1970-01-01 of 10 Downing Street"
"""Stands for personal data a producer put in the wrong field; must never reach an error text."""

OUTBOUND_FACTORIES = {
    "alert": make_alert_event,
    "work_item": make_work_item,
    "dead_letter": make_dead_letter,
}


def _set_path(obj: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """Set `a.b.0.c` in a nested dict/list (a `None` value deletes the key)."""
    *parents, last = path.split(".")
    node: Any = obj
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(last)] = value
    elif value is None:
        node.pop(last, None)
    else:
        node[last] = value
    return obj


def _raw(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj).encode()


# --- valid examples -------------------------------------------------------------------------


def test_factories_cover_every_input_event_type():
    """Every declared input type has a factory, so every other test below covers all types."""
    assert set(FACTORIES) == set(INPUT_EVENT_TYPES)


@pytest.mark.parametrize("event_type", ALL_EVENT_TYPES)
def test_valid_example_of_every_type_decodes_to_its_class(event_type):
    """A producer-shaped dict of each type decodes to that type's class with UTC times."""
    event = decode_event_dict(make_event_dict(event_type))
    assert type(event) is INPUT_EVENT_TYPES[event_type]
    assert event.type == event_type
    assert event.time.tzinfo is not None
    assert event.time.utcoffset() == timedelta(0)


@pytest.mark.parametrize("event_type", ALL_EVENT_TYPES)
def test_every_type_round_trips_through_json_unchanged(event_type):
    """encode_event then decode_event yields an equal event for every type."""
    event = FACTORIES[event_type]()
    assert decode_event(encode_event(event)) == event
    assert type(event).model_validate_json(event.model_dump_json()) == event


@pytest.mark.parametrize("name", sorted(OUTBOUND_FACTORIES))
def test_outbound_models_round_trip_through_json_unchanged(name):
    """Alerts, work items and dead letters survive model_dump_json / model_validate_json."""
    model = OUTBOUND_FACTORIES[name]()
    assert type(model).model_validate_json(model.model_dump_json()) == model


def test_factory_overrides_reach_envelope_and_payload():
    """Flat overrides go to the envelope or `data`, and event time follows the payload time."""
    received = datetime(2016, 6, 1, 23, 30, tzinfo=UTC)
    event = make_incident_reported(
        incident_ref="INC1",
        received_at=received,
        disclosures=[make_disclosure(offence_group=OffenceGroup.RAPE, victims=["V1"])],
    )
    assert event.incident_ref == "INC1"
    assert event.time == received
    assert event.data.received_at == received
    assert event.data.disclosures[0].victim_pseudo_ids == ["V1"]
    assert event.data.disclosures[0].offence_group is OffenceGroup.RAPE


def test_offset_timestamps_are_normalised_to_utc():
    """A British Summer Time offset is converted to the same instant in UTC."""
    event = decode_event_dict(
        make_event_dict("incident.reported", time="2016-06-01T10:00:00+01:00")
    )
    assert event.time == datetime(2016, 6, 1, 9, 0, tzinfo=UTC)
    assert event.time.tzinfo is UTC


def test_enum_fields_decode_to_enum_members():
    """Codes arrive as strings and are held as enum members, not bare strings."""
    event = decode_event_dict(make_event_dict("crime.cancelled", cancellation_class="C2"))
    assert isinstance(event, CrimeCancelled)
    assert event.data.cancellation_class is CancellationClass.C2


def test_dedup_key_combines_source_and_id():
    """Redelivery of the same source+id gives the same dedup key."""
    event = decode_event_dict(make_event_dict("crime.filed", id="E1"))
    assert event.dedup_key == f"{event.source}|E1"


# --- invalid fields -------------------------------------------------------------------------

INVALID_CASES = [
    ("incident.reported", "id", "", "id"),
    ("incident.reported", "id", "has space", "id"),
    ("incident.reported", "source", "", "source"),
    ("incident.reported", "specversion", "0.3", "specversion"),
    ("incident.reported", "force_code", "cheshire", "force_code"),
    ("incident.reported", "time", "yesterday", "time"),
    ("incident.reported", "schema_version", "one", "schema_version"),
    ("incident.reported", "incident_ref", "", "incident_ref"),
    ("incident.reported", "victim_pseudo_id", "x" * 65, "victim_pseudo_id"),
    ("incident.reported", "actor_role", "chief_constable", "actor_role"),
    ("incident.reported", "data.channel", "carrier_pigeon", "data.channel"),
    ("incident.reported", "data.reporter_type", "passer_by", "data.reporter_type"),
    ("incident.reported", "data.opening_category", "crime?", "data.opening_category"),
    ("incident.reported", "data.area", "ch war", "data.area"),
    ("incident.reported", "data.flags", "domestic", "data.flags"),
    ("incident.reported", "data.flags.rape_alleged", "perhaps", "data.flags.rape_alleged"),
    ("incident.reported", "data.enhanced_entitlement", ["rich"], "data.enhanced_entitlement.0"),
    ("incident.reported", "data.disclosures.0.offence_group", "MURDER", "offence_group"),
    ("incident.reported", "data.disclosures.0.offender_count", -1, "offender_count"),
    ("incident.reported", "data.disclosures.0.disclosure_id", "", "disclosure_id"),
    ("incident.reported", "data.received_at", None, "data.received_at"),
    ("incident.disclosure_added", "data.disclosed_via", "rumour", "data.disclosed_via"),
    ("incident.disclosure_added", "data.disclosure", None, "data.disclosure"),
    ("incident.closed", "data.outcome", "solved", "data.outcome"),
    ("incident.closed", "data.linked_crime_refs", [""], "data.linked_crime_refs.0"),
    ("incident.reviewed", "data.reviewer_role", "mayor", "data.reviewer_role"),
    ("incident.reviewed", "data.review_type", "casual", "data.review_type"),
    ("safeguarding.assessed", "data.risk_level", "extreme", "data.risk_level"),
    ("safeguarding.assessed", "data.marac_referral", "maybe", "data.marac_referral"),
    ("nrm.referral_made", "data.referred_at", "not a time", "data.referred_at"),
    ("n100.recorded", "data.reason", "victim_seemed_unreliable", "data.reason"),
    ("n100.resolved", "data.outcome", "forgotten", "data.outcome"),
    ("crime.recorded", "data.home_office_code", "ABC", "data.home_office_code"),
    ("crime.recorded", "data.offence_group", "MURDER", "data.offence_group"),
    ("crime.recorded", "data.victim_type", "animal", "data.victim_type"),
    ("crime.recorded", "data.recorded_by_role", None, "data.recorded_by_role"),
    ("crime.recorded", "data.equality_fields_present.age", "42", "equality_fields_present.age"),
    ("crime.reclassified", "data.home_office_code", "19CC", "data.home_office_code"),
    ("crime.updated", "data.equality_fields_present", None, "data.equality_fields_present"),
    ("crime.filed", "data.filed_by_role", "volunteer", "data.filed_by_role"),
    ("crime.filed", "data.outcome", "lost", "data.outcome"),
    ("crime.reinstated", "data.reinstated_at", "2016-13-01T00:00:00Z", "data.reinstated_at"),
    ("crime.cancellation_ratified", "data.ratified_by_role", "ddm_deputy", "data.ratified_by_role"),
    ("crime.cancelled", "data.cancellation_class", "C5", "data.cancellation_class"),
    ("crime.cancelled", "data.avi_type", "gut_feeling", "data.avi_type"),
    ("crime.cancelled", "data.decision_maker_role", None, "data.decision_maker_role"),
    ("victim.notified", "data.notification_type", "gossip", "data.notification_type"),
    ("victim.notified", "data.outcome", "maybe", "data.outcome"),
    ("victim.notified", "data.method", "pigeon", "data.method"),
    ("victim_care.referral", "data.status", "pending", "data.status"),
    ("victim_care.referral", "data.provider", "Cheshire Cares", "data.provider"),
]


@pytest.mark.parametrize(
    ("event_type", "path", "value", "loc"),
    INVALID_CASES,
    ids=[f"{t}:{p}" for t, p, _, _ in INVALID_CASES],
)
def test_invalid_field_is_rejected_with_its_location(event_type, path, value, loc):
    """Each invalid field is a schema violation whose message names the field."""
    obj = _set_path(make_event_dict(event_type), path, value)
    with pytest.raises(DecodeError) as caught:
        decode_event(_raw(obj))
    assert caught.value.reason is DeadLetterReason.SCHEMA_VIOLATION
    assert caught.value.event_type == event_type
    assert loc in caught.value.detail
    assert ": " in caught.value.detail  # "location: message"


@pytest.mark.parametrize(
    ("event_type", "missing"),
    [(t, ref) for t, cls in INPUT_EVENT_TYPES.items() for ref in cls.REQUIRED_REFS],
)
def test_missing_required_ref_is_rejected_naming_the_ref(event_type, missing):
    """An event without the ref it is routed and joined by is refused, saying which ref."""
    obj = make_event_dict(event_type)
    del obj[missing]
    with pytest.raises(DecodeError) as caught:
        decode_event_dict(obj)
    assert caught.value.reason is DeadLetterReason.SCHEMA_VIOLATION
    assert f"requires {missing}" in caught.value.detail


def test_pydantic_error_locates_the_invalid_field():
    """Validating directly (not via the registry) also reports the field's location."""
    obj = _set_path(make_event_dict("crime.recorded"), "data.offence_group", "MURDER")
    with pytest.raises(ValidationError) as caught:
        INPUT_EVENT_TYPES["crime.recorded"].model_validate(obj)
    assert caught.value.errors()[0]["loc"] == ("data", "offence_group")


# --- timestamps -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event_type", "path"),
    [
        ("incident.reported", "time"),
        ("incident.reported", "data.received_at"),
        ("crime.recorded", "data.reported_at"),
        ("crime.cancelled", "data.cancelled_at"),
        ("victim_care.referral", "data.at"),
    ],
)
def test_naive_timestamp_is_rejected_saying_so(event_type, path):
    """A timestamp without zone or offset is dead-lettered as naive_timestamp, saying why."""
    obj = _set_path(make_event_dict(event_type), path, "2016-03-01T09:00:00")
    with pytest.raises(DecodeError) as caught:
        decode_event(_raw(obj))
    assert caught.value.reason is DeadLetterReason.NAIVE_TIMESTAMP
    assert "timezone-aware" in caught.value.detail
    assert path in caught.value.detail


def test_naive_datetime_object_is_rejected_by_the_model():
    """A naive datetime passed in Python is refused too, not assumed to be UTC."""
    with pytest.raises(ValidationError, match="timezone-aware"):
        make_incident_reported(time=datetime(2016, 3, 1, 9, 0))


def test_naive_timestamp_in_outbound_model_is_rejected():
    """The monitor cannot emit a naive deadline either."""
    with pytest.raises(ValidationError, match="timezone-aware"):
        make_work_item(deadline=datetime(2016, 3, 2, 9, 0))


def test_event_far_in_the_future_is_refused():
    """An event stamped beyond the tolerance is a future_timestamp, with minutes not values."""
    event = make_incident_reported(time=T0 + timedelta(hours=2))
    with pytest.raises(DecodeError) as caught:
        check_not_future(event, now=T0, tolerance=timedelta(minutes=5))
    assert caught.value.reason is DeadLetterReason.FUTURE_TIMESTAMP
    assert "120 minutes ahead" in caught.value.detail


def test_event_within_clock_skew_tolerance_is_accepted():
    """An event a little ahead of the clock (skew) is not refused."""
    event = make_incident_reported(time=T0 + timedelta(minutes=4))
    check_not_future(event, now=T0, tolerance=timedelta(minutes=5))


# --- unknown and extra fields ---------------------------------------------------------------


@pytest.mark.parametrize("event_type", ALL_EVENT_TYPES)
def test_unknown_fields_are_dropped_never_passed_on(event_type):
    """Extra fields (possibly personal data) are accepted but absent from the model and output."""
    obj = make_event_dict(event_type, victim_name=SENTINEL)  # unknown keywords go into data
    obj["narrative"] = SENTINEL
    event = decode_event(_raw(obj))
    dumped = event.model_dump(mode="json")
    assert "narrative" not in dumped
    assert "victim_name" not in dumped["data"]
    assert SENTINEL not in encode_event(event).decode()


def test_unknown_fields_in_nested_parts_are_dropped():
    """A disclosure with an extra field loses it too."""
    obj = make_event_dict("incident.reported")
    obj["data"]["disclosures"][0]["victim_address"] = SENTINEL
    event = decode_event_dict(obj)
    assert SENTINEL not in event.model_dump_json()


OUTBOUND_MODELS: list[tuple[type[BaseModel], dict[str, Any]]] = [
    (AlertEvent, make_alert_event().model_dump(mode="json")),
    (WorkItem, make_work_item().model_dump(mode="json")),
    (DeadLetter, make_dead_letter().model_dump(mode="json")),
    (SubjectRefs, {"incident_ref": "INC1"}),
    (
        Evidence,
        {
            "trigger_event_ids": ["E1"],
            "clock_start": "2016-03-01T09:00:00Z",
            "deadline_basis": "elapsed_24h",
            "clock": "2016-03-02T09:00:00Z",
            "clock_kind": "wall_clock",
        },
    ),
    (DeadLetterOrigin, {"topic": "ncrs.incidents.v1", "partition": 0, "offset": 1}),
]


@pytest.mark.parametrize(
    ("model", "valid"), OUTBOUND_MODELS, ids=[m.__name__ for m, _ in OUTBOUND_MODELS]
)
def test_outbound_models_forbid_extra_fields(model, valid):
    """The monitor can never emit a field its contract does not name."""
    model.model_validate(valid)
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        model.model_validate({**valid, "victim_name": SENTINEL})


@pytest.mark.parametrize(
    ("model", "field", "value"),
    [
        (AlertEvent, "rule_id", "rec 24h"),
        (AlertEvent, "alert_id", "not-a-uuid"),
        (AlertEvent, "stage", "panicking"),
        (AlertEvent, "severity", "S9"),
        (AlertEvent, "queue", "nobody"),
        (AlertEvent, "reason_code", "Free Text"),
        (WorkItem, "item_id", "1234"),
        (WorkItem, "cause", "BAD_LUCK"),
        (DeadLetter, "reason", "because"),
        (DeadLetter, "error", "x" * 2001),
    ],
)
def test_invalid_outbound_field_is_rejected_with_its_location(model, field, value):
    """Outbound contracts validate their codes just as inbound ones do."""
    valid = dict(next(v for m, v in OUTBOUND_MODELS if m is model))
    with pytest.raises(ValidationError) as caught:
        model.model_validate({**valid, field: value})
    assert caught.value.errors()[0]["loc"][0] == field


@pytest.mark.parametrize("event_type", ALL_EVENT_TYPES)
def test_events_are_frozen(event_type):
    """Events are immutable once decoded, so no stage can alter what another saw."""
    event = FACTORIES[event_type]()
    with pytest.raises(ValidationError, match="frozen"):
        event.id = "changed"  # type: ignore[misc]


def _free_text_fields(schema: dict[str, Any], defs: dict[str, Any], path: str) -> list[str]:
    """Paths of string fields constrained by neither enum, const, pattern nor format."""
    if "$ref" in schema:
        return _free_text_fields(defs[schema["$ref"].split("/")[-1]], defs, path)
    found = []
    for branch in schema.get("anyOf", []):
        found += _free_text_fields(branch, defs, path)
    if schema.get("type") == "string" and not {"enum", "const", "pattern", "format"} & set(schema):
        found.append(path)
    for name, prop in schema.get("properties", {}).items():
        found += _free_text_fields(prop, defs, f"{path}.{name}")
    if "items" in schema:
        found += _free_text_fields(schema["items"], defs, f"{path}[]")
    return found


FREE_TEXT_ALLOWED = {
    "dataschema",  # a schema URI chosen by the producer, not about a person
    "ruleset_id",  # our own ruleset names
    "deadline_basis",  # our own code for how the deadline was computed
    "calendar",  # our own calendar name
    "trigger_event_ids[]",  # event ids (source|id) as received
    "considered_event_ids[]",
    "source_topic",
    "dead_letter_id",
    "error",  # built from locations and pydantic messages only (tested below)
    "original_b64",  # restricted topic by design
    "event_type",
    "topic",
    "file",
}


@pytest.mark.parametrize(
    "model",
    [*INPUT_EVENT_TYPES.values(), AlertEvent, WorkItem, DeadLetter],
    ids=lambda m: m.__name__,
)
def test_no_contract_field_is_unconstrained_free_text(model):
    """Every string is a code, ref or timestamp (rules file §5), bar a reviewed allow-list."""
    schema = model.model_json_schema()
    fields = _free_text_fields(schema, schema.get("$defs", {}), "")
    unexpected = [f for f in fields if f.rsplit(".", 1)[-1] not in FREE_TEXT_ALLOWED]
    assert unexpected == []


# --- versions -------------------------------------------------------------------------------


def test_crime_cancelled_v1_with_class_code_reads_as_v2():
    """The upcaster renames v1's `class_code`, so an old producer's message still decodes."""
    obj = make_event_dict("crime.cancelled", schema_version=1)
    obj["data"]["class_code"] = obj["data"].pop("cancellation_class")
    obj["data"]["class_code"] = "C2"
    event = decode_event(_raw(obj))
    assert isinstance(event, CrimeCancelled)
    assert event.schema_version == 2
    assert event.data.cancellation_class is CancellationClass.C2


def test_crime_cancelled_without_version_is_treated_as_v1():
    """A message with no schema_version is read as version 1 and upcast."""
    obj = make_event_dict("crime.cancelled")
    del obj["schema_version"]
    obj["data"]["class_code"] = obj["data"].pop("cancellation_class")
    assert decode_event_dict(obj).schema_version == 2


@pytest.mark.parametrize(("event_type", "version"), [("crime.cancelled", 3), ("crime.filed", 2)])
def test_schema_version_newer_than_supported_is_rejected(event_type, version):
    """A producer ahead of the monitor is dead-lettered as unsupported_version, not guessed."""
    obj = make_event_dict(event_type, schema_version=version)
    with pytest.raises(DecodeError) as caught:
        decode_event_dict(obj)
    assert caught.value.reason is DeadLetterReason.UNSUPPORTED_VERSION
    assert "newer than supported" in caught.value.detail


@pytest.mark.parametrize("version", [0, -1, "2", True, 1.5])
def test_schema_version_that_is_not_a_positive_integer_is_a_schema_violation(version):
    """Nonsense versions are schema violations, not upcast attempts."""
    obj = make_event_dict("crime.cancelled", schema_version=version)
    with pytest.raises(DecodeError) as caught:
        decode_event_dict(obj)
    assert caught.value.reason is DeadLetterReason.SCHEMA_VIOLATION


def test_old_version_without_upcaster_is_unsupported(monkeypatch):
    """If an upcaster is missing, the old version is refused rather than misread."""
    monkeypatch.setattr(registry, "UPCASTERS", {})
    obj = make_event_dict("crime.cancelled", schema_version=1)
    with pytest.raises(DecodeError) as caught:
        decode_event_dict(obj)
    assert caught.value.reason is DeadLetterReason.UNSUPPORTED_VERSION
    assert "no upcaster from version 1" in caught.value.detail


def test_every_event_class_declares_a_current_version_it_defaults_to():
    """A freshly built event carries its class's current version."""
    for event_type, cls in INPUT_EVENT_TYPES.items():
        assert FACTORIES[event_type]().schema_version == cls.SCHEMA_VERSION


# --- dead-letter reasons and safe messages --------------------------------------------------


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


DECODE_FAILURES = [
    (DeadLetterReason.OVERSIZED, b"{" + b" " * MAX_EVENT_BYTES + b"}"),
    (DeadLetterReason.INVALID_UTF8, b'{"type": "\xff"}'),
    (DeadLetterReason.INVALID_JSON, b'{"type": '),
    (DeadLetterReason.TOO_DEEP, _nested(20_000)),
    (DeadLetterReason.NOT_AN_OBJECT, b"[1, 2]"),
    (DeadLetterReason.MISSING_TYPE, b'{"id": "E1"}'),
    (DeadLetterReason.MISSING_TYPE, b'{"type": 7}'),
    (DeadLetterReason.UNKNOWN_TYPE, b'{"type": "crime.vanished"}'),
    (
        DeadLetterReason.UNSUPPORTED_VERSION,
        _raw(make_event_dict("crime.recorded", schema_version=9)),
    ),
    (
        DeadLetterReason.NAIVE_TIMESTAMP,
        _raw(make_event_dict("crime.recorded", time="2016-03-01T09:00:00")),
    ),
    (DeadLetterReason.SCHEMA_VIOLATION, _raw(make_event_dict("crime.recorded", area="x y"))),
]


@pytest.mark.parametrize(
    ("reason", "raw"),
    DECODE_FAILURES,
    ids=[f"{r.value}-{i}" for i, (r, _) in enumerate(DECODE_FAILURES)],
)
def test_each_decode_failure_maps_to_its_dead_letter_reason(reason, raw):
    """Every failure path of decode_event carries the matching dead-letter reason."""
    with pytest.raises(DecodeError) as caught:
        decode_event(raw)
    assert caught.value.reason is reason
    assert str(caught.value).startswith(f"{reason.value}: ")


def test_registry_covers_every_reason_it_can_detect():
    """All reasons but the driver's own (wrong topic, processing error) are exercised above."""
    exercised = {reason for reason, _ in DECODE_FAILURES} | {DeadLetterReason.FUTURE_TIMESTAMP}
    driver_only = {DeadLetterReason.WRONG_TOPIC, DeadLetterReason.PROCESSING_ERROR}
    assert exercised | driver_only == set(DeadLetterReason)


def test_unknown_type_name_is_kept_only_when_it_looks_like_a_type():
    """An unknown type that could be free text is not echoed in the error's event_type."""
    with pytest.raises(DecodeError) as caught:
        decode_event_dict({"type": SENTINEL})
    assert caught.value.event_type is None
    assert SENTINEL not in str(caught.value)


SENTINEL_PLACES = [
    ("incident.reported", "force_code"),
    ("incident.reported", "id"),
    ("incident.reported", "time"),
    ("incident.reported", "incident_ref"),
    ("incident.reported", "data.channel"),
    ("incident.reported", "data.area"),
    ("incident.reported", "data.flags.hate"),
    ("incident.reported", "data.disclosures"),
    ("incident.reported", "data.disclosures.0.victim_pseudo_ids"),
    ("incident.reported", "data.disclosures.0.offender_count"),
    ("incident.reported", "data.received_at"),
    ("crime.recorded", "data.home_office_code"),
    ("crime.recorded", "data.equality_fields_present"),
    ("crime.cancelled", "data.avi_present"),
    ("crime.cancelled", "schema_version"),
    ("victim.notified", "victim_pseudo_id"),
    ("victim_care.referral", "data.provider"),
]


@pytest.mark.parametrize(("event_type", "path"), SENTINEL_PLACES)
def test_decode_error_never_contains_the_input_value(event_type, path):
    """Personal data in a wrong-typed field does not leak into the (loggable) error text."""
    obj = _set_path(make_event_dict(event_type), path, SENTINEL)
    with pytest.raises(DecodeError) as caught:
        decode_event(_raw(obj))
    assert SENTINEL not in caught.value.detail
    assert SENTINEL not in str(caught.value)
    assert "Sentinelperson" not in caught.value.detail


def test_decode_error_detail_fits_a_dead_letter():
    """Even an event wrong everywhere yields an error text the dead-letter model accepts."""
    obj = make_event_dict("incident.reported")
    obj["data"]["disclosures"] = [{"offence_group": SENTINEL}] * 100
    with pytest.raises(DecodeError) as caught:
        decode_event_dict(obj)
    make_dead_letter(error=caught.value.detail, reason=caught.value.reason)


def test_encode_event_omits_absent_optionals_and_is_utf8_json():
    """Canonical encoding is compact JSON without null refs."""
    event = make_incident_reported()
    encoded = json.loads(encode_event(event))
    assert "crime_ref" not in encoded
    assert encoded["type"] == "incident.reported"
    assert encoded["time"].endswith("Z")


def test_input_event_union_discriminates_on_type():
    """The InputEvent union resolves each dict to its class by `type`."""
    adapter: TypeAdapter[Envelope] = TypeAdapter(InputEvent)
    for event_type in ALL_EVENT_TYPES:
        assert (
            type(adapter.validate_python(make_event_dict(event_type)))
            is INPUT_EVENT_TYPES[event_type]
        )
