"""Recording rules: every crime disclosed is recorded in time, once per victim, or reviewed.

Regulation: the Home Office Counting Rules for Recorded Crime (HOCR) and the National Crime
Recording Standard (NCRS): a crime is recorded at the first point of report and in any event
within 24 hours of receipt of the report (72 hours before April 2015); one crime is recorded per
victim (and, for rape before the May 2024 change, one per offender). HMIC's Cheshire Crime Data
Integrity report (2017) found "incident records that contain multiple reports often result in only
one crime report being recorded", and expected incident sergeants to scrutinise domestic-abuse,
sexual and anti-social-behaviour incidents closed without a crime.

Rules (parameters in `streams.rules.ruleset`, chosen by the event time of the trigger):

- REC-24H, one per disclosure, clock from the receipt of the report (`reported.at`, which is the
  initial disclosures' `at`) or from a further disclosure's own `disclosed_at`; deadline 24 h
  (72 h in hocr-2014), due_soon 16 h and escalate 48 h [assumed]. Satisfied by a linked crime
  record (its `disclosure_ids` name the disclosure, or it names none and its victim is one of the
  disclosure's victims), by an N100 for a rape disclosure, or by the incident closed as a
  crime-related incident with a rationale and a supervisor's review. Severity S1 for rape or a
  child victim, S2 for violence, other sexual offences, domestic abuse or enhanced entitlement,
  else S3; OMU queue, the control room also told of S1/S2.
- MULTI-CRIME, for a disclosure needing more than one crime: one per victim, or for rape with
  several offenders (while the ruleset's `rape_one_crime_per_offender` holds) one per offender
  when that is more; same clock and deadline basis as REC-24H; OMU queue.
- CLOSE-REVIEW, an incident closed in a domestic-abuse, sexual or ASB category (or flagged DA or
  sexual) with no linked crime or N100 needs a supervisor's crime-recording review within 24 h
  [assumed] of the closure; control-room queue, S2; cancelled if a crime or N100 is linked later.

Every satisfaction is timed by its own event time (a crime's `recorded_at`), never by arrival,
so a late-arriving record that was made in time retracts a breach already announced.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from schemas.codes import (
    ClosureOutcome,
    IncidentCategory,
    OffenceGroup,
    Queue,
    ReviewType,
    Severity,
)
from streams.rules.duties import RuleContext, close_obligation, may_open, open_obligation
from streams.rules.family import RuleFamily
from streams.rules.model import CaseKind, CaseState, Refs
from streams.topics import CRIME_RECORDS, INCIDENTS

REC_24H = "REC-24H"
MULTI_CRIME = "MULTI-CRIME"
CLOSE_REVIEW = "CLOSE-REVIEW"

REVIEW_CATEGORIES = frozenset(
    {IncidentCategory.DOMESTIC_ABUSE, IncidentCategory.SEXUAL, IncidentCategory.ASB}
)
_S2_GROUPS = frozenset({OffenceGroup.VIOLENCE, OffenceGroup.OTHER_SEXUAL})

Satisfier = tuple[datetime, str]
"""(event time of the satisfaction, event id): the earliest one closes an obligation."""


def ts(value: str) -> datetime:
    """A fact timestamp (ISO string) as a datetime."""
    return datetime.fromisoformat(value)


def disclosure_subject(incident_ref: str, disclosure_id: str) -> str:
    """The subject of a per-disclosure obligation: unique within the force."""
    return f"{incident_ref}/{disclosure_id}"


def crime_links(crime: Mapping[str, Any], disclosure_id: str, disc: Mapping[str, Any]) -> bool:
    """Whether a crime on the incident is linked to a disclosure.

    A crime that names disclosure ids is linked to those only; one that names none is linked to
    every disclosure of the same incident that lists its victim (one crime per victim).
    """
    dids: list[str] = crime.get("dids") or []
    if dids:
        return disclosure_id in dids
    victim = crime.get("victim")
    return victim is not None and victim in disc.get("victims", [])


def linked_crimes(
    facts: Mapping[str, Any], disclosure_id: str, disc: Mapping[str, Any]
) -> list[tuple[str, Mapping[str, Any]]]:
    """(crime_ref, crime facts) of the incident's crimes linked to one disclosure, sorted."""
    crimes: Mapping[str, Mapping[str, Any]] = facts.get("crimes", {})
    return sorted(
        (ref, crime) for ref, crime in crimes.items() if crime_links(crime, disclosure_id, disc)
    )


