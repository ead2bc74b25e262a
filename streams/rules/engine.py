"""The rules engine: events and an explicit clock in, new case state and effects out.

Two pure step functions, `apply` (an event reaches a case) and `advance` (the clock reaches a
case), are all the live workers call, one case at a time inside stream iteration. `Engine` wraps
them with an in-memory case store and the due-deadline index for the embedded replay mode and
for tests; the live workers keep the same cases in faust tables instead.

Decisions and the order of input: a breach is announced by `advance` when the clock passes the
deadline; a satisfying event decides by its own event time, and the earliest satisfying event
wins whatever order they arrive in. A late record closes the obligation "late", but that is
announced only when the clock passes the record's own time (an earlier record may still arrive
until then); at that point any stage never announced is backfilled, so the final alert set
depends on event times, not on arrival order within the lateness window. A record whose event
time precedes the deadline but which arrives after the breach was announced retracts it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from schemas.alerts import AlertEvent, Evidence, SubjectRefs, WorkItem
from schemas.codes import ClockKind, OffenceGroup, Queue, ReferralStatus, Severity, Stage
from schemas.events import CrimeRecorded, Envelope, VictimCareReferral
from streams.rules.duties import RuleContext
from streams.rules.facts import absorbed_facts, route
from streams.rules.family import RuleFamily
from streams.rules.index import DueIndex
from streams.rules.model import (
    CaseKind,
    CaseState,
    Obligation,
    ObligationClosed,
    ObligationOpened,
    ObligationRelabelled,
    Observation,
    Outcome,
    WorkItemClosed,
    derive_id,
    make_case,
    slot_setter,
    uuid5_of,
)
from streams.rules.store import DEFAULT_HOT_CASES, CaseKey, CaseStore
from streams.topics import TOPIC_OF_TYPE

Effect = (
    AlertEvent
    | WorkItem
    | WorkItemClosed
    | ObligationOpened
    | ObligationRelabelled
    | ObligationClosed
    | Observation
)
M = TypeVar("M", bound=BaseModel)

DEFAULT_RETENTION = timedelta(days=35)
"""Closed obligations and idle cases are kept this long, past the 30-day input retention, so a
re-delivered input still finds its case and changes nothing."""

DATA_COMPLETENESS = "DATA-COMPLETENESS"

_MISSING = object()


@dataclass(frozen=True, slots=True)
class Clock:
    """The explicit clock: `now` already has the grace for pipeline lag taken off (live)."""

    now: datetime
    kind: ClockKind


@dataclass(frozen=True, slots=True)
class Step:
    """A case after an event or a tick (None: the case has expired) and what to emit."""

    case: CaseState | None
    effects: tuple[Effect, ...]


_set_step_case = slot_setter(Step, "case")
_set_step_effects = slot_setter(Step, "effects")


def _step(case: CaseState | None, effects: tuple[Effect, ...]) -> Step:
    """`Step(case, effects)` without the frozen dataclass's `__init__` (two per event)."""
    step = object.__new__(Step)
    _set_step_case(step, case)
    _set_step_effects(step, effects)
    return step


# --- alerts and work items ------------------------------------------------------------------
#
# Alerts and work items are built from values the engine already holds in their final form:
# ids it derived, codes from the rulesets and the rule families, timestamps in UTC, refs and
# areas that were validated when their events were decoded. Re-validating them cost a fifth of
# the engine's time, so `_trusted` fills the pydantic model directly, in field order (the JSON
# serialiser follows the stored order), with the same fields marked as set as the validating
# constructor would. The codes an alert names are checked through the validating constructor
# the first time each combination is seen (`_codes_valid`), and anything not already in its
# final form (a timestamp outside UTC) takes the validating path, so an invalid value still
# raises exactly as before. A test builds every alert both ways and compares the bytes.

_ALERT_SET = frozenset(AlertEvent.model_fields) - {"kind", "schema_version"}
_WORK_ITEM_SET = frozenset(WorkItem.model_fields) - {"kind", "schema_version"}
_EVIDENCE_SET = frozenset(Evidence.model_fields)
_SUBJECT_SET = frozenset(SubjectRefs.model_fields) - {"source_topic"}
_set_attr = object.__setattr__
_new = object.__new__
_EXAMPLE_ID = "00000000-0000-5000-8000-000000000000"
_EXAMPLE_TIME = datetime(2000, 1, 1, tzinfo=UTC)


def _trusted(cls: type[M], values: dict[str, Any], fields_set: frozenset[str]) -> M:
    """A model instance holding `values` (every field, in declaration order) as they are."""
    model = _new(cls)
    _set_attr(model, "__dict__", values)
    _set_attr(model, "__pydantic_fields_set__", set(fields_set))
    _set_attr(model, "__pydantic_extra__", None)
    _set_attr(model, "__pydantic_private__", None)
    return model


