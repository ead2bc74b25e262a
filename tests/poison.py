"""A corpus of bad and awkward inputs, each with the outcome the monitor documents for it.

Shared by the unit tests (`tests/unit/test_poison_corpus.py`, which run every case through the
decoder and the rules engine) and the live-worker tests, which push the same bytes through a
real worker and expect the same dead-letter reasons on `ncrs.deadletter.v1`, the worker alive and
the valid events around them unaffected.

Each case is `PoisonCase(name, raw, expected)`: `expected` is the `DeadLetterReason` the input
must be dead-lettered with, or a `Handled` outcome for input that is accepted and must be handled
without harm. `FUTURE_TIMESTAMP` is decided against the clock (`check_not_future`), so `outcome`
takes `now`; every other outcome is the decoder's alone. Event times are in 2016 (the factories'
default), so they are never "future" against a wall clock.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from schemas.deadletter import DeadLetterReason
from schemas.events import Envelope
from schemas.registry import MAX_EVENT_BYTES, DecodeError, check_not_future, decode_event
from tests.factories import make_disclosure, make_event_dict

FUTURE_TOLERANCE = timedelta(minutes=5)
"""The default `NCRS_FUTURE_TOLERANCE_SECONDS`."""

SENTINEL_NAME = "Zebedee Quux-Sentinel"
SENTINEL_ADDRESS = "1 Sentinel Lane, SN1 1SN"
SENTINEL_DOB = "1999-12-31"
SENTINEL_NARRATIVE = "SENTINEL NARRATIVE the victim said"
SENTINELS = (SENTINEL_NAME, SENTINEL_ADDRESS, SENTINEL_DOB, SENTINEL_NARRATIVE)
"""Fake personal data: none of these strings may ever appear in anything the monitor emits."""

PERSONAL_FIELDS: dict[str, Any] = {
    "victim_name": SENTINEL_NAME,
    "victim_address": SENTINEL_ADDRESS,
    "victim_date_of_birth": SENTINEL_DOB,
    "narrative": SENTINEL_NARRATIVE,
    "person": {"name": SENTINEL_NAME, "dob": SENTINEL_DOB, "address": [SENTINEL_ADDRESS]},
}
"""Unknown fields as a careless producer might send them, nested and flat."""


class Handled(StrEnum):
    """Outcomes of inputs that are accepted rather than dead-lettered."""

    ACCEPTED = "accepted"
    """Decodes; odd but within the contract (e.g. an unknown field holding Infinity)."""
    EXTRA_DROPPED = "extra_dropped"
    """Decodes; the unknown fields (personal data here) are dropped and never passed on."""
    DUPLICATE_NO_CHANGE = "duplicate_no_change"
    """A redelivered event: processing it again changes no state and emits nothing."""
    UNKNOWN_CASE_STORED = "unknown_case_stored"
    """An event for a case never seen: stored as a fact for later, no alert raised."""


Outcome = DeadLetterReason | Handled


@dataclass(frozen=True)
class PoisonCase:
    """One input and its documented outcome; `preceded_by` is delivered first (duplicates)."""

    name: str
    raw: bytes
    expected: Outcome
    preceded_by: bytes | None = None


def outcome(raw: bytes, now: datetime) -> DeadLetterReason | Envelope:
    """What the monitor's intake makes of `raw` at wall-clock `now`: a reason, or the event."""
    try:
        event = decode_event(raw)
        check_not_future(event, now, FUTURE_TOLERANCE)
    except DecodeError as exc:
        return exc.reason
    return event


# --- building blocks ------------------------------------------------------------------------


def _incident(**overrides: Any) -> dict[str, Any]:
    """A valid incident.reported dict with fixed, recognisable refs."""
    fields: dict[str, Any] = {
        "id": "POISON-EVT-1",
        "incident_ref": "POISON-INC-1",
        "disclosures": [
            make_disclosure(disclosure_id="POISON-DIS-1", victims=["POISON-V-1"]),
        ],
    }
    fields.update(overrides)
    return make_event_dict("incident.reported", **fields)


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, allow_nan=True).encode("utf-8")


def _with(path: str, value: Any, base: dict[str, Any] | None = None) -> bytes:
    """A valid incident with one field (dotted path, list indexes as numbers) replaced."""
    obj = json.loads(json.dumps(base if base is not None else _incident()))
    *parents, last = path.split(".")
    node: Any = obj
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return _dumps(obj)


def _without(path: str) -> bytes:
    obj = _incident()
    *parents, last = path.split(".")
    node: Any = obj
    for part in parents:
        node = node[part]
    del node[last]
    return _dumps(obj)


def _raw_number(path: str, literal: str) -> bytes:
    """A valid incident whose field at `path` holds a bare JSON literal (NaN, 1e999, ...)."""
    marker = "__POISON_LITERAL__"
    return _with(path, marker).replace(f'"{marker}"'.encode(), literal.encode())