def iter_linked_crimes(
    facts: Mapping[str, Any], disclosure_id: str, disc: Mapping[str, Any]
) -> list[tuple[str, Mapping[str, Any]]]:
    """`linked_crimes` in no particular order, for callers that only take the earliest."""
    crimes: Mapping[str, Mapping[str, Any]] | None = facts.get("crimes")
    if not crimes:
        return []
    return [(ref, c) for ref, c in crimes.items() if crime_links(c, disclosure_id, disc)]


def rape_disclosure_ids(facts: Mapping[str, Any]) -> list[str]:
    """Ids of the incident's disclosures whose candidate offence group is rape."""
    disclosures: Mapping[str, Mapping[str, Any]] = facts.get("disclosures", {})
    return sorted(did for did, d in disclosures.items() if d["og"] == OffenceGroup.RAPE.value)


def n100s_for(facts: Mapping[str, Any], disclosure_id: str) -> list[tuple[str, Mapping[str, Any]]]:
    """Recorded N100s answering a rape disclosure.

    An N100 naming the disclosure answers it; one naming no disclosure answers the incident's
    rape disclosure when there is exactly one (otherwise it is ambiguous which it answers).
    """
    single = rape_disclosure_ids(facts) == [disclosure_id]
    n100s: Mapping[str, Mapping[str, Any]] = facts.get("n100s", {})
    return sorted(
        (ref, n)
        for ref, n in n100s.items()
        if "at" in n
        and (n.get("disclosure_id") == disclosure_id or (single and not n.get("disclosure_id")))
    )


def earliest(satisfiers: Iterable[Satisfier]) -> Satisfier | None:
    """The satisfaction with the earliest event time (ties broken by event id)."""
    return min(satisfiers, default=None)


def close_with(
    case: CaseState, rule_id: str, subject: str, satisfier: Satisfier | None
) -> CaseState:
    """Close the obligation at the satisfier's event time, if there is one."""
    if satisfier is None:
        return case
    at, event_id = satisfier
    return close_obligation(case, rule_id, subject, at=at, event_ids=(event_id,))


def _severity(facts: Mapping[str, Any], og: OffenceGroup) -> Severity:
    flags: Mapping[str, bool] = facts.get("flags", {})
    if og is OffenceGroup.RAPE or flags.get("child_victim"):
        return Severity.S1
    enhanced = facts.get("reported", {}).get("enhanced")
    if og in _S2_GROUPS or flags.get("domestic_abuse") or enhanced:
        return Severity.S2
    return Severity.S3


def _closure_satisfier(facts: Mapping[str, Any]) -> Satisfier | None:
    """A crime-related-incident closure with rationale and supervisor review, if any."""
    closed = facts.get("closed")
    if (
        closed
        and closed["outcome"] == ClosureOutcome.CRIME_RELATED_INCIDENT.value
        and closed["rationale"]
        and closed["supervisor_review"]
    ):
        return ts(closed["at"]), closed["event"]
    return None


def _rec24h(
    case: CaseState, ctx: RuleContext, did: str, disc: Mapping[str, Any], og: OffenceGroup
) -> CaseState:
    facts = case.facts
    subject = disclosure_subject(case.key, did)
    if may_open(case, REC_24H, subject):
        severity = _severity(facts, og)
        case = open_obligation(
            case,
            ctx,
            rule_id=REC_24H,
            subject=subject,
            refs=Refs(incident_ref=case.key, disclosure_id=did),
            clock_start=ts(disc["at"]),
            severity=severity,
            queue=Queue.OMU,
            also_notify=(Queue.CONTROL_ROOM,) if severity in (Severity.S1, Severity.S2) else (),
            source=CRIME_RECORDS.name,
            reason_code="not_recorded_within_limit",
            trigger_event_ids=(disc["event"],),
            offence_group=og,
            area=facts.get("area"),
        )
    satisfiers = [
        (ts(c["recorded_at"]), c["event"]) for _, c in iter_linked_crimes(facts, did, disc)
    ]
    if og is OffenceGroup.RAPE:
        satisfiers.extend((ts(n["at"]), n["event"]) for _, n in n100s_for(facts, did))
    closure = _closure_satisfier(facts)
    if closure is not None:
        satisfiers.append(closure)
    return close_with(case, REC_24H, subject, earliest(satisfiers))


def crimes_needed(ctx: RuleContext, disc: Mapping[str, Any]) -> int:
    """Distinct crime records a disclosure needs: one per victim, or per offender for rape."""
    needed = len(disc.get("victims", []))
    if disc["og"] == OffenceGroup.RAPE.value:
        ruleset = ctx.catalogue.for_time(ts(disc["at"]))
        if ruleset.rape_one_crime_per_offender:
            needed = max(needed, int(disc.get("offenders", 1)))
    return needed


