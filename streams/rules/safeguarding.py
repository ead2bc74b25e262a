"""Safeguarding rules: domestic abuse is risk-assessed, and modern slavery becomes a crime.

Regulation and sources: HMIC's Cheshire Crime Data Integrity report (2017) found "no record of
safeguarding requirements having been considered in well over half" of 80 unrecorded domestic-abuse
crimes, and recommended that reports of modern slavery be recorded and auditable; the Independent
Anti-Slavery Commissioner's position is that every police National Referral Mechanism (NRM)
referral is recorded as a crime (Home Office class 106). High-risk domestic abuse is referred to a
multi-agency risk assessment conference (MARAC).

Rules (parameters in `streams.rules.ruleset`, chosen by the event time of the trigger):

- DA-SAFEGUARDING, one per incident (subject `incident_ref`) flagged domestic abuse, by the
  incident or by a crime linked to it; clock from when the flag was first raised (the report or
  disclosure that carried it, or the linked crime's receipt); 24 h [assumed]. Satisfied by a
  safeguarding assessment. PPU queue; S1 for a child victim or a high-risk assessment, else S2
  (risk is known only once assessed).
- DA-SAFEGUARDING, MARAC check (subject `{incident_ref}/marac/{assessment event id}`, reason
  `high_risk_without_marac_referral`): an assessment of high risk without a MARAC referral is a
  finding at once; closed by a later assessment that makes the referral. PPU queue, S1.
- MODERN-SLAVERY, one per incident with an NRM referral or the modern-slavery flag; clock from the
  earlier of the two; 24 h. Satisfied by a linked crime recorded, or reclassified, as modern
  slavery (offence group MODERN_SLAVERY or a Home Office code in class 106). PPU queue; S1 for a
  child victim, else S2.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from schemas.codes import OffenceGroup, Queue, RiskLevel, Severity
from streams.rules.duties import RuleContext, close_obligation, may_open, open_obligation
from streams.rules.family import RuleFamily
from streams.rules.model import CaseKind, CaseState, Refs
from streams.topics import CRIME_RECORDS, INCIDENTS

DA_SAFEGUARDING = "DA-SAFEGUARDING"
MODERN_SLAVERY = "MODERN-SLAVERY"

MODERN_SLAVERY_CLASS = "106"
"""Home Office offence class of modern slavery: codes 106/xx are modern-slavery crimes."""

Satisfier = tuple[datetime, str]
"""(event time, event id): the earliest one starts a clock or closes an obligation."""


def ts(value: str) -> datetime:
    """A fact timestamp (ISO string) as a datetime."""
    return datetime.fromisoformat(value)


def marac_subject(incident_ref: str, assessment: Mapping[str, Any]) -> str:
    """The subject of the MARAC check of one high-risk assessment."""
    return f"{incident_ref}/marac/{assessment['event']}"


def is_modern_slavery(og: str, ho: str) -> bool:
    """A crime classified as modern slavery by group or by its Home Office class."""
    return og == OffenceGroup.MODERN_SLAVERY.value or ho.startswith(MODERN_SLAVERY_CLASS)


def _flag_raised(facts: Mapping[str, Any], flag: str) -> Iterator[Satisfier]:
    raised = facts.get("flags_at", {}).get(flag)
    if raised is not None:
        yield ts(raised["at"]), raised["event"]


def _child(facts: Mapping[str, Any]) -> bool:
    crimes = facts.get("crimes", {}).values()
    return bool(facts.get("flags", {}).get("child_victim")) or any(
        c["flags"].get("child_victim") for c in crimes
    )


def _area(facts: Mapping[str, Any]) -> str | None:
    area: str | None = facts.get("area")
    if area is None:
        areas = sorted(c["area"] for c in facts.get("crimes", {}).values())
        area = areas[0] if areas else (facts.get("nrm") or {}).get("area")
    return area


def _earliest(items: Iterable[Satisfier]) -> Satisfier | None:
    return min(items, default=None)


def _da(case: CaseState, ctx: RuleContext) -> CaseState:
    facts = case.facts
    crimes = facts.get("crimes", {}).values()
    trigger = _earliest(
        (
            *_flag_raised(facts, "domestic_abuse"),
            *((ts(c["reported_at"]), c["event"]) for c in crimes if c["flags"]["domestic_abuse"]),
        )
    )
    if trigger is None:
        return case
    assessments = facts.get("safeguarding", [])
    if may_open(case, DA_SAFEGUARDING, case.key, revise=True):
        high = any(RiskLevel(a["risk"]) is RiskLevel.HIGH for a in assessments)
        case = open_obligation(
            case,
            ctx,
            rule_id=DA_SAFEGUARDING,
            subject=case.key,
            refs=Refs(incident_ref=case.key),
            clock_start=trigger[0],
            severity=Severity.S1 if high or _child(facts) else Severity.S2,
            queue=Queue.PPU,
            source=INCIDENTS.name,
            reason_code="safeguarding_not_assessed",
            trigger_event_ids=(trigger[1],),
            area=_area(facts),
            revise=True,
        )
    assessed = _earliest((ts(a["at"]), a["event"]) for a in assessments)
    if assessed is not None:
        case = close_obligation(
            case, DA_SAFEGUARDING, case.key, at=assessed[0], event_ids=(assessed[1],)
        )
    return case


def _marac(case: CaseState, ctx: RuleContext) -> CaseState:
    assessments = case.facts.get("safeguarding", [])
    for assessment in assessments:
        if RiskLevel(assessment["risk"]) is not RiskLevel.HIGH or assessment["marac"]:
            continue
        subject = marac_subject(case.key, assessment)
        assessed_at = ts(assessment["at"])
        if may_open(case, DA_SAFEGUARDING, subject, revise=True):
            case = open_obligation(
                case,
                ctx,
                rule_id=DA_SAFEGUARDING,
                subject=subject,
                refs=Refs(incident_ref=case.key),
                clock_start=assessed_at,
                severity=Severity.S1,
                queue=Queue.PPU,
                source=INCIDENTS.name,
                reason_code="high_risk_without_marac_referral",
                trigger_event_ids=(assessment["event"],),
                area=_area(case.facts),
                immediate=True,
                revise=True,
            )
        referred = _earliest(
            (ts(a["at"]), a["event"])
            for a in assessments
            if a["marac"] and ts(a["at"]) >= assessed_at
        )
        if referred is not None:
            case = close_obligation(
                case, DA_SAFEGUARDING, subject, at=referred[0], event_ids=(referred[1],)
            )
    return case


def _slavery(case: CaseState, ctx: RuleContext) -> CaseState:
    facts = case.facts
    nrm = facts.get("nrm")
    trigger = _earliest(
        (
            *_flag_raised(facts, "modern_slavery"),
            *([(ts(nrm["at"]), nrm["event"])] if nrm else []),
        )
    )
    if trigger is None:
        return case
    if may_open(case, MODERN_SLAVERY, case.key, revise=True):
        child = _child(facts) or bool(nrm and nrm["child"])
        case = open_obligation(
            case,
            ctx,
            rule_id=MODERN_SLAVERY,
            subject=case.key,
            refs=Refs(incident_ref=case.key),
            clock_start=trigger[0],
            severity=Severity.S1 if child else Severity.S2,
            queue=Queue.PPU,
            source=CRIME_RECORDS.name,
            reason_code="modern_slavery_crime_not_recorded",
            trigger_event_ids=(trigger[1],),
            offence_group=OffenceGroup.MODERN_SLAVERY,
            area=_area(facts),
            revise=True,
        )
    recorded = (
        (ts(c["recorded_at"]), c["event"])
        for c in facts.get("crimes", {}).values()
        if is_modern_slavery(c["og"], c["ho"])
    )
    reclassified = (
        (ts(r["at"]), r["event"])
        for history in facts.get("reclassified", {}).values()
        for r in history
        if is_modern_slavery(r["og"], r["ho"])
    )
    done = _earliest((*recorded, *reclassified))
    if done is not None:
        case = close_obligation(case, MODERN_SLAVERY, case.key, at=done[0], event_ids=(done[1],))
    return case


def reconcile(case: CaseState, ctx: RuleContext) -> CaseState:
    """Open and close the safeguarding duties of one incident from its facts."""
    case = _da(case, ctx)
    case = _marac(case, ctx)
    return _slavery(case, ctx)


FAMILY = RuleFamily(
    name="safeguarding",
    rule_ids=(DA_SAFEGUARDING, MODERN_SLAVERY),
    kinds=frozenset({CaseKind.INCIDENT}),
    reconcile=reconcile,
    citation=(
        "HMIC Cheshire Crime Data Integrity 2017: no safeguarding record in well over half of "
        "80 unrecorded domestic-abuse crimes; modern slavery recorded as crime (HO class 106, "
        "Independent Anti-Slavery Commissioner on NRM referrals); MARAC for high risk"
    ),
    reads=frozenset({"flags_at", "crimes", "flags", "area", "nrm", "safeguarding", "reclassified"}),
)
