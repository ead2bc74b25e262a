"""Decoding raw bytes into typed events, with upcasting of older contract versions.

Every failure becomes a `DecodeError` carrying a dead-letter reason and a message built from
field locations and pydantic's messages only (never the offending input), so the message is safe
to log and to put on the dead-letter topic.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from schemas.deadletter import DeadLetterReason
from schemas.events import INPUT_EVENT_TYPES, Envelope

MAX_EVENT_BYTES = 64 * 1024
"""Far above any real event (a few hundred bytes to a few KiB); larger input is dead-lettered."""

_TYPE_NAME = re.compile(r"^[a-z0-9_.]{1,64}$")
_NAIVE_MARKER = "timestamp must be timezone-aware"

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class DecodeError(Exception):
    """An input that cannot become an event; `reason` is its dead-letter reason."""

    def __init__(
        self, reason: DeadLetterReason, detail: str, event_type: str | None = None
    ) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail
        self.event_type = event_type


def _upcast_crime_cancelled_v1_v2(obj: dict[str, Any]) -> dict[str, Any]:
    """v1 called the cancellation class `class_code`; v2 calls it `cancellation_class`."""
    data = dict(obj.get("data") or {})
    if "class_code" in data and "cancellation_class" not in data:
        data["cancellation_class"] = data.pop("class_code")
    return {**obj, "data": data, "schema_version": 2}


UPCASTERS: dict[tuple[str, int], Upcaster] = {
    ("crime.cancelled", 1): _upcast_crime_cancelled_v1_v2,
}
"""(type, from_version) -> function returning the event at from_version + 1."""


def upcast(obj: dict[str, Any], event_type: str) -> dict[str, Any]:
    """Bring an event dict up to its type's current version, one step at a time."""
    current = INPUT_EVENT_TYPES[event_type].SCHEMA_VERSION
    version = obj.get("schema_version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        detail = "schema_version: must be an integer >= 1"
        raise DecodeError(DeadLetterReason.SCHEMA_VIOLATION, detail, event_type)
    if version > current:
        detail = f"schema_version {version} is newer than supported {current}"
        raise DecodeError(DeadLetterReason.UNSUPPORTED_VERSION, detail, event_type)
    while version < current:
        step = UPCASTERS.get((event_type, version))
        if step is None:
            detail = f"no upcaster from version {version}"
            raise DecodeError(DeadLetterReason.UNSUPPORTED_VERSION, detail, event_type)
        obj = step(obj)
        version += 1
    return obj


def describe_validation_error(exc: ValidationError) -> str:
    """Locations and messages only: the offending values may be personal data."""
    parts = []
    for err in exc.errors(include_input=False, include_url=False, include_context=False):
        loc = ".".join(str(p) for p in err["loc"]) or "<event>"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)[:1900]


def decode_event_dict(obj: Any) -> Envelope:
    """Validate an already-parsed JSON value as an input event."""
    if not isinstance(obj, dict):
        raise DecodeError(DeadLetterReason.NOT_AN_OBJECT, "event must be a JSON object")
    event_type = obj.get("type")
    if not isinstance(event_type, str):
        raise DecodeError(DeadLetterReason.MISSING_TYPE, "type: missing or not a string")
    cls = INPUT_EVENT_TYPES.get(event_type)
    if cls is None:
        safe = event_type if _TYPE_NAME.match(event_type) else None
        raise DecodeError(DeadLetterReason.UNKNOWN_TYPE, "type: not a known event type", safe)
    obj = upcast(obj, event_type)
    try:
        return cls.model_validate(obj)
    except ValidationError as exc:
        detail = describe_validation_error(exc)
        reason = (
            DeadLetterReason.NAIVE_TIMESTAMP
            if _NAIVE_MARKER in detail
            else DeadLetterReason.SCHEMA_VIOLATION
        )
        raise DecodeError(reason, detail, event_type) from exc
    except (ValueError, OverflowError, RecursionError) as exc:
        # pydantic lets some errors through unwrapped, e.g. OverflowError from converting
        # 0001-01-01T00:00+23:59 to UTC; they are bad input all the same, never a crash.
        detail = f"value out of range ({type(exc).__name__})"
        raise DecodeError(DeadLetterReason.SCHEMA_VIOLATION, detail, event_type) from exc


def decode_event(raw: bytes, *, max_bytes: int = MAX_EVENT_BYTES) -> Envelope:
    """Bytes off a topic or a line of a file to a typed event, or `DecodeError`."""
    if len(raw) > max_bytes:
        raise DecodeError(DeadLetterReason.OVERSIZED, f"{len(raw)} bytes exceeds {max_bytes}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        detail = f"invalid UTF-8 at byte {exc.start}"
        raise DecodeError(DeadLetterReason.INVALID_UTF8, detail) from exc
    try:
        obj = json.loads(text)
    except RecursionError as exc:
        raise DecodeError(DeadLetterReason.TOO_DEEP, "JSON nested too deeply") from exc
    except json.JSONDecodeError as exc:
        detail = f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        raise DecodeError(DeadLetterReason.INVALID_JSON, detail) from exc
    except ValueError as exc:  # an integer literal longer than Python's 4300-digit limit
        raise DecodeError(DeadLetterReason.INVALID_JSON, "number too long to parse") from exc
    return decode_event_dict(obj)


def check_not_future(event: Envelope, now: datetime, tolerance: timedelta) -> None:
    """Refuse an event stamped further ahead of `now` than clock skew explains.

    A far-future event time would move the replay watermark and close every deadline early.
    """
    if event.time - now > tolerance:
        minutes = int((event.time - now).total_seconds() // 60)
        detail = f"time is {minutes} minutes ahead of the clock"
        raise DecodeError(DeadLetterReason.FUTURE_TIMESTAMP, detail, event.type)


def encode_event(event: Envelope) -> bytes:
    """Canonical JSON of an event, as producers should send it."""
    return event.model_dump_json(exclude_none=True).encode("utf-8")