@functools.lru_cache(maxsize=4096)
def _codes_valid(
    rule_id: str,
    ruleset_id: str,
    reason_code: str,
    area: str | None,
    force_code: str,
    deadline_basis: str,
    calendar: str | None,
) -> bool:
    """Whether an alert naming these codes passes its contract (validated once per combination)."""
    try:
        AlertEvent(
            alert_id=_EXAMPLE_ID,
            obligation_id=_EXAMPLE_ID,
            rule_id=rule_id,
            ruleset_id=ruleset_id,
            stage=Stage.BREACHED,
            severity=Severity.S3,
            queue=Queue.OMU,
            force_code=force_code,
            subject=SubjectRefs(),
            area=area,
            reason_code=reason_code,
            deadline=_EXAMPLE_TIME,
            evidence=Evidence(
                trigger_event_ids=[],
                clock_start=_EXAMPLE_TIME,
                deadline_basis=deadline_basis,
                calendar=calendar,
                clock=_EXAMPLE_TIME,
                clock_kind=ClockKind.EVENT_TIME,
            ),
        )
    except ValidationError:
        return False
    return True


def _refs(ob: Obligation) -> SubjectRefs:
    r = ob.refs
    return SubjectRefs(
        incident_ref=r.incident_ref,
        disclosure_id=r.disclosure_id,
        crime_ref=r.crime_ref,
        n100_ref=r.n100_ref,
    )


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


def _stage_minutes(ob: Obligation, stage: Stage) -> tuple[int | None, int | None]:
    """(minutes to the deadline, minutes late) an alert for `stage` reports."""
    if stage is Stage.BREACHED:
        return None, 0
    if stage is Stage.RESOLVED_LATE:
        return None, (_minutes(ob.closed_at - ob.deadline) if ob.closed_at is not None else None)
    if stage is Stage.DUE_SOON or stage is Stage.ESCALATED:
        for s, at in zip(ob.stages, ob.stage_at, strict=True):
            if s is stage:
                if stage is Stage.DUE_SOON:
                    return _minutes(ob.deadline - at), None
                return None, _minutes(at - ob.deadline)
    return None, None


def _considered(ob: Obligation, stage: Stage) -> list[str]:
    """The satisfying events an alert for `stage` lists: none that happened after the stage.

    Every considered event happened at `closed_at` (see `close_obligation`), so a warning stage
    due before that lists none, whether it is announced before the event is read (replay) or
    backfilled after (a live worker catching up, or a late closure being finalised).
    """
    ids = ob.considered_event_ids
    closed_at = ob.closed_at
    if ids and closed_at is not None:
        for s, at in zip(ob.stages, ob.stage_at, strict=True):
            if s is stage:
                return list(ids) if closed_at <= at else []
    return list(ids)


def _is_trusted(ob: Obligation, ctx: RuleContext, clock: datetime) -> bool:
    """Every value of the alert is already in its final, valid form."""
    return (
        clock.tzinfo is UTC
        and ob.deadline.tzinfo is UTC
        and ob.clock_start.tzinfo is UTC
        and _codes_valid(
            ob.rule_id,
            ob.ruleset_id,
            ob.reason_code,
            ob.area,
            ctx.force_code,
            ob.deadline_basis,
            ob.calendar,
        )
    )


def build_alert(
    ob: Obligation, stage: Stage, ctx: RuleContext, clock: datetime, kind: ClockKind
) -> AlertEvent:
    """The alert for one stage of one obligation; its id is uuid5(ruleset, rule, subject, stage).

    Minutes are measured from the stage's own threshold, not from when the clock noticed it, so
    the same stage always has the same content whichever driver announces it.
    """
    to_deadline, late = _stage_minutes(ob, stage)
    alert_id = uuid5_of(ob.ruleset_id, ob.rule_id, ob.subject, stage.value)
    if not _is_trusted(ob, ctx, clock):
        return _validated_alert(ob, stage, ctx, clock, kind, alert_id, to_deadline, late)
    r = ob.refs
    subject = _trusted(
        SubjectRefs,
        {
            "incident_ref": r.incident_ref,
            "disclosure_id": r.disclosure_id,
            "crime_ref": r.crime_ref,
            "n100_ref": r.n100_ref,
            "source_topic": None,
        },
        _SUBJECT_SET,
    )
    evidence = _trusted(
        Evidence,
        {
            "trigger_event_ids": list(ob.trigger_event_ids),
            "considered_event_ids": _considered(ob, stage),
            "clock_start": ob.clock_start,
            "deadline_basis": ob.deadline_basis,
            "calendar": ob.calendar,
            "clock": clock,
            "clock_kind": kind,
        },
        _EVIDENCE_SET,
    )
    return _trusted(
        AlertEvent,
        {
            "kind": "ncrs.alert",
            "schema_version": 1,
            "alert_id": alert_id,
            "obligation_id": ob.obligation_id,
            "rule_id": ob.rule_id,
            "ruleset_id": ob.ruleset_id,
            "stage": stage,
            "severity": ob.severity,
            "queue": ob.queue,
            "also_notify": list(ob.also_notify),
            "force_code": ctx.force_code,
            "subject": subject,
            "offence_group": ob.offence_group,
            "area": ob.area,
            "reason_code": ob.reason_code,
            "cause": ob.cause,
            "deadline": ob.deadline,
            "minutes_to_deadline": to_deadline,
            "minutes_late": late,
            "evidence": evidence,
        },
        _ALERT_SET,
    )