def with_personal_data(event: dict[str, Any]) -> dict[str, Any]:
    """`event` with the sentinel fields added at the top, in `data` and in every nested object."""

    def spread(node: Any) -> Any:
        if isinstance(node, dict):
            return {**{k: spread(v) for k, v in node.items()}, **PERSONAL_FIELDS}
        if isinstance(node, list):
            return [spread(item) for item in node]
        return node

    out: dict[str, Any] = spread(event)
    return out


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


VALID = _dumps(_incident())
"""The valid event the mutations start from (also a control: it must be accepted)."""

_DUPLICATE = _dumps(_incident(id="POISON-EVT-DUP", incident_ref="POISON-INC-DUP"))


# --- the corpus -----------------------------------------------------------------------------

R = DeadLetterReason

CORPUS: tuple[PoisonCase, ...] = (
    # bytes and JSON syntax
    PoisonCase("empty_bytes", b"", R.INVALID_JSON),
    PoisonCase("whitespace_only", b" \n\t ", R.INVALID_JSON),
    PoisonCase("truncated_json", VALID[: len(VALID) // 2], R.INVALID_JSON),
    PoisonCase("invalid_utf8", VALID[:20] + b"\xff\xfe" + VALID[20:], R.INVALID_UTF8),
    PoisonCase("overlong_utf8_encoding", b'{"type": "\xc0\xaf"}', R.INVALID_UTF8),
    PoisonCase("bom_prefixed_json", b"\xef\xbb\xbf" + VALID, R.INVALID_JSON),
    PoisonCase("integer_beyond_parser_limit", _raw_number("data.x", "9" * 5000), R.INVALID_JSON),
    PoisonCase("oversized_payload", _with("padding", "x" * MAX_EVENT_BYTES), R.OVERSIZED),
    PoisonCase("deeply_nested_arrays_30k", _nested(30_000), R.TOO_DEEP),
    PoisonCase("deeply_nested_arrays_100k", _nested(100_000), R.OVERSIZED),
    PoisonCase(
        "deeply_nested_inside_data",
        _with("data", "__DEEP__").replace(b'"__DEEP__"', _nested(20_000)),
        R.TOO_DEEP,
    ),
    # not an event object
    PoisonCase("json_array_instead_of_object", _dumps([_incident()]), R.NOT_AN_OBJECT),
    PoisonCase("json_null", b"null", R.NOT_AN_OBJECT),
    PoisonCase("json_string", b'"incident.reported"', R.NOT_AN_OBJECT),
    PoisonCase("json_number", b"42", R.NOT_AN_OBJECT),
    PoisonCase("missing_type", _without("type"), R.MISSING_TYPE),
    PoisonCase("type_not_a_string", _with("type", 7), R.MISSING_TYPE),
    PoisonCase("valid_envelope_unknown_type", _with("type", "incident.teleported"), R.UNKNOWN_TYPE),
    PoisonCase("type_with_path_characters", _with("type", "../../etc/passwd"), R.UNKNOWN_TYPE),
    PoisonCase(
        "duplicate_json_keys_last_wins",
        VALID[:-1] + b', "type": "incident.teleported"}',
        R.UNKNOWN_TYPE,
    ),
    # envelope
    PoisonCase("missing_id", _without("id"), R.SCHEMA_VIOLATION),
    PoisonCase("missing_time", _without("time"), R.SCHEMA_VIOLATION),
    PoisonCase("missing_source", _without("source"), R.SCHEMA_VIOLATION),
    PoisonCase("missing_force_code", _without("force_code"), R.SCHEMA_VIOLATION),
    PoisonCase("wrong_specversion", _with("specversion", "0.3"), R.SCHEMA_VIOLATION),
    PoisonCase("control_characters_in_id", _with("id", "EVT\x00\x1b[31m-1"), R.SCHEMA_VIOLATION),
    PoisonCase("newline_in_ref", _with("incident_ref", "INC-1\nINC-2"), R.SCHEMA_VIOLATION),
    PoisonCase("ref_too_long", _with("incident_ref", "I" * 65), R.SCHEMA_VIOLATION),
    PoisonCase(
        "lone_surrogate_in_force_code",
        _with("force_code", "__S__").replace(b"__S__", b"\\ud800"),
        R.SCHEMA_VIOLATION,
    ),
    PoisonCase("refs_missing_for_type", _without("incident_ref"), R.SCHEMA_VIOLATION),
    PoisonCase("schema_version_too_new", _with("schema_version", 99), R.UNSUPPORTED_VERSION),
    PoisonCase("schema_version_zero", _with("schema_version", 0), R.SCHEMA_VIOLATION),
    PoisonCase("schema_version_as_string", _with("schema_version", "1"), R.SCHEMA_VIOLATION),
    PoisonCase("schema_version_as_bool", _with("schema_version", True), R.SCHEMA_VIOLATION),
    # timestamps
    PoisonCase("naive_event_time", _with("time", "2016-03-01T09:00:00"), R.NAIVE_TIMESTAMP),
    PoisonCase(
        "naive_payload_time", _with("data.received_at", "2016-03-01T09:00:00"), R.NAIVE_TIMESTAMP
    ),
    PoisonCase("far_future_time", _with("time", "2999-03-01T09:00:00Z"), R.FUTURE_TIMESTAMP),
    PoisonCase("two_digit_year", _with("time", "16-03-01T09:00:00Z"), R.SCHEMA_VIOLATION),
    PoisonCase("impossible_date", _with("time", "2016-02-30T09:00:00Z"), R.SCHEMA_VIOLATION),
    PoisonCase(
        "offset_out_of_range", _with("time", "2016-03-01T09:00:00+25:00"), R.SCHEMA_VIOLATION
    ),
    PoisonCase(
        "time_overflows_on_utc_conversion",
        _with("time", "0001-01-01T00:00:00+23:59"),
        R.SCHEMA_VIOLATION,
    ),
    PoisonCase("epoch_number_as_time", _with("time", 1456822800), R.SCHEMA_VIOLATION),
    # payload types and codes
    PoisonCase("null_data", _with("data", None), R.SCHEMA_VIOLATION),
    PoisonCase("data_is_array", _with("data", []), R.SCHEMA_VIOLATION),
    PoisonCase("unknown_enum_code", _with("data.channel", "carrier_pigeon"), R.SCHEMA_VIOLATION),
    PoisonCase(
        "unknown_offence_group",
        _with("data.disclosures.0.offence_group", "JAYWALKING"),
        R.SCHEMA_VIOLATION,
    ),
    PoisonCase(
        "wrong_type_count_as_word",
        _with("data.disclosures.0.offender_count", "three"),
        R.SCHEMA_VIOLATION,
    ),
    PoisonCase(
        "wrong_type_flag_as_word", _with("data.flags", {"sexual": "maybe"}), R.SCHEMA_VIOLATION
    ),
    PoisonCase("wrong_type_area_as_object", _with("data.area", {"lpu": "X"}), R.SCHEMA_VIOLATION),
    PoisonCase(
        "negative_offender_count",
        _with("data.disclosures.0.offender_count", -1),
        R.SCHEMA_VIOLATION,
    ),
    PoisonCase(
        "absurd_offender_count",
        _with("data.disclosures.0.offender_count", 10**6),
        R.SCHEMA_VIOLATION,
    ),
    PoisonCase(
        "nan_number", _raw_number("data.disclosures.0.offender_count", "NaN"), R.SCHEMA_VIOLATION
    ),
    PoisonCase(
        "infinity_number",
        _raw_number("data.disclosures.0.offender_count", "Infinity"),
        R.SCHEMA_VIOLATION,
    ),
    PoisonCase(
        "float_overflow_number",
        _raw_number("data.disclosures.0.offender_count", "1e999"),
        R.SCHEMA_VIOLATION,
    ),
    PoisonCase(
        "too_many_disclosures",
        _with("data.disclosures", [make_disclosure().model_dump(mode="json")] * 101),
        R.SCHEMA_VIOLATION,
    ),
    # accepted and handled
    PoisonCase("valid_control", VALID, Handled.ACCEPTED),
    PoisonCase("infinity_in_unknown_field", _raw_number("score", "Infinity"), Handled.ACCEPTED),
    PoisonCase(
        "extra_fields_with_personal_data",
        _dumps(with_personal_data(_incident(id="POISON-EVT-PII", incident_ref="POISON-INC-PII"))),
        Handled.EXTRA_DROPPED,
    ),
    PoisonCase("duplicate_id_redelivered", _DUPLICATE, Handled.DUPLICATE_NO_CHANGE, _DUPLICATE),
    PoisonCase(
        "notification_for_unknown_crime",
        _dumps(
            make_event_dict(
                "victim.notified", id="POISON-EVT-ORPHAN-1", crime_ref="POISON-CRI-NEVER-SEEN"
            )
        ),
        Handled.UNKNOWN_CASE_STORED,
    ),
    PoisonCase(
        "review_for_unknown_incident",
        _dumps(
            make_event_dict(
                "incident.reviewed", id="POISON-EVT-ORPHAN-2", incident_ref="POISON-INC-NEVER-SEEN"
            )
        ),
        Handled.UNKNOWN_CASE_STORED,
    ),
)
"""Every case; names are unique and say what is wrong with the input."""

DEAD_LETTERED = tuple(c for c in CORPUS if isinstance(c.expected, DeadLetterReason))
HANDLED = tuple(c for c in CORPUS if isinstance(c.expected, Handled))
