"""Rape reports: each becomes a rape crime or a sound N100, and is not recorded as something else.

Regulation: the HMICFRS definition of N100, the Home Office classification (since April 2015)
for a reported rape or attempted rape, from anyone, that was not immediately recorded as a rape
crime (e.g. credible evidence that it did not occur, or it occurred in another force area). Seed
findings (HMIC Crime Data Integrity, Cheshire 2017): N100 was applied on only 9 of 29 occasions
it was required; 4 of 18 N100s should have been rape crimes, resting on doubt about the victim
(three reported by professional third parties); 7 of 29 missed rapes were "classified in error as
a different crime". Lancashire's 2019 FCR practice reviews open N100s within days.

Rules (parameters in `streams.rules.ruleset`; none of the N100 rules exists in hocr-2014, so no
N100 obligation opens for a report received before 2015-04-01):

- N100, per rape disclosure (or per incident flagged `rape_alleged` with no rape disclosure),
  clock from the receipt of that report: within 24 h a linked rape crime (recorded as rape or
  reclassified to rape) or an N100. FCR queue, OMU also told, S1.
- N100-REASON, per N100 whose reason is in `DISALLOWED_N100_REASONS`: an immediate breach, closed
  by the N100 being resolved as converted to a crime or by a linked rape crime. FCR, S1.
- RAPE-MISCLASSIFIED, per crime linked to a rape disclosure (or to an incident flagged
  `rape_alleged` with no rape disclosure) recorded under a non-rape group: an immediate breach,
  closed by a reclassification to rape or one ratified by the FCR (and, for the flag-only case,
  by a rape crime recorded on the incident). FCR, S1.
- N100-AGEING, per recorded N100: resolved within 7 days [assumed]. FCR, S2.

An N100 may be read before its incident's report: the area the report brings revises the N100's
obligations (N100-REASON, N100-AGEING) until a stage of them is announced.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from schemas.codes import DISALLOWED_N100_REASONS, N100Outcome, OffenceGroup, Queue, Severity
from streams.rules.duties import RuleContext, close_obligation, may_open, open_obligation
from streams.rules.family import RuleFamily
from streams.rules.model import CaseKind, CaseState, Refs
from streams.rules.recording import (
    Satisfier,
    close_with,
    crime_links,
    disclosure_subject,
    earliest,
    iter_linked_crimes,
    linked_crimes,
    n100s_for,
    rape_disclosure_ids,
    ts,
)
from streams.topics import CRIME_RECORDS, INCIDENTS

N100 = "N100"
N100_REASON = "N100-REASON"
RAPE_MISCLASSIFIED = "RAPE-MISCLASSIFIED"
N100_AGEING = "N100-AGEING"

_RAPE = OffenceGroup.RAPE.value
_DISALLOWED = frozenset(reason.value for reason in DISALLOWED_N100_REASONS)


def _rape_records(
    facts: Mapping[str, Any], crimes: Iterable[tuple[str, Mapping[str, Any]]]
) -> list[Satisfier]:
    """When each of these crimes became a rape crime: recorded as rape, or reclassified to it."""
    found: list[Satisfier] = []
    reclassified: Mapping[str, list[Mapping[str, Any]]] = facts.get("reclassified", {})
    for ref, crime in crimes:
        if crime["og"] == _RAPE:
            found.append((ts(crime["recorded_at"]), crime["event"]))
        found.extend(
            (ts(r["at"]), r["event"]) for r in reclassified.get(ref, []) if r["og"] == _RAPE
        )
    return found


def _all_crimes(facts: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    crimes: Mapping[str, Mapping[str, Any]] = facts.get("crimes", {})
    return sorted(crimes.items())


def _flag_only(facts: Mapping[str, Any], rape_ids: list[str] | None = None) -> bool:
    """The incident alleges rape by its flag but carries no rape disclosure."""
    if rape_ids is None:
        rape_ids = rape_disclosure_ids(facts)
    return bool(facts.get("flags", {}).get("rape_alleged")) and not rape_ids


def _open_n100(
    case: CaseState, ctx: RuleContext, subject: str, refs: Refs, start: str, trigger: str
) -> CaseState:
    return open_obligation(
        case,
        ctx,
        rule_id=N100,
        subject=subject,
        refs=refs,
        clock_start=ts(start),
        severity=Severity.S1,
        queue=Queue.FCR,
        also_notify=(Queue.OMU,),
        source=CRIME_RECORDS.name,
        reason_code="rape_report_not_recorded_or_n100",
        trigger_event_ids=(trigger,),
        offence_group=OffenceGroup.RAPE,
        area=case.facts.get("area"),
    )


def _n100_rule(case: CaseState, ctx: RuleContext, rape_ids: list[str]) -> CaseState:
    facts = case.facts
    disclosures: Mapping[str, Mapping[str, Any]] = facts.get("disclosures", {})
    for did in rape_ids:
        disc = disclosures[did]
        subject = disclosure_subject(case.key, did)
        if may_open(case, N100, subject):
            refs = Refs(incident_ref=case.key, disclosure_id=did)
            case = _open_n100(case, ctx, subject, refs, disc["at"], disc["event"])
        satisfiers = _rape_records(facts, iter_linked_crimes(facts, did, disc))
        satisfiers.extend((ts(n["at"]), n["event"]) for _, n in n100s_for(facts, did))
        case = close_with(case, N100, subject, earliest(satisfiers))
    reported = facts.get("reported")
    if rape_ids:
        # The flag's report is now answered per disclosure; its incident-level duty lapses.
        first = earliest((ts(disclosures[d]["at"]), disclosures[d]["event"]) for d in rape_ids)
        assert first is not None  # rape_ids is not empty
        return close_obligation(
            case, N100, case.key, at=first[0], event_ids=(first[1],), cancelled=True
        )
    if _flag_only(facts, rape_ids) and reported:
        if may_open(case, N100, case.key):
            refs = Refs(incident_ref=case.key)
            case = _open_n100(case, ctx, case.key, refs, reported["at"], reported["event"])
        satisfiers = _rape_records(facts, _all_crimes(facts))
        satisfiers.extend(
            (ts(n["at"]), n["event"]) for n in facts.get("n100s", {}).values() if "at" in n
        )
        case = close_with(case, N100, case.key, earliest(satisfiers))
    return case


def _n100_reason(case: CaseState, ctx: RuleContext, ref: str, n100: Mapping[str, Any]) -> CaseState:
    facts = case.facts
    if n100["reason"] not in _DISALLOWED:
        return case
    did: str | None = n100.get("disclosure_id")
    case = open_obligation(
        case,
        ctx,
        rule_id=N100_REASON,
        subject=ref,
        refs=Refs(incident_ref=case.key, disclosure_id=did, n100_ref=ref),
        clock_start=ts(n100["at"]),
        severity=Severity.S1,
        queue=Queue.FCR,
        source=INCIDENTS.name,
        reason_code="n100_reason_rests_on_victim_doubt",
        trigger_event_ids=(n100["event"],),
        offence_group=OffenceGroup.RAPE,
        area=facts.get("area"),
        revise=True,  # the incident's area may be read after the N100
    )
    disclosures: Mapping[str, Mapping[str, Any]] = facts.get("disclosures", {})
    crimes = (
        linked_crimes(facts, did, disclosures[did])
        if did is not None and did in disclosures
        else _all_crimes(facts)
    )
    satisfiers = _rape_records(facts, crimes)
    if n100.get("outcome") == N100Outcome.CONVERTED_TO_CRIME.value:
        satisfiers.append((ts(n100["resolved_at"]), n100["resolved_event"]))
    return close_with(case, N100_REASON, ref, earliest(satisfiers))


def _n100_ageing(case: CaseState, ctx: RuleContext, ref: str, n100: Mapping[str, Any]) -> CaseState:
    case = open_obligation(
        case,
        ctx,
        rule_id=N100_AGEING,
        subject=ref,
        refs=Refs(incident_ref=case.key, disclosure_id=n100.get("disclosure_id"), n100_ref=ref),
        clock_start=ts(n100["at"]),
        severity=Severity.S2,
        queue=Queue.FCR,
        source=INCIDENTS.name,
        reason_code="n100_unresolved",
        trigger_event_ids=(n100["event"],),
        offence_group=OffenceGroup.RAPE,
        area=case.facts.get("area"),
        revise=True,  # the incident's area may be read after the N100
    )
    if "resolved_at" not in n100:
        return case
    return close_with(case, N100_AGEING, ref, (ts(n100["resolved_at"]), n100["resolved_event"]))


def _rape_disclosure_of(
    facts: Mapping[str, Any], crime: Mapping[str, Any], rape_ids: list[str] | None = None
) -> str | None:
    """The first rape disclosure this crime is linked to, if any."""
    disclosures: Mapping[str, Mapping[str, Any]] = facts.get("disclosures", {})
    for did in rape_disclosure_ids(facts) if rape_ids is None else rape_ids:
        if crime_links(crime, did, disclosures[did]):
            return did
    return None


def _misclassified(
    case: CaseState,
    ctx: RuleContext,
    ref: str,
    crime: Mapping[str, Any],
    rape_ids: list[str],
    flag_only: bool,
) -> CaseState:
    facts = case.facts
    if crime["og"] == _RAPE:
        return case
    did = _rape_disclosure_of(facts, crime, rape_ids)
    if did is None and not flag_only:
        return case
    if may_open(case, RAPE_MISCLASSIFIED, ref):
        case = open_obligation(
            case,
            ctx,
            rule_id=RAPE_MISCLASSIFIED,
            subject=ref,
            refs=Refs(incident_ref=case.key, disclosure_id=did, crime_ref=ref),
            clock_start=ts(crime["recorded_at"]),
            severity=Severity.S1,
            queue=Queue.FCR,
            source=CRIME_RECORDS.name,
            reason_code="rape_report_recorded_as_other_offence",
            trigger_event_ids=(crime["event"],),
            offence_group=OffenceGroup.RAPE,
            area=crime.get("area") or facts.get("area"),
        )
    reclassified: Mapping[str, list[Mapping[str, Any]]] = facts.get("reclassified", {})
    satisfiers: list[Satisfier] = [
        (ts(r["at"]), r["event"])
        for r in reclassified.get(ref, [])
        if r["og"] == _RAPE or r["ratified"]
    ]
    if flag_only:
        others = [(r, c) for r, c in _all_crimes(facts) if r != ref]
        satisfiers.extend(_rape_records(facts, others))
    return close_with(case, RAPE_MISCLASSIFIED, ref, earliest(satisfiers))


def reconcile(case: CaseState, ctx: RuleContext) -> CaseState:
    """Open and close the rape-report obligations the incident's facts imply."""
    facts = case.facts  # reconciling changes obligations only, never the facts
    rape_ids = rape_disclosure_ids(facts)
    case = _n100_rule(case, ctx, rape_ids)
    n100s: Mapping[str, Mapping[str, Any]] = facts.get("n100s", {})
    for ref in sorted(n100s):
        n100 = n100s[ref]
        if "at" not in n100:
            continue  # resolved before its record arrived: nothing to judge yet
        case = _n100_reason(case, ctx, ref, n100)
        case = _n100_ageing(case, ctx, ref, n100)
    if facts.get("crimes"):
        flag_only = _flag_only(facts, rape_ids)
        for ref, crime in _all_crimes(facts):
            case = _misclassified(case, ctx, ref, crime, rape_ids, flag_only)
    return case


FAMILY = RuleFamily(
    name="n100",
    rule_ids=(N100, N100_REASON, RAPE_MISCLASSIFIED, N100_AGEING),
    kinds=frozenset({CaseKind.INCIDENT}),
    reconcile=reconcile,
    citation=(
        "HMICFRS N100 definition (Home Office, April 2015); HMIC Crime Data Integrity Cheshire "
        "2017: N100 applied on 9 of 29 occasions, 4 of 18 N100s should have been rapes, 7 of 29 "
        "missed rapes misclassified"
    ),
    reads=frozenset(
        {"disclosures", "crimes", "reclassified", "n100s", "reported", "flags", "area"}
    ),
)