def _validated_alert(
    ob: Obligation,
    stage: Stage,
    ctx: RuleContext,
    clock: datetime,
    kind: ClockKind,
    alert_id: str,
    to_deadline: int | None,
    late: int | None,
) -> AlertEvent:
    """`build_alert` through the validating constructors (and their error messages)."""
    return AlertEvent(
        alert_id=alert_id,
        obligation_id=ob.obligation_id,
        rule_id=ob.rule_id,
        ruleset_id=ob.ruleset_id,
        stage=stage,
        severity=ob.severity,
        queue=ob.queue,
        also_notify=list(ob.also_notify),
        force_code=ctx.force_code,
        subject=_refs(ob),
        offence_group=ob.offence_group,
        area=ob.area,
        reason_code=ob.reason_code,
        cause=ob.cause,
        deadline=ob.deadline,
        minutes_to_deadline=to_deadline,
        minutes_late=late,
        evidence=Evidence(
            trigger_event_ids=list(ob.trigger_event_ids),
            considered_event_ids=_considered(ob, stage),
            clock_start=ob.clock_start,
            deadline_basis=ob.deadline_basis,
            calendar=ob.calendar,
            clock=clock,
            clock_kind=kind,
        ),
    )


def work_items(alert: AlertEvent, updated_at: datetime) -> list[WorkItem]:
    """The open item an alert puts on its owning queue and on each queue also notified."""
    if updated_at.tzinfo is not UTC or alert.deadline.tzinfo is not UTC:
        return _validated_work_items(alert, updated_at)
    return [
        _trusted(
            WorkItem,
            {
                "kind": "ncrs.work_item",
                "schema_version": 1,
                "item_id": alert.obligation_id,
                "queue": queue,
                "rule_id": alert.rule_id,
                "ruleset_id": alert.ruleset_id,
                "stage": alert.stage,
                "severity": alert.severity,
                "alert_id": alert.alert_id,
                "force_code": alert.force_code,
                "subject": alert.subject,
                "offence_group": alert.offence_group,
                "area": alert.area,
                "reason_code": alert.reason_code,
                "cause": alert.cause,
                "deadline": alert.deadline,
                "updated_at": updated_at,
            },
            _WORK_ITEM_SET,
        )
        for queue in (alert.queue, *alert.also_notify)
    ]


def _validated_work_items(alert: AlertEvent, updated_at: datetime) -> list[WorkItem]:
    """`work_items` through the validating constructor."""
    return [
        WorkItem(
            item_id=alert.obligation_id,
            queue=queue,
            rule_id=alert.rule_id,
            ruleset_id=alert.ruleset_id,
            stage=alert.stage,
            severity=alert.severity,
            alert_id=alert.alert_id,
            force_code=alert.force_code,
            subject=alert.subject,
            offence_group=alert.offence_group,
            area=alert.area,
            reason_code=alert.reason_code,
            cause=alert.cause,
            deadline=alert.deadline,
            updated_at=updated_at,
        )
        for queue in (alert.queue, *alert.also_notify)
    ]


def _closed_items(ob: Obligation) -> list[WorkItemClosed]:
    return [WorkItemClosed(q, ob.obligation_id) for q in (ob.queue, *ob.also_notify)]


# --- applying an event ----------------------------------------------------------------------


