"""Building the dead-letter record for an input the worker cannot process.

The id is derived from the input's origin (topic, partition, offset), so re-processing the same
input after a restart produces the same dead letter rather than a second one. The error text is
either a `DecodeError` detail (field locations and pydantic messages, never values) or, for an
unexpected failure, only the exception's type: its message could quote the input.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

from schemas.deadletter import DeadLetter, DeadLetterOrigin, DeadLetterReason
from streams.rules.model import derive_id

MAX_ERROR_CHARS = 2000


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an input was read: the original topic position, also for a forwarded copy."""

    topic: str
    partition: int
    offset: int

    def encode(self) -> bytes:
        """Header form carried by a forwarded copy on a side topic."""
        return f"{self.partition}:{self.offset}:{self.topic}".encode()

    @classmethod
    def decode(cls, raw: bytes) -> Origin:
        """Inverse of `encode`; raises ValueError on anything else."""
        partition, offset, topic = raw.decode("utf-8").split(":", 2)
        return cls(topic, int(partition), int(offset))


def processing_error_text(exc: BaseException) -> str:
    """What may be said about an unexpected exception: its type, never its message."""
    return f"unexpected {type(exc).__name__} in the rules core"


def build_dead_letter(
    value: bytes | None,
    origin: Origin,
    reason: DeadLetterReason,
    error: str,
    *,
    event_type: str | None,
    detected_at: datetime,
) -> DeadLetter:
    """The dead letter for one input, with its original bytes (base64) and position."""
    return DeadLetter(
        dead_letter_id=derive_id(
            "deadletter", origin.topic, str(origin.partition), str(origin.offset)
        ),
        reason=reason,
        error=error[:MAX_ERROR_CHARS] or reason.value,
        event_type=event_type,
        original_b64=base64.b64encode(value or b"").decode("ascii"),
        origin=DeadLetterOrigin(
            topic=origin.topic, partition=origin.partition, offset=origin.offset
        ),
        detected_at=detected_at,
    )
