"""Outbound contracts: the alert lifecycle event and the work-queue item.

Both carry references and codes only. An alert may name the internal `incident_ref` or
`crime_ref` so the record can be opened in the source system under its own access control
(rules file §5); it never carries a victim id, a name or any free text.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from schemas.base import AreaCode, ForceCode, OutboundModel, Ref, UtcDatetime
from schemas.codes import Cause, ClockKind, OffenceGroup, Queue, Severity, Stage

RuleId = Annotated[str, Field(pattern=r"^[A-Z0-9]+(-[A-Z0-9]+)*$", max_length=32)]
Uuid = Annotated[
    str, Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
]
Code = Annotated[str, Field(pattern=r"^[a-z0-9_]+$", max_length=64)]
EventRef = Annotated[str, Field(max_length=260)]


class SubjectRefs(OutboundModel):
    """What the obligation is about; enough to open the record, nothing about the person."""

    incident_ref: Ref | None = None
    disclosure_id: Ref | None = None
    crime_ref: Ref | None = None
    n100_ref: Ref | None = None
    source_topic: Annotated[str, Field(max_length=128)] | None = None


class Evidence(OutboundModel):
    """What the decision rested on, so the Force Crime Registrar can audit it."""

    trigger_event_ids: list[EventRef]
    considered_event_ids: list[EventRef] = Field(default_factory=list)
    clock_start: UtcDatetime
    deadline_basis: Annotated[str, Field(max_length=64)]
    calendar: Annotated[str, Field(max_length=64)] | None = None
    clock: UtcDatetime
    clock_kind: ClockKind


class AlertEvent(OutboundModel):
    """One stage of one obligation: `ncrs.alerts.v1`, keyed by `alert_id`.

    `alert_id` is uuid5 of (ruleset, rule, subject, stage), so emitting the same stage again is
    idempotent downstream; `obligation_id` is uuid5 of (ruleset, rule, subject) and is the work
    item's id.
    """

    kind: Literal["ncrs.alert"] = "ncrs.alert"
    schema_version: Literal[1] = 1
    alert_id: Uuid
    obligation_id: Uuid
    rule_id: RuleId
    ruleset_id: Annotated[str, Field(max_length=32)]
    stage: Stage
    severity: Severity
    queue: Queue
    also_notify: list[Queue] = Field(default_factory=list)
    force_code: ForceCode
    subject: SubjectRefs
    offence_group: OffenceGroup | None = None
    area: AreaCode | None = None
    reason_code: Code
    cause: Cause | None = None
    deadline: UtcDatetime
    minutes_to_deadline: int | None = None
    minutes_late: int | None = None
    evidence: Evidence


class WorkItem(OutboundModel):
    """An open item on a work queue: `ncrs.workqueue.<queue>.v1`, keyed by `item_id`.

    The topic is compacted and a resolved item is a tombstone, so a consumer reading from the
    start sees exactly the open work.
    """

    kind: Literal["ncrs.work_item"] = "ncrs.work_item"
    schema_version: Literal[1] = 1
    item_id: Uuid
    queue: Queue
    rule_id: RuleId
    ruleset_id: Annotated[str, Field(max_length=32)]
    stage: Stage
    severity: Severity
    alert_id: Uuid
    force_code: ForceCode
    subject: SubjectRefs
    offence_group: OffenceGroup | None = None
    area: AreaCode | None = None
    reason_code: Code
    cause: Cause | None = None
    deadline: UtcDatetime
    updated_at: UtcDatetime