def _closing_effects(
    prev: Obligation | None, ob: Obligation, ctx: RuleContext
) -> tuple[Obligation, list[Effect]]:
    """Effects of an obligation met on time or cancelled (a late one waits for the clock).

    An announced breach is retracted; an open work item is closed. `prev` is the obligation
    before this event: when it had already been finalised as late, only the retraction is new.
    """
    assert ob.closed_at is not None  # only called for closed obligations
    assert ob.outcome is not None
    effects: list[Effect] = []
    emitted = list(ob.emitted)
    breach_announced = any(s in emitted for s in (Stage.BREACHED, Stage.ESCALATED))
    if breach_announced and Stage.RETRACTED not in emitted:
        effects.append(build_alert(ob, Stage.RETRACTED, ctx, ob.closed_at, ClockKind.EVENT_TIME))
        emitted.append(Stage.RETRACTED)
    already_counted = prev is not None and prev.outcome is not None and not prev.pending_late
    if ob.has_work_item and not already_counted:
        effects.extend(_closed_items(ob))
    if not already_counted:
        effects.append(_closed_metric(ob))
    if len(emitted) == len(ob.emitted):
        return ob, effects
    return ob.announced(tuple(emitted), ob.undecided), effects


def _closed_metric(ob: Obligation) -> ObligationClosed:
    assert ob.outcome is not None  # only for closed obligations
    return ObligationClosed(
        ob.rule_id, ob.outcome, ob.offence_group, ob.area, ob.cause, ob.considered_event_ids
    )


def _finalise_late(ob: Obligation, ctx: RuleContext) -> tuple[Obligation, list[Effect]]:
    """The clock passed a late satisfaction: announce every stage it missed, then resolve.

    Stages are backfilled so that the final alert set depends only on event times, not on
    whether a tick happened to fall between the deadline and the late record.
    """
    assert ob.closed_at is not None  # only for pending-late obligations
    effects: list[Effect] = []
    emitted = list(ob.emitted)
    for stage, at in zip(ob.stages, ob.stage_at, strict=True):
        if stage not in emitted and at <= ob.closed_at:
            effects.append(build_alert(ob, stage, ctx, ob.closed_at, ClockKind.EVENT_TIME))
            emitted.append(stage)
    effects.append(build_alert(ob, Stage.RESOLVED_LATE, ctx, ob.closed_at, ClockKind.EVENT_TIME))
    emitted.append(Stage.RESOLVED_LATE)
    if ob.has_work_item:
        effects.extend(_closed_items(ob))
    effects.append(_closed_metric(ob))
    return ob.announced(tuple(emitted), ob.undecided), effects


def _diff(before: CaseState, after: CaseState, ctx: RuleContext) -> tuple[CaseState, list[Effect]]:
    effects: list[Effect] = []
    changed: dict[str, Obligation] = {}
    for oid, ob in after.obligations.items():
        prev = before.obligations.get(oid)
        if prev is ob:
            continue
        if prev is None:
            effects.append(ObligationOpened(ob.rule_id, ob.offence_group, ob.area))
        elif prev.outcome is None and (
            prev.area != ob.area or prev.offence_group is not ob.offence_group
        ):
            effects.append(
                ObligationRelabelled(
                    ob.rule_id, ob.offence_group, ob.area, prev.offence_group, prev.area
                )
            )
        newly_met = ob.outcome in (Outcome.ON_TIME, Outcome.CANCELLED) and (
            prev is None or prev.outcome is None or prev.outcome is Outcome.LATE
        )
        if newly_met:
            closed, more = _closing_effects(prev, ob, ctx)
            if closed is not ob:
                changed[oid] = closed
            effects.extend(more)
    if changed:
        after = after.with_obligations({**after.obligations, **changed})
    return after, effects


def _observations(case: CaseState, event: Envelope) -> list[Effect]:
    """Durations the dashboards plot; measured on the crime aggregate only, once per crime."""
    if case.kind is not CaseKind.CRIME:
        return []
    if isinstance(event, CrimeRecorded):
        d = event.data
        seconds = (d.recorded_at - d.reported_at).total_seconds()
        return [Observation("time_to_record", d.offence_group, d.area, seconds, seconds <= 86_400)]
    recorded = case.facts.get("recorded")
    if (
        isinstance(event, VictimCareReferral)
        and recorded
        and event.data.status is ReferralStatus.MADE
    ):
        seconds = (event.data.at - datetime.fromisoformat(recorded["reported_at"])).total_seconds()
        return [
            Observation(
                "time_to_referral",
                OffenceGroup(recorded["og"]),
                recorded["area"],
                seconds,
                seconds <= 86_400,
            )
        ]
    return []


def _changed_facts(before: Mapping[str, Any], after: Mapping[str, Any]) -> set[str]:
    """Top-level facts whose value is not the very same object as before.

    Absorbing copies only what an event changes, so an identity check finds exactly the facts
    the event touched (or errs towards "changed" when an absorber rebuilt an equal value).
    """
    changed: set[str] = set()
    kept = 0
    for name, value in after.items():
        prior = before.get(name, _MISSING)
        if prior is not value:
            changed.add(name)
        if prior is not _MISSING:
            kept += 1
    if kept < len(before):  # a fact was dropped
        changed.update(name for name in before if name not in after)
    return changed


