"""Opening and closing obligations: the small vocabulary every rule family is written in.

Families never build an `Obligation` by hand: `open_obligation` picks the ruleset by the event
time of the trigger, computes the deadline and stage times, and is idempotent (opening the same
rule for the same subject again changes nothing), which is what makes re-delivered events and
either-order arrival harmless.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from schemas.codes import Cause, OffenceGroup, Queue, Severity, Stage
from streams.rules.model import (
    CaseState,
    Obligation,
    Outcome,
    Refs,
    derive_id,
    make_obligation,
    shared_stages,
)
from streams.rules.ruleset import IMMEDIATE, RulesetCatalogue


@dataclass(frozen=True, slots=True)
class RuleContext:
    """What rule code may know besides the case: the rulesets and the force it runs for."""

    catalogue: RulesetCatalogue = field(default_factory=RulesetCatalogue)
    force_code: str = "CHE"


def obligation_id(rule_id: str, subject: str) -> str:
    """The obligation's stable id (and its work item's id)."""
    return derive_id(rule_id, subject)


def find(case: CaseState, rule_id: str, subject: str) -> Obligation | None:
    """The obligation of `rule_id` about `subject`, open or closed, if any."""
    return case.obligations.get(derive_id(rule_id, subject))


def may_open(case: CaseState, rule_id: str, subject: str, *, revise: bool = False) -> bool:
    """Whether `open_obligation` with these arguments could change the case.

    False exactly when the obligation exists and may not be revised (see `open_obligation`), so
    rule code can skip working out the arguments of an opening that would do nothing.
    """
    oid = derive_id(rule_id, subject)
    existing = case.obligations.get(oid)
    if existing is None:
        return oid not in case.purged
    return revise and existing.outcome is None and not existing.emitted


def open_obligation(
    case: CaseState,
    ctx: RuleContext,
    *,
    rule_id: str,
    subject: str,
    refs: Refs,
    clock_start: datetime,
    severity: Severity,
    queue: Queue,
    source: str,
    reason_code: str,
    trigger_event_ids: tuple[str, ...],
    offence_group: OffenceGroup | None = None,
    area: str | None = None,
    also_notify: tuple[Queue, ...] = (),
    enhanced: bool = False,
    cause: Cause | None = None,
    immediate: bool = False,
    revise: bool = False,
) -> CaseState:
    """Open an obligation unless it exists already or its rule was not in force then.

    `source` is the logical input (see `streams.rules.sources`) whose silence would make a
    breach of this obligation undecided: the source of the events that would satisfy it.

    `immediate` makes this duty a check at once (deadline = clock start, no other stage) even
    when the rule's own deadline is longer, for a rule with an immediate sub-check (a high-risk
    assessment without a MARAC referral under DA-SAFEGUARDING).

    `revise` lets facts that arrive later (a crime record after its cancellation) correct an
    open obligation's clock, deadline, severity or area, but only while none of its stages has
    been announced: an alert once sent is never contradicted. Without it the first opening wins.

    An obligation retention has purged (`CaseState.purged`) is never opened again: it was
    decided, counted and announced once already.
    """
    oid = derive_id(rule_id, subject)
    existing = case.obligations.get(oid)
    if existing is None:
        if oid in case.purged:
            return case
    elif not (revise and existing.outcome is None and not existing.emitted):
        return case
    ruleset = ctx.catalogue.for_time(clock_start)
    params = ruleset.params.get(rule_id)
    if params is None:  # the rule was not in force then
        return case
    span = params.enhanced_deadline if enhanced and params.enhanced_deadline else params.deadline
    if immediate:
        span = IMMEDIATE
    deadline = span.after(clock_start)
    stages: list[Stage] = []
    stage_at: list[datetime] = []
    if params.due_soon is not None and not immediate:
        warn = params.due_soon.after(clock_start)
        if warn < deadline:
            stages.append(Stage.DUE_SOON)
            stage_at.append(warn)
    stages.append(Stage.BREACHED)
    stage_at.append(deadline)
    if params.escalate is not None and not immediate:
        escalate = params.escalate.after(clock_start)
        if escalate > deadline:
            stages.append(Stage.ESCALATED)
            stage_at.append(escalate)
    obligation = make_obligation(
        oid,
        rule_id,
        ruleset.ruleset_id,
        subject,
        refs,
        severity,
        queue,
        also_notify,
        offence_group,
        area,
        reason_code,
        source,
        clock_start,
        deadline,
        span.basis,
        span.calendar,
        shared_stages(tuple(stages)),
        tuple(stage_at),
        trigger_event_ids,
        cause,
        existing.considered_event_ids if existing is not None else (),
        (),  # emitted
        existing.undecided if existing is not None else False,
        None,  # outcome
        None,  # closed_at
    )
    if obligation == existing:
        return case
    return case.with_obligation(obligation)


def close_obligation(
    case: CaseState,
    rule_id: str,
    subject: str,
    *,
    at: datetime,
    event_ids: tuple[str, ...],
    cancelled: bool = False,
) -> CaseState:
    """Close an open obligation as satisfied at `at` (on time or late) or as cancelled.

    The obligation was met when its earliest satisfying event happened, whatever the order they
    arrive in: a satisfaction earlier than the recorded one re-times the closure (the engine
    then retracts what the later one announced) and replaces it as the evidence. Otherwise
    closing again changes nothing, and a cancellation never overrides a satisfaction or another
    cancellation. So every considered event happened at `closed_at`, which is what lets the
    engine leave them out of the evidence of a stage due before it.
    """
    current = find(case, rule_id, subject)
    if current is None:
        return case
    if not current.is_open and (
        cancelled
        or current.outcome is Outcome.CANCELLED
        or current.closed_at is None
        or at >= current.closed_at
    ):
        return case
    if cancelled:
        outcome = Outcome.CANCELLED
    else:
        outcome = Outcome.ON_TIME if at <= current.deadline else Outcome.LATE
    return case.with_obligation(current.closed(outcome, at, tuple(dict.fromkeys(event_ids))))


def update_open(
    case: CaseState, rule_id: str, subject: str, *, cause: Cause | None = None
) -> CaseState:
    """Change the cause of an open obligation (it may only become known later)."""
    current = find(case, rule_id, subject)
    if current is None or not current.is_open or current.cause == cause:
        return case
    return case.with_obligation(current.with_cause(cause))