def _multi_crime(
    case: CaseState, ctx: RuleContext, did: str, disc: Mapping[str, Any], og: OffenceGroup
) -> CaseState:
    needed = crimes_needed(ctx, disc)
    if needed <= 1:
        return case
    subject = disclosure_subject(case.key, did)
    if may_open(case, MULTI_CRIME, subject):
        case = open_obligation(
            case,
            ctx,
            rule_id=MULTI_CRIME,
            subject=subject,
            refs=Refs(incident_ref=case.key, disclosure_id=did),
            clock_start=ts(disc["at"]),
            severity=_severity(case.facts, og),
            queue=Queue.OMU,
            source=CRIME_RECORDS.name,
            reason_code="fewer_crimes_than_victims_or_offenders",
            trigger_event_ids=(disc["event"],),
            offence_group=og,
            area=case.facts.get("area"),
        )
    recorded = sorted(
        (ts(c["recorded_at"]), c["event"]) for _, c in iter_linked_crimes(case.facts, did, disc)
    )
    if len(recorded) < needed:
        return case
    return close_with(case, MULTI_CRIME, subject, recorded[needed - 1])


def _linked_outcome(facts: Mapping[str, Any]) -> Satisfier | None:
    """The earliest crime or N100 linked to the incident, by facts or by the closure's refs."""
    closed = facts.get("closed", {})
    found: list[Satisfier] = [
        (ts(c["recorded_at"]), c["event"]) for c in facts.get("crimes", {}).values()
    ]
    found.extend((ts(n["at"]), n["event"]) for n in facts.get("n100s", {}).values() if "at" in n)
    if closed and (closed["crimes"] or closed["n100s"]):
        found.append((ts(closed["at"]), closed["event"]))
    return earliest(found)


def _close_review(case: CaseState, ctx: RuleContext) -> CaseState:
    facts = case.facts
    closed = facts.get("closed")
    if not closed:
        return case
    flags: Mapping[str, bool] = facts.get("flags", {})
    in_scope = (
        closed["category"] in REVIEW_CATEGORIES
        or flags.get("domestic_abuse")
        or flags.get("sexual")
        or flags.get("rape_alleged")
    )
    if not in_scope:
        return case
    linked = _linked_outcome(facts)
    if linked is not None:
        at, event_id = linked
        return close_obligation(
            case, CLOSE_REVIEW, case.key, at=at, event_ids=(event_id,), cancelled=True
        )
    case = open_obligation(
        case,
        ctx,
        rule_id=CLOSE_REVIEW,
        subject=case.key,
        refs=Refs(incident_ref=case.key),
        clock_start=ts(closed["at"]),
        severity=Severity.S2,
        queue=Queue.CONTROL_ROOM,
        source=INCIDENTS.name,
        reason_code="closed_without_crime_review",
        trigger_event_ids=(closed["event"],),
        area=facts.get("area"),
        revise=True,  # the closure may be read before the report that names the area
    )
    reviews: list[Satisfier] = [
        (ts(r["at"]), r["event"])
        for r in facts.get("reviews", [])
        if r["type"] == ReviewType.SUPERVISOR_CRIME_RECORDING.value
    ]
    if closed["supervisor_review"]:
        reviews.append((ts(closed["at"]), closed["event"]))
    return close_with(case, CLOSE_REVIEW, case.key, earliest(reviews))


def reconcile(case: CaseState, ctx: RuleContext) -> CaseState:
    """Open and close the recording obligations the incident's facts imply."""
    disclosures: Mapping[str, Mapping[str, Any]] = case.facts.get("disclosures", {})
    for did in sorted(disclosures):
        disc = disclosures[did]
        og = OffenceGroup(disc["og"])
        case = _rec24h(case, ctx, did, disc, og)
        case = _multi_crime(case, ctx, did, disc, og)
    return _close_review(case, ctx)


FAMILY = RuleFamily(
    name="recording",
    rule_ids=(REC_24H, MULTI_CRIME, CLOSE_REVIEW),
    kinds=frozenset({CaseKind.INCIDENT}),
    reconcile=reconcile,
    citation=(
        "Home Office Counting Rules for Recorded Crime and NCRS: record at the first point of "
        "report and within 24 hours of receipt; one crime per victim; HMIC Crime Data Integrity "
        "Cheshire 2017"
    ),
    reads=frozenset(
        {"disclosures", "area", "flags", "reported", "crimes", "n100s", "closed", "reviews"}
    ),
)