def apply(
    case: CaseState | None,
    kind: CaseKind,
    key: str,
    event: Envelope,
    ctx: RuleContext,
    families: Sequence[RuleFamily],
) -> Step:
    """An event reaches one case: absorb its facts, let each family reconcile, diff.

    A duplicate (same source and id as an event the case has seen) changes nothing. A family
    that declares the facts it `reads` is reconciled only when the event changed one of them:
    its facts and its obligations are then as it left them, and it is idempotent, so running it
    would change nothing. An obligation retention has purged stays purged (`CaseState.purged`
    is its tombstone), so whether a family runs never decides whether it comes back.
    """
    if case is None:
        case = CaseState(kind, key)
    dedup = event.dedup_key
    if dedup in case.seen:
        return _step(case, ())
    before = case
    facts = absorbed_facts(case, event)
    changed = _changed_facts(case.facts, facts) if facts is not case.facts else set()
    after = make_case(kind, key, facts, case.obligations, (*case.seen, dedup), case.purged)
    for family in families:
        if kind in family.kinds and (family.reads is None or not changed.isdisjoint(family.reads)):
            after = family.reconcile(after, ctx)
    if after.obligations is before.obligations:
        effects: list[Effect] = []  # no family changed anything
    else:
        after, effects = _diff(before, after, ctx)
    effects.extend(_observations(after, event))
    return _step(after, tuple(effects))


# --- advancing the clock --------------------------------------------------------------------


def _expire(ob: Obligation, at: datetime) -> tuple[Obligation, list[Effect]]:
    """Close an obligation the guardrail gave up on, at the instant it became too old."""
    expired = ob.closed(Outcome.EXPIRED, at, ob.considered_event_ids)
    effects: list[Effect] = list(_closed_items(expired)) if expired.has_work_item else []
    effects.append(_closed_metric(expired))
    return expired, effects


def _announce_due(
    ob: Obligation,
    clock: Clock,
    ctx: RuleContext,
    stale_sources: frozenset[str],
    *,
    until: datetime | None = None,
) -> tuple[Obligation, list[Effect]]:
    """Announce the stages of one open or pending-late obligation that the clock has passed
    (and, with `until`, that fell due no later than that: an obligation expiring then)."""
    effects: list[Effect] = []
    now = clock.now
    pending = ob.pending_late
    # A late-satisfied obligation still announces the stages the clock passes before the
    # satisfying event's time; a satisfied one is no longer held undecided.
    cutoff = min(now, ob.closed_at) if pending and ob.closed_at is not None else now
    if until is not None and until < cutoff:
        cutoff = until
    emitted = list(ob.emitted)
    undecided = ob.undecided
    for stage, at in zip(ob.stages, ob.stage_at, strict=True):
        if stage in emitted or at > cutoff:
            continue
        if not pending and stage is not Stage.DUE_SOON and ob.source in stale_sources:
            undecided = True
            break
        alert = build_alert(ob, stage, ctx, now, clock.kind)
        effects.append(alert)
        effects.extend(work_items(alert, at))
        emitted.append(stage)
        undecided = False
    updated = ob
    if len(emitted) != len(ob.emitted) or undecided != ob.undecided:
        updated = ob.announced(tuple(emitted), undecided)
    if pending and ob.closed_at is not None and ob.closed_at <= now:
        updated, more = _finalise_late(updated, ctx)
        effects.extend(more)
    return updated, effects


def advance(
    case: CaseState,
    clock: Clock,
    ctx: RuleContext,
    *,
    stale_sources: frozenset[str] = frozenset(),
    retention: timedelta = DEFAULT_RETENTION,
    max_age: timedelta | None = None,
    aged_at: datetime | None = None,
) -> Step:
    """The clock reaches a case: announce every stage now due, purge what retention allows.

    A breach whose satisfying source is silent (`stale_sources`) is held as undecided rather
    than announced; it is announced once the source speaks again and nothing satisfied it.

    `max_age` is the guardrail that bounds state: an obligation still open that long after its
    clock started is closed as expired (counted, and its work item closed), never kept forever.
    Its age is judged at `aged_at` (default: the clock; never later than it), and it expires at
    the instant it became too old, clock start + `max_age`, whenever that is noticed. A live
    worker judges age on its partition's event-time horizon, so history fed in long after it
    happened expires on its own times, at the same instant and after the same stages as replay.
    """
    effects: list[Effect] = []
    obligations = dict(case.obligations)
    now = clock.now
    aged = now if aged_at is None or aged_at > now else aged_at
    purged: list[str] = []
    changed = False
    for oid, ob in case.obligations.items():
        if ob.is_open and max_age is not None and ob.clock_start + max_age <= aged:
            # Stages that fell due by the expiry instant are announced first, then it expires.
            expiry = ob.clock_start + max_age
            updated, more = _announce_due(ob, clock, ctx, stale_sources, until=expiry)
            updated, expired = _expire(updated, expiry)
            more.extend(expired)
        elif ob.is_open or ob.pending_late:
            updated, more = _announce_due(ob, clock, ctx, stale_sources)
        else:
            if ob.closed_at is not None and ob.closed_at + retention <= now:
                del obligations[oid]
                purged.append(oid)
            continue
        if updated is not ob:
            obligations[oid] = updated
            changed = True
        effects.extend(more)
    if not obligations:
        last = case.facts.get("last_event_at")
        if last is None or datetime.fromisoformat(last) + retention <= now:
            return _step(None, tuple(effects))
    if purged:
        tombstone = tuple(sorted((*case.purged, *purged)))
        case = make_case(case.kind, case.key, case.facts, obligations, case.seen, tombstone)
    elif changed:
        case = case.with_obligations(obligations)
    return _step(case, tuple(effects))


