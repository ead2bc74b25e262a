"""Model bases and field types shared by every contract.

Inbound models ignore unknown fields (a producer may add fields before we upgrade, and an extra
field may carry personal data that must never be passed on); outbound models forbid them, so the
monitor can never emit something its contract does not name.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field


def _require_aware(value: object) -> object:
    """Reject naive timestamps with a message that says why, before pydantic parses them.

    Numbers are refused too: an epoch number carries no zone and is too easily milliseconds.
    """
    if isinstance(value, (int, float)):
        msg = "timestamp must be an ISO 8601 string with a zone, not a number"
        raise ValueError(msg)  # pydantic wants ValueError to report it
    parsed = value
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value  # pydantic reports the malformed string itself
    if isinstance(parsed, datetime) and parsed.tzinfo is None:
        msg = "timestamp must be timezone-aware (add Z or an offset such as +01:00)"
        raise ValueError(msg)
    return value


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, BeforeValidator(_require_aware), AfterValidator(_to_utc)]
"""A timezone-aware instant, normalised to UTC: rules compare elapsed time, never local time."""

Ref = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")]
"""A system reference (incident, crime, N100, disclosure) or a pseudonymous victim id."""

AreaCode = Annotated[str, Field(min_length=1, max_length=16, pattern=r"^[A-Z0-9][A-Z0-9-]*$")]
"""Local policing unit code; the finest location the monitor ever carries."""

ForceCode = Annotated[str, Field(min_length=2, max_length=8, pattern=r"^[A-Z0-9]+$")]

HomeOfficeCode = Annotated[str, Field(pattern=r"^[0-9]{1,3}[A-Z]?(/[0-9]{1,2})?$", max_length=8)]
"""Home Office offence classification, e.g. `19C`, `8N`, `106`, `028/01`."""

EventId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:/-]+$")]


class InboundModel(BaseModel):
    """Base of every payload other systems send us: frozen, unknown fields dropped."""

    model_config = ConfigDict(frozen=True, extra="ignore", use_enum_values=False)


class OutboundModel(BaseModel):
    """Base of everything the monitor emits: frozen, unknown fields forbidden."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)
