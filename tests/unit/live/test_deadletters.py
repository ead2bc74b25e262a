"""Dead-letter records: derived ids, kept bytes, origin, and errors that never quote input."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from schemas.deadletter import DeadLetterReason
from schemas.registry import DecodeError, decode_event
from streams.live.deadletters import (
    MAX_ERROR_CHARS,
    Origin,
    build_dead_letter,
    processing_error_text,
)

DETECTED = datetime(2024, 6, 4, 12, 0, tzinfo=UTC)
ORIGIN = Origin("ncrs.incidents.v1.t", 4, 1234)


def _letter(value: bytes | None, error: str = "x", origin: Origin = ORIGIN) -> object:
    return build_dead_letter(
        value,
        origin,
        DeadLetterReason.INVALID_JSON,
        error,
        event_type=None,
        detected_at=DETECTED,
    )


def test_dead_letter__id_is_derived_from_the_origin_so_a_redelivery_repeats_it() -> None:
    """The same input position always gives the same dead-letter id; another position not."""
    first = _letter(b"{")
    again = _letter(b"{")
    other = _letter(b"{", origin=Origin(ORIGIN.topic, ORIGIN.partition, ORIGIN.offset + 1))
    assert first.dead_letter_id == again.dead_letter_id  # type: ignore[attr-defined]
    assert first.dead_letter_id != other.dead_letter_id  # type: ignore[attr-defined]


def test_dead_letter__keeps_the_original_bytes_and_where_they_were_read() -> None:
    """Original bytes (base64) and topic, partition, offset let the data owner replay them."""
    letter = _letter(b"\xff\xfe not utf-8")
    assert base64.b64decode(letter.original_b64) == b"\xff\xfe not utf-8"  # type: ignore[attr-defined]
    origin = letter.origin  # type: ignore[attr-defined]
    assert (origin.topic, origin.partition, origin.offset) == ("ncrs.incidents.v1.t", 4, 1234)
    assert letter.detected_at == DETECTED  # type: ignore[attr-defined]


def test_dead_letter__tombstone_keeps_empty_bytes() -> None:
    """A null value is recorded as empty bytes, not refused."""
    assert _letter(None).original_b64 == ""  # type: ignore[attr-defined]


def test_dead_letter__error_text_is_bounded() -> None:
    """A long detail is cut to the maximum the schema allows."""
    assert len(_letter(b"{", error="e" * 10_000).error) == MAX_ERROR_CHARS  # type: ignore[attr-defined]


def test_dead_letter__empty_error_falls_back_to_the_reason_code() -> None:
    """An empty detail still says why: the reason code."""
    assert _letter(b"{", error="").error == "invalid_json"  # type: ignore[attr-defined]


def test_processing_error_text__names_the_exception_type_only() -> None:
    """An unexpected exception's message may quote the input: only its type is kept."""
    text = processing_error_text(KeyError("Jane Placeholder, 1 High Street"))
    assert text == "unexpected KeyError in the rules core"


def test_decode_error_detail__names_fields_never_values() -> None:
    """The schema-violation detail that becomes `error` names the field, not its content."""
    raw = (
        b'{"id":"e1","source":"urn:x","type":"incident.reported","time":"2024-01-01T00:00:00Z",'
        b'"force_code":"CHE","schema_version":1,"actor_role":"call_handler",'
        b'"incident_ref":"INC-1","data":{"received_at":"2024-01-01T00:00:00Z",'
        b'"channel":"Jane Placeholder lives at 1 High Street"}}'
    )
    with pytest.raises(DecodeError) as caught:
        decode_event(raw)
    assert "Jane" not in caught.value.detail
    assert "High Street" not in caught.value.detail


@pytest.mark.parametrize(
    "origin",
    [
        Origin("ncrs.crime-records.v1", 0, 0),
        Origin("topic:with:colons", 11, 987654321),
    ],
)
def test_origin__header_form_round_trips(origin: Origin) -> None:
    """A forwarded copy's origin header decodes to the same position (colons in names too)."""
    assert Origin.decode(origin.encode()) == origin


@pytest.mark.parametrize("raw", [b"", b"1:2", b"x:2:t", b"1:y:t"])
def test_origin__malformed_header_raises_value_error(raw: bytes) -> None:
    """Anything but partition:offset:topic is refused with ValueError (the agent logs it)."""
    with pytest.raises(ValueError, match=r".+"):
        Origin.decode(raw)