def next_due(
    case: CaseState,
    *,
    stale_sources: frozenset[str] = frozenset(),
    retention: timedelta = DEFAULT_RETENTION,
    max_age: timedelta | None = None,
) -> datetime | None:
    """When `advance` next has something to do for this case (None: nothing, ever)."""
    times: list[datetime] = []
    for ob in case.obligations.values():
        outcome = ob.outcome
        closed_at = ob.closed_at
        if outcome is not None:
            if closed_at is None:
                continue
            if outcome is Outcome.LATE and Stage.RESOLVED_LATE not in ob.emitted:  # pending
                nxt = ob.next_stage()
                times.append(min(nxt[1], closed_at) if nxt else closed_at)
            else:
                times.append(closed_at + retention)
            continue
        if max_age is not None:
            times.append(ob.clock_start + max_age)
        nxt = ob.next_stage()
        if nxt is None:
            continue
        stage, at = nxt
        if ob.undecided and stage is not Stage.DUE_SOON and ob.source in stale_sources:
            continue  # rescheduled by a full index rebuild when the source speaks again
        times.append(at)
    if not case.obligations:
        last = case.facts.get("last_event_at")
        if last is not None:
            times.append(datetime.fromisoformat(last) + retention)
    return min(times) if times else None


DUE_HINT_VERSION = 1
"""Version of `due_hint`'s layout; a hint of another version is ignored (the case is decoded)."""


def due_hint(case: CaseState) -> dict[str, Any]:
    """What `next_due` and a live worker's tallies need from `case`, in a few JSON fields.

    A live worker rebuilds its due index from every case in its table after a restart; decoding
    a whole case (JSON, then `CaseState.from_dict`) for each of a million took over a minute,
    during which nothing was announced. The table stores this hint beside the case instead, and
    `next_due_from_hint` gives exactly `next_due(case, ...)` from it for any stale sources,
    retention and max age: each term that depends on them is kept as its base time (`retention`
    and `max_age` are added uniformly, so the minimum of the base times plus either is the
    minimum of the terms), the undecided breaches by their source. Also kept: the case's latest
    event time (the partition's horizon) and its open obligations by rule and open work items by
    queue (the gauges).
    """
    stages: list[datetime] = []
    held: dict[str, datetime] = {}
    starts: list[datetime] = []
    closed: list[datetime] = []
    open_by_rule: dict[str, int] = {}
    items: dict[str, int] = {}
    for ob in case.obligations.values():
        outcome = ob.outcome
        closed_at = ob.closed_at
        if outcome is not None:
            if closed_at is None:
                continue
            if outcome is Outcome.LATE and Stage.RESOLVED_LATE not in ob.emitted:
                nxt = ob.next_stage()
                stages.append(min(nxt[1], closed_at) if nxt else closed_at)
            else:
                closed.append(closed_at)
            continue
        open_by_rule[ob.rule_id] = open_by_rule.get(ob.rule_id, 0) + 1
        if ob.has_work_item:
            for queue in (ob.queue, *ob.also_notify):
                items[queue.value] = items.get(queue.value, 0) + 1
        starts.append(ob.clock_start)
        nxt = ob.next_stage()
        if nxt is None:
            continue
        stage, at = nxt
        if ob.undecided and stage is not Stage.DUE_SOON:
            known = held.get(ob.source)
            held[ob.source] = at if known is None or at < known else known
        else:
            stages.append(at)
    last = case.facts.get("last_event_at")
    return {
        "v": DUE_HINT_VERSION,
        "at": _iso_min(stages),
        "held": {source: at.isoformat() for source, at in sorted(held.items())},
        "start": _iso_min(starts),
        "closed": _iso_min(closed),
        "idle": None if case.obligations else last,
        "last": last,
        "open": open_by_rule,
        "items": items,
    }


