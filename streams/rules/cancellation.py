"""Cancellation rules: a crime is cancelled only with authority, and the victim is told.

Regulation: the Home Office Counting Rules (HOCR) cancellation classes C1 (transferred to another
force), C2 (additional verifiable information, AVI, shows no crime), C3 (duplicate or part of a
crime already recorded) and C4 (recorded in error). The Force Crime Registrar (FCR) alone cancels
a rape; a Designated Decision Maker (DDM) or the FCR cancels anything else. HMIC's Cheshire Crime
Data Integrity report (2017) found 17 of 20 rape, 17 of 20 sexual, 13 of 20 violence and 10 of 12
robbery cancellations correct, "a limited understanding of what amounts to AVI", and that "on
many occasions ... the victim had not been informed of the decision to cancel their reported
crime".

Rules (parameters in `streams.rules.ruleset`, chosen by the event time of the cancellation):

- CANCEL-AUTHORITY, one per cancellation (subject `{crime_ref}/{cancellation event id}`), checked
  at once (deadline = cancellation time). A cancellation is invalid when the decision maker is
  not authorised for the offence group of the cancellation (`unauthorised_decision_maker`), or a
  C2 has no AVI (`c2_without_avi`) or rests on something that is not AVI: opinion, the suspect's
  claim of consent or the victim's withdrawal alone (`c2_avi_not_verifiable`, `NOT_AVI`). The
  class itself is always one of C1-C4: the contract admits no other. Closed by the first FCR
  ratification or reinstatement at or after the cancellation. FCR queue; S1 for rape, else S2.
- CANCEL-NOTIFY, one per cancellation except a C3 whose surviving record stands [assumed]: the
  victim is told (`victim.notified` of type cancellation, or transfer for a C1; delivered, opted
  out, or unsafe to contact with a rationale) at or after the cancellation and within 5 working
  days, 1 working day for enhanced entitlement [assumed]. Not owed to an organisation victim;
  cancelled by a reinstatement that comes before any notification. Victim-care queue; S2 for
  rape, other sexual offences, domestic abuse or enhanced entitlement, else S3.

The offence group judged is the one the cancellation itself carries, so the decision does not
depend on whether the crime record or a reclassification arrived first. Facts from the crime record
(victim type, enhanced entitlement, area) revise an obligation only until a stage is announced.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from schemas.codes import (
    NOT_AVI,
    SEXUAL_GROUPS,
    ActorRole,
    AviType,
    CancellationClass,
    NotificationOutcome,
    NotificationType,
    OffenceGroup,
    Queue,
    Severity,
    VictimType,
)
from streams.rules.duties import RuleContext, close_obligation, may_open, open_obligation
from streams.rules.family import RuleFamily
from streams.rules.model import CaseKind, CaseState, Refs
from streams.topics import CRIME_RECORDS, VICTIM_CONTACT

CANCEL_AUTHORITY = "CANCEL-AUTHORITY"
CANCEL_NOTIFY = "CANCEL-NOTIFY"

RAPE_CANCELLERS = frozenset({ActorRole.FCR})
"""Only the Force Crime Registrar may cancel a rape (HOCR)."""
OTHER_CANCELLERS = frozenset({ActorRole.DDM, ActorRole.FCR})
"""A Designated Decision Maker or the FCR may cancel any other crime (HOCR)."""
RATIFIERS = frozenset({ActorRole.FCR})
"""A ratification closes an authority finding only when the FCR, the final arbiter, made it."""

TOLD_OUTCOMES = frozenset({NotificationOutcome.DELIVERED, NotificationOutcome.OPTED_OUT})
"""Outcomes that discharge a duty to tell the victim without more; unsafe-to-contact also does,
but only with a recorded rationale (an attempt that failed does not)."""

Satisfier = tuple[datetime, str]
"""(event time, event id) of a satisfying event: the earliest one closes an obligation."""


def ts(value: str) -> datetime:
    """A fact timestamp (ISO string) as a datetime."""
    return datetime.fromisoformat(value)


def cancellation_subject(crime_ref: str, cancellation: Mapping[str, Any]) -> str:
    """The subject of both cancellation rules: one per cancellation of a crime."""
    return f"{crime_ref}/{cancellation['event']}"


def authority_finding(cancellation: Mapping[str, Any]) -> str | None:
    """Why a cancellation is invalid (a reason code), or None when it is valid.

    The decision maker's authority is checked first: an unauthorised cancellation is wrong
    whatever its evidence.
    """
    group = OffenceGroup(cancellation["og"])
    allowed = RAPE_CANCELLERS if group is OffenceGroup.RAPE else OTHER_CANCELLERS
    if ActorRole(cancellation["role"]) not in allowed:
        return "unauthorised_decision_maker"
    if CancellationClass(cancellation["class"]) is CancellationClass.C2:
        if not cancellation["avi_present"] or AviType(cancellation["avi_type"]) is AviType.NONE:
            return "c2_without_avi"
        if AviType(cancellation["avi_type"]) in NOT_AVI:
            return "c2_avi_not_verifiable"
    return None


def _earliest(items: Iterable[Satisfier]) -> Satisfier | None:
    return min(items, default=None)


def _fixes(facts: Mapping[str, Any], since: datetime) -> Satisfier | None:
    """The first FCR ratification or reinstatement at or after a cancellation."""
    ratified = (
        (ts(r["at"]), r["event"])
        for r in facts.get("ratifications", [])
        if ActorRole(r["role"]) in RATIFIERS and ts(r["at"]) >= since
    )
    reinstated = (
        (ts(r["at"]), r["event"]) for r in facts.get("reinstatements", []) if ts(r["at"]) >= since
    )
    return _earliest((*ratified, *reinstated))


def _tells(notification: Mapping[str, Any], cancel_class: CancellationClass) -> bool:
    """Whether a notification discharges the duty to tell the victim of this cancellation."""
    kinds = {NotificationType.CANCELLATION}
    if cancel_class is CancellationClass.C1:
        kinds.add(NotificationType.TRANSFER)
    if NotificationType(notification["type"]) not in kinds:
        return False
    outcome = NotificationOutcome(notification["outcome"])
    if outcome is NotificationOutcome.UNSAFE_TO_CONTACT:
        return bool(notification["rationale"])
    return outcome in TOLD_OUTCOMES


def is_enhanced(facts: Mapping[str, Any]) -> bool:
    """Enhanced entitlement (Victims' Code): a code on the record, domestic abuse or a child."""
    recorded = facts.get("recorded") or {}
    flags = recorded.get("flags", {})
    return bool(recorded.get("enhanced")) or bool(
        flags.get("domestic_abuse") or flags.get("child_victim")
    )


def _notify_severity(facts: Mapping[str, Any], group: OffenceGroup) -> Severity:
    recorded = facts.get("recorded") or {}
    groups = {group, *([OffenceGroup(recorded["og"])] if recorded else [])}
    if groups & SEXUAL_GROUPS or is_enhanced(facts):
        return Severity.S2
    return Severity.S3


def _authority(case: CaseState, ctx: RuleContext, cancellation: Mapping[str, Any]) -> CaseState:
    reason = authority_finding(cancellation)
    if reason is None:
        return case
    facts = case.facts
    subject = cancellation_subject(case.key, cancellation)
    group = OffenceGroup(cancellation["og"])
    cancelled_at = ts(cancellation["at"])
    if may_open(case, CANCEL_AUTHORITY, subject, revise=True):
        case = open_obligation(
            case,
            ctx,
            rule_id=CANCEL_AUTHORITY,
            subject=subject,
            refs=Refs(incident_ref=facts.get("incident_ref"), crime_ref=case.key),
            clock_start=cancelled_at,
            severity=Severity.S1 if group is OffenceGroup.RAPE else Severity.S2,
            queue=Queue.FCR,
            source=CRIME_RECORDS.name,
            reason_code=reason,
            trigger_event_ids=(cancellation["event"],),
            offence_group=group,
            area=facts.get("area"),
            revise=True,
        )
    fix = _fixes(facts, cancelled_at)
    if fix is not None:
        case = close_obligation(case, CANCEL_AUTHORITY, subject, at=fix[0], event_ids=(fix[1],))
    return case


def _notify(case: CaseState, ctx: RuleContext, cancellation: Mapping[str, Any]) -> CaseState:
    cancel_class = CancellationClass(cancellation["class"])
    if cancel_class is CancellationClass.C3 and cancellation.get("surviving"):
        return case
    facts = case.facts
    subject = cancellation_subject(case.key, cancellation)
    recorded = facts.get("recorded") or {}
    cancelled_at = ts(cancellation["at"])
    if recorded.get("victim_type") == VictimType.ORGANISATION.value:
        # Known only once the crime record arrives, which may be after the cancellation.
        at = max(cancelled_at, ts(recorded["recorded_at"]))
        return close_obligation(
            case, CANCEL_NOTIFY, subject, at=at, event_ids=(recorded["event"],), cancelled=True
        )
    if may_open(case, CANCEL_NOTIFY, subject, revise=True):
        case = open_obligation(
            case,
            ctx,
            rule_id=CANCEL_NOTIFY,
            subject=subject,
            refs=Refs(incident_ref=facts.get("incident_ref"), crime_ref=case.key),
            clock_start=cancelled_at,
            severity=_notify_severity(facts, OffenceGroup(cancellation["og"])),
            queue=Queue.VICTIM_CARE,
            source=VICTIM_CONTACT.name,
            reason_code="victim_not_told_of_cancellation",
            trigger_event_ids=(cancellation["event"],),
            offence_group=OffenceGroup(cancellation["og"]),
            area=facts.get("area"),
            enhanced=is_enhanced(facts),
            revise=True,
        )
    told = _earliest(
        (ts(n["at"]), n["event"])
        for n in facts.get("notifications", [])
        if ts(n["at"]) >= cancelled_at and _tells(n, cancel_class)
    )
    reinstated = _earliest(
        (ts(r["at"]), r["event"])
        for r in facts.get("reinstatements", [])
        if ts(r["at"]) >= cancelled_at
    )
    if told is not None and (reinstated is None or told <= reinstated):
        return close_obligation(case, CANCEL_NOTIFY, subject, at=told[0], event_ids=(told[1],))
    if reinstated is not None:
        return close_obligation(
            case,
            CANCEL_NOTIFY,
            subject,
            at=reinstated[0],
            event_ids=(reinstated[1],),
            cancelled=True,
        )
    return case


def reconcile(case: CaseState, ctx: RuleContext) -> CaseState:
    """Check each cancellation's authority and whether its victim has been told."""
    for cancellation in case.facts.get("cancellations", []):
        case = _authority(case, ctx, cancellation)
        case = _notify(case, ctx, cancellation)
    return case


FAMILY = RuleFamily(
    name="cancellation",
    rule_ids=(CANCEL_AUTHORITY, CANCEL_NOTIFY),
    kinds=frozenset({CaseKind.CRIME}),
    reconcile=reconcile,
    citation=(
        "HOCR cancellation classes C1-C4 and decision makers (FCR for rape, DDM otherwise); "
        "HMIC Cheshire Crime Data Integrity 2017: cancellations correct 17/20 rape, 17/20 "
        "sexual, 13/20 violence, 10/12 robbery; victims often not told"
    ),
    reads=frozenset(
        {
            "cancellations",
            "incident_ref",
            "area",
            "ratifications",
            "reinstatements",
            "recorded",
            "notifications",
        }
    ),
)
