"""Victim-care rules: every victim of a recorded crime is referred for support and told in writing.

Regulation: the Code of Practice for Victims of Crime (Victims' Code) 2015 and 2020. Para 4.5
(2020): the police refer the victim to victim support services within 2 working days of the
victim reporting the crime, automatically unless the victim declines, and only with the victim's
explicit consent first for victims of sexual offences and domestic abuse and for bereaved
relatives. Para 3.6 (2020): the victim receives written confirmation of the crime report with its
crime reference. HMIC's Cheshire Crime Data Integrity report (2017) found that delays in recording
"also delay the referral of the victim to the victim support team (Cheshire Cares)".

Rules (parameters in `streams.rules.ruleset`, chosen by the event time of the report):

- CARE-REFERRAL, one per crime with a person victim; clock from the receipt of the report
  (`reported_at`, not `recorded_at`); 2 working days (Europe/London, England and Wales bank
  holidays). Satisfied by a referral with status made, declined, consent refused, self-referred
  or not eligible. A consent request alone never satisfies it: for the explicit-consent groups it
  is the normal first step, but the duty is discharged only once the victim has answered (made
  or consent refused). Cause RECORDING_DELAY when the crime itself was recorded after the
  referral deadline (the referral could not be made in time), else REFERRAL_DELAY. Victim-care
  queue; S2 for enhanced entitlement, else S3.
- CRIME-CONFIRMATION, one per crime with a person victim; clock from receipt; 5 working days, 1
  for enhanced entitlement. Satisfied by a `victim.notified` of type crime recorded, delivered or
  opted out, or unsafe to contact with a rationale. Victim-care queue, S3.

Organisation victims are outside the Victims' Code and are owed neither.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from schemas.codes import (
    Cause,
    NotificationOutcome,
    NotificationType,
    OffenceGroup,
    Queue,
    ReferralStatus,
    Severity,
    VictimType,
)
from streams.rules.duties import (
    RuleContext,
    close_obligation,
    find,
    may_open,
    open_obligation,
    update_open,
)
from streams.rules.family import RuleFamily
from streams.rules.model import CaseKind, CaseState, Refs
from streams.topics import VICTIM_CONTACT

CARE_REFERRAL = "CARE-REFERRAL"
CRIME_CONFIRMATION = "CRIME-CONFIRMATION"

REFERRAL_DONE = frozenset(
    {
        ReferralStatus.MADE,
        ReferralStatus.DECLINED,
        ReferralStatus.CONSENT_REFUSED,
        ReferralStatus.SELF_REFERRED,
        ReferralStatus.NOT_ELIGIBLE,
    }
)
"""Referral statuses that discharge CARE-REFERRAL; `consent_requested` is still pending."""

CONFIRMED_OUTCOMES = frozenset({NotificationOutcome.DELIVERED, NotificationOutcome.OPTED_OUT})
"""Outcomes that discharge CRIME-CONFIRMATION; unsafe-to-contact does only with a rationale."""


def ts(value: str) -> datetime:
    """A fact timestamp (ISO string) as a datetime."""
    return datetime.fromisoformat(value)


def is_enhanced(recorded: Mapping[str, Any]) -> bool:
    """Enhanced entitlement (Victims' Code): a code on the record, domestic abuse or a child."""
    flags = recorded.get("flags", {})
    return bool(recorded.get("enhanced")) or bool(
        flags.get("domestic_abuse") or flags.get("child_victim")
    )


def _confirms(notification: Mapping[str, Any]) -> bool:
    # The codes are StrEnums, so a fact's stored value compares equal to its member.
    if notification["type"] != NotificationType.CRIME_RECORDED:
        return False
    outcome = notification["outcome"]
    if outcome == NotificationOutcome.UNSAFE_TO_CONTACT:
        return bool(notification["rationale"])
    return outcome in CONFIRMED_OUTCOMES


def _referral(case: CaseState, ctx: RuleContext, recorded: Mapping[str, Any]) -> CaseState:
    facts = case.facts
    if may_open(case, CARE_REFERRAL, case.key):
        enhanced = is_enhanced(recorded)
        case = open_obligation(
            case,
            ctx,
            rule_id=CARE_REFERRAL,
            subject=case.key,
            refs=Refs(incident_ref=facts.get("incident_ref"), crime_ref=case.key),
            clock_start=ts(recorded["reported_at"]),
            severity=Severity.S2 if enhanced else Severity.S3,
            queue=Queue.VICTIM_CARE,
            source=VICTIM_CONTACT.name,
            reason_code="victim_not_referred_within_limit",
            trigger_event_ids=(recorded["event"],),
            offence_group=OffenceGroup(recorded["og"]),
            area=recorded.get("area"),
            enhanced=enhanced,
        )
    ob = find(case, CARE_REFERRAL, case.key)
    if ob is not None and ob.outcome is None:
        # Known from the facts at once, so set before any alert is built: a crime recorded after
        # the referral deadline made a timely referral impossible.
        late_record = ts(recorded["recorded_at"]) > ob.deadline
        cause = Cause.RECORDING_DELAY if late_record else Cause.REFERRAL_DELAY
        if ob.cause != cause:
            case = update_open(case, CARE_REFERRAL, case.key, cause=cause)
    done = min(
        (
            (ts(r["at"]), r["event"])
            for r in facts.get("referrals", ())
            if r["status"] in REFERRAL_DONE
        ),
        default=None,
    )
    if done is not None:
        case = close_obligation(case, CARE_REFERRAL, case.key, at=done[0], event_ids=(done[1],))
    return case


def _confirmation(case: CaseState, ctx: RuleContext, recorded: Mapping[str, Any]) -> CaseState:
    facts = case.facts
    if may_open(case, CRIME_CONFIRMATION, case.key):
        case = open_obligation(
            case,
            ctx,
            rule_id=CRIME_CONFIRMATION,
            subject=case.key,
            refs=Refs(incident_ref=facts.get("incident_ref"), crime_ref=case.key),
            clock_start=ts(recorded["reported_at"]),
            severity=Severity.S3,
            queue=Queue.VICTIM_CARE,
            source=VICTIM_CONTACT.name,
            reason_code="crime_not_confirmed_to_victim",
            trigger_event_ids=(recorded["event"],),
            offence_group=OffenceGroup(recorded["og"]),
            area=recorded.get("area"),
            enhanced=is_enhanced(recorded),
        )
    done = min(
        ((ts(n["at"]), n["event"]) for n in facts.get("notifications", ()) if _confirms(n)),
        default=None,
    )
    if done is not None:
        case = close_obligation(
            case, CRIME_CONFIRMATION, case.key, at=done[0], event_ids=(done[1],)
        )
    return case


def reconcile(case: CaseState, ctx: RuleContext) -> CaseState:
    """Open both duties once a crime with a person victim is recorded; close them when met."""
    recorded = case.facts.get("recorded")
    if not recorded or recorded["victim_type"] != VictimType.PERSON.value:
        return case
    case = _referral(case, ctx, recorded)
    return _confirmation(case, ctx, recorded)


FAMILY = RuleFamily(
    name="victim-care",
    rule_ids=(CARE_REFERRAL, CRIME_CONFIRMATION),
    kinds=frozenset({CaseKind.CRIME}),
    reconcile=reconcile,
    citation=(
        "Victims' Code 2015 and 2020: para 4.5 referral within 2 working days of reporting "
        "(explicit consent first for sexual offences, domestic abuse, bereaved); para 3.6 "
        "written confirmation; HMIC Cheshire 2017: recording delays delay Cheshire Cares referrals"
    ),
    reads=frozenset({"recorded", "incident_ref", "referrals", "notifications"}),
)