def _iso_min(times: list[datetime]) -> str | None:
    return min(times).isoformat() if times else None


def next_due_from_hint(
    hint: Mapping[str, Any],
    *,
    stale_sources: frozenset[str] = frozenset(),
    retention: timedelta = DEFAULT_RETENTION,
    max_age: timedelta | None = None,
) -> datetime | None:
    """`next_due` of the case `hint` was made from (`due_hint`), with the same parameters."""
    parse = datetime.fromisoformat
    times: list[datetime] = []
    if hint["at"] is not None:
        times.append(parse(hint["at"]))
    times.extend(parse(at) for source, at in hint["held"].items() if source not in stale_sources)
    if max_age is not None and hint["start"] is not None:
        times.append(parse(hint["start"]) + max_age)
    for base in (hint["closed"], hint["idle"]):
        if base is not None:
            times.append(parse(base) + retention)
    return min(times) if times else None


# --- source freshness -----------------------------------------------------------------------


@dataclass(slots=True)
class SourceMonitor:
    """Tracks when each input source last spoke and announces silences (rules file §2).

    A silent source raises one data-completeness alert (stage `undecided`: the breaches that
    depend on it are held undecided) and, when it speaks again, the same item is resolved.

    A source in `expected` that has not spoken yet counts as heard at `started` (None: the first
    clock `check` is given), so a feed that is down when monitoring starts and never speaks is
    silent once the limit has passed since then, like one that stops; without that it was never
    judged at all. A monitor without `expected` judges only the sources it has heard.
    """

    limit: timedelta
    expected: frozenset[str] = frozenset()
    started: datetime | None = None
    last_seen: dict[str, datetime] = field(default_factory=dict)
    silent_since: dict[str, datetime] = field(default_factory=dict)

    @property
    def stale(self) -> frozenset[str]:
        """Sources currently considered silent."""
        return frozenset(self.silent_since)

    def _alert(
        self,
        source: str,
        stage: Stage,
        ctx: RuleContext,
        clock: datetime,
        kind: ClockKind,
        since: datetime,
    ) -> AlertEvent:
        subject = f"{source}@{since.isoformat()}"
        deadline = since
        late = _minutes(clock - deadline) if stage is Stage.RESOLVED_LATE else None
        return AlertEvent(
            alert_id=derive_id("source", DATA_COMPLETENESS, subject, stage.value),
            obligation_id=derive_id(DATA_COMPLETENESS, subject),
            rule_id=DATA_COMPLETENESS,
            ruleset_id="source",
            stage=stage,
            severity=Severity.S2,
            queue=Queue.DATA_QUALITY,
            force_code=ctx.force_code,
            subject=SubjectRefs(source_topic=source),
            reason_code="source_silent",
            deadline=deadline,
            minutes_late=late,
            evidence=Evidence(
                trigger_event_ids=[],
                clock_start=since - self.limit,
                deadline_basis=f"staleness_seconds:{int(self.limit.total_seconds())}",
                clock=clock,
                clock_kind=kind,
            ),
        )

    def observe(self, source: str, at: datetime, ctx: RuleContext, kind: ClockKind) -> list[Effect]:
        """A source spoke at `at`; ends its silence (resolving the item) if it was silent."""
        previous = self.last_seen.get(source)
        if previous is None or at > previous:
            self.last_seen[source] = at
        since = self.silent_since.pop(source, None)
        if since is None:
            return []
        alert = self._alert(source, Stage.RESOLVED_LATE, ctx, at, kind, since)
        return [alert, WorkItemClosed(Queue.DATA_QUALITY, alert.obligation_id)]

    def check(self, clock: Clock, ctx: RuleContext) -> list[Effect]:
        """Announce each source that has been silent longer than the limit as of `clock`."""
        if self.started is None:
            self.started = clock.now
        started = self.started
        effects: list[Effect] = []
        for source in sorted(self.last_seen.keys() | self.expected):
            last = self.last_seen.get(source, started)
            if source in self.silent_since or clock.now - last <= self.limit:
                continue
            since = last + self.limit
            self.silent_since[source] = since
            alert = self._alert(source, Stage.UNDECIDED, ctx, clock.now, clock.kind, since)
            effects.append(alert)
            effects.extend(work_items(alert, since))
        return effects


# --- the in-memory engine (replay, tests) ---------------------------------------------------


