"""The dead-letter record: bad input is kept with its reason, never dropped, never fatal.

The original bytes are kept (base64) so the source system can correct and resend; they may hold
personal data, so `ncrs.deadletter.v1` is restricted (docs/security.md). The `error` text is
built from field locations and pydantic messages without input values, so it holds none.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from schemas.base import OutboundModel, UtcDatetime


class DeadLetterReason(StrEnum):
    """Why an input could not be processed."""

    OVERSIZED = "oversized"
    INVALID_UTF8 = "invalid_utf8"
    INVALID_JSON = "invalid_json"
    TOO_DEEP = "too_deep"
    NOT_AN_OBJECT = "not_an_object"
    MISSING_TYPE = "missing_type"
    UNKNOWN_TYPE = "unknown_type"
    UNSUPPORTED_VERSION = "unsupported_version"
    NAIVE_TIMESTAMP = "naive_timestamp"
    SCHEMA_VIOLATION = "schema_violation"
    FUTURE_TIMESTAMP = "future_timestamp"
    WRONG_TOPIC = "wrong_topic"
    PROCESSING_ERROR = "processing_error"


class DeadLetterOrigin(OutboundModel):
    """Where the input came from: a Kafka position, or a file and line in replay."""

    topic: Annotated[str, Field(max_length=249)] | None = None
    partition: int | None = None
    offset: int | None = None
    file: Annotated[str, Field(max_length=1024)] | None = None
    line: int | None = None


class DeadLetter(OutboundModel):
    """One rejected input on `ncrs.deadletter.v1`, keyed by `dead_letter_id`."""

    kind: Literal["ncrs.dead_letter"] = "ncrs.dead_letter"
    schema_version: Literal[1] = 1
    dead_letter_id: Annotated[str, Field(max_length=64)]
    reason: DeadLetterReason
    error: Annotated[str, Field(max_length=2000)]
    event_type: Annotated[str, Field(max_length=64)] | None = None
    original_b64: str
    origin: DeadLetterOrigin
    detected_at: UtcDatetime | None = None
