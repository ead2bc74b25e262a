"""Versioned event contracts of ncrs-monitor.

Other police systems (command and control, the records system, victim-care) produce to these
contracts; the monitor produces alerts, work items and dead letters by them. Pure pydantic v2,
no I/O: the rules core and every driver share exactly these types.
"""

from __future__ import annotations

from schemas.alerts import AlertEvent, Evidence, SubjectRefs, WorkItem
from schemas.deadletter import DeadLetter, DeadLetterOrigin, DeadLetterReason
from schemas.events import INPUT_EVENT_TYPES, InputEvent
from schemas.registry import DecodeError, decode_event, decode_event_dict, encode_event

__all__ = [
    "INPUT_EVENT_TYPES",
    "AlertEvent",
    "DeadLetter",
    "DeadLetterOrigin",
    "DeadLetterReason",
    "DecodeError",
    "Evidence",
    "InputEvent",
    "SubjectRefs",
    "WorkItem",
    "decode_event",
    "decode_event_dict",
    "encode_event",
]