class Engine:
    """Cases in memory with a due-deadline index; the replay mode and the tests run this.

    `cases` holds the `hot_cases` most recently inserted cases as objects and packs older ones
    into bytes (`streams.rules.store.CaseStore`; None: never pack). Packing changes no decision,
    only memory (about 2.5 KB an unpacked case, a few hundred bytes a packed one) and the cost
    of touching a packed case again (tens of microseconds to unpack and later repack it).

    `staleness` judges source silence on the clock it is given (event time here); sources in
    `expected_sources` count as heard at the first `advance` until they speak (`SourceMonitor`).
    The audit replay passes neither: a history is not a feed (docs/audit-mode.md).
    """

    def __init__(
        self,
        families: Sequence[RuleFamily],
        ctx: RuleContext | None = None,
        *,
        retention: timedelta = DEFAULT_RETENTION,
        staleness: timedelta | None = None,
        expected_sources: Iterable[str] = (),
        max_age: timedelta | None = None,
        hot_cases: int | None = DEFAULT_HOT_CASES,
    ) -> None:
        self.families = tuple(families)
        self.ctx = ctx or RuleContext()
        self.retention = retention
        self.max_age = max_age
        self.hot_cases = hot_cases
        self.cases: MutableMapping[CaseKey, CaseState] = CaseStore(hot_cases)
        self.index: DueIndex[CaseKey] = DueIndex()
        self.sources = (
            SourceMonitor(staleness, frozenset(expected_sources)) if staleness is not None else None
        )

    def _store(self, key: CaseKey, case: CaseState | None) -> None:
        if case is None:
            if key in self.cases:
                del self.cases[key]  # (`pop` would unpack a packed case only to drop it)
            self.index.schedule(key, None)
            return
        self.cases[key] = case
        stale = self.sources.stale if self.sources else frozenset()
        self.index.schedule(
            key, next_due(case, stale_sources=stale, retention=self.retention, max_age=self.max_age)
        )

    def process(
        self, event: Envelope, clock_kind: ClockKind = ClockKind.EVENT_TIME_WATERMARK
    ) -> list[Effect]:
        """Apply one event to every case it routes to."""
        effects: list[Effect] = []
        if self.sources is not None:
            spec = TOPIC_OF_TYPE.get(event.type)
            if spec is not None:
                was_stale = spec.name in self.sources.stale
                effects.extend(self.sources.observe(spec.name, event.time, self.ctx, clock_kind))
                if was_stale:
                    self.rebuild_index()
        for kind, key in route(event):
            case_key = (kind, key)
            case = self.cases.get(case_key)
            step = apply(case, kind, key, event, self.ctx, self.families)
            after = step.case
            if (
                self.sources is None
                and case is not None
                and after is not None
                and after.obligations is case.obligations
                and after.obligations
            ):
                # Nothing owed changed, so nothing `next_due` looks at changed either: with
                # obligations present it ignores the facts, and without a source monitor the
                # set of silent sources is always empty.
                self.cases[case_key] = after
            else:
                self._store(case_key, after)
            effects.extend(step.effects)
        return effects

    def advance(self, clock: Clock) -> list[Effect]:
        """Announce everything due at `clock.now`; O(log n) per due case."""
        if self.sources is None:
            due = self.index.next_due()
            if due is None or due > clock.now:
                return []
        effects: list[Effect] = []
        stale: frozenset[str] = frozenset()
        if self.sources is not None:
            effects.extend(self.sources.check(clock, self.ctx))
            stale = self.sources.stale
        for key in self.index.pop_due(clock.now):
            case = self.cases.get(key)
            if case is None:
                continue
            step = advance(
                case,
                clock,
                self.ctx,
                stale_sources=stale,
                retention=self.retention,
                max_age=self.max_age,
            )
            self._store(key, step.case)
            effects.extend(step.effects)
        return effects

    def rebuild_index(self) -> None:
        """Recompute every case's next due time (after restore, or when a source resumes)."""
        stale = self.sources.stale if self.sources else frozenset()
        self.index.rebuild(
            (
                key,
                next_due(case, stale_sources=stale, retention=self.retention, max_age=self.max_age),
            )
            for key, case in self.cases.items()
        )

    def open_obligations(self) -> Iterable[Obligation]:
        """Every open obligation (for reports and the guardrails)."""
        for case in self.cases.values():
            yield from (ob for ob in case.obligations.values() if ob.is_open)

    def snapshot(self) -> list[dict[str, object]]:
        """Every case as plain dicts (what the faust tables hold)."""
        return [case.to_dict() for case in self.cases.values()]

    def restore(self, cases: Iterable[dict[str, object]]) -> None:
        """Replace the state from a snapshot and rebuild the index from it."""
        self.cases = CaseStore(self.hot_cases)
        for raw in cases:
            case = CaseState.from_dict(raw)
            self.cases[(case.kind, case.key)] = case
        self.rebuild_index()
