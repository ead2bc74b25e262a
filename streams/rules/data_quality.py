"""Data-quality rules: crime records carry basic equality data and are filed only with authority.

Sources: HMIC's Cheshire Crime Data Integrity report (2017) found the constabulary "does not
capture even the basic equality information in relation to the victim such as age and gender"
and recommended it "immediately improve how it collects diversity information from victims";
and that "uniformed sergeants who are not authorised to file crime records are doing so, thereby
preventing the OMU from identifying those cases where additional crimes have been disclosed".

Rules (parameters in `streams.rules.ruleset`, chosen by the event time of the trigger):

- EQUALITY-DATA, one per crime with a person victim recorded without the victim's age or sex
  (presence booleans only, never the values); clock from the recording; 7 days [assumed].
  Satisfied by a `crime.updated` with both present. Data-quality queue, S4 (for metrics and
  the data-quality team, not a compliance breach).
- FILING-AUTHORITY, one per filing (subject `{crime_ref}/{filing event id}`) by a role not in
  `AUTHORISED_FILERS`; checked at once (deadline = filing time). Closed by a later filing, at or
  after it, by an authorised role. OMU queue, S2.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from schemas.codes import ActorRole, OffenceGroup, Queue, Severity, VictimType
from streams.rules.duties import RuleContext, close_obligation, may_open, open_obligation
from streams.rules.family import RuleFamily
from streams.rules.model import CaseKind, CaseState, Refs
from streams.topics import CRIME_RECORDS

EQUALITY_DATA = "EQUALITY-DATA"
FILING_AUTHORITY = "FILING-AUTHORITY"

AUTHORISED_FILERS = frozenset(
    {ActorRole.OMU_STAFF, ActorRole.DDM, ActorRole.FCR, ActorRole.INVESTIGATOR}
)
"""Roles the force authorises to file (finalise) a crime record. Uniformed sergeants are not:
the inspection found their filings hid further disclosed crimes from the OMU. Confirm with the
Force Crime Registrar before go-live [assumed]."""

REQUIRED_EQUALITY = ("age", "sex")
"""The inspection's minimum: the victim's age and sex (gender) are captured."""


def ts(value: str) -> datetime:
    """A fact timestamp (ISO string) as a datetime."""
    return datetime.fromisoformat(value)


def filing_subject(crime_ref: str, filing: Mapping[str, Any]) -> str:
    """The subject of the authority check of one filing."""
    return f"{crime_ref}/{filing['event']}"


def _complete(equality: Mapping[str, bool]) -> bool:
    return all(equality.get(name, False) for name in REQUIRED_EQUALITY)


def _equality(case: CaseState, ctx: RuleContext) -> CaseState:
    facts = case.facts
    recorded = facts.get("recorded")
    if not recorded or recorded["victim_type"] != VictimType.PERSON.value:
        return case
    if _complete(facts.get("equality", {})):
        return case
    if may_open(case, EQUALITY_DATA, case.key):
        case = open_obligation(
            case,
            ctx,
            rule_id=EQUALITY_DATA,
            subject=case.key,
            refs=Refs(incident_ref=facts.get("incident_ref"), crime_ref=case.key),
            clock_start=ts(recorded["recorded_at"]),
            severity=Severity.S4,
            queue=Queue.DATA_QUALITY,
            source=CRIME_RECORDS.name,
            reason_code="equality_age_or_sex_missing",
            trigger_event_ids=(recorded["event"],),
            offence_group=OffenceGroup(recorded["og"]),
            area=recorded.get("area"),
        )
    done = min(
        ((ts(u["at"]), u["event"]) for u in facts.get("updates", []) if _complete(u["equality"])),
        default=None,
    )
    if done is not None:
        case = close_obligation(case, EQUALITY_DATA, case.key, at=done[0], event_ids=(done[1],))
    return case


def _filing(case: CaseState, ctx: RuleContext) -> CaseState:
    facts = case.facts
    filings = facts.get("filings", [])
    recorded = facts.get("recorded") or {}
    for filing in filings:
        if ActorRole(filing["role"]) in AUTHORISED_FILERS:
            continue
        subject = filing_subject(case.key, filing)
        filed_at = ts(filing["at"])
        case = open_obligation(
            case,
            ctx,
            rule_id=FILING_AUTHORITY,
            subject=subject,
            refs=Refs(incident_ref=facts.get("incident_ref"), crime_ref=case.key),
            clock_start=filed_at,
            severity=Severity.S2,
            queue=Queue.OMU,
            source=CRIME_RECORDS.name,
            reason_code="unauthorised_filing_role",
            trigger_event_ids=(filing["event"],),
            offence_group=OffenceGroup(recorded["og"]) if recorded else None,
            area=facts.get("area"),
            revise=True,
        )
        refiled = min(
            (
                (ts(f["at"]), f["event"])
                for f in filings
                if ActorRole(f["role"]) in AUTHORISED_FILERS and ts(f["at"]) >= filed_at
            ),
            default=None,
        )
        if refiled is not None:
            case = close_obligation(
                case, FILING_AUTHORITY, subject, at=refiled[0], event_ids=(refiled[1],)
            )
    return case


def reconcile(case: CaseState, ctx: RuleContext) -> CaseState:
    """Check equality data once the crime is recorded, and every filing's authority."""
    case = _equality(case, ctx)
    return _filing(case, ctx)


FAMILY = RuleFamily(
    name="data-quality",
    rule_ids=(EQUALITY_DATA, FILING_AUTHORITY),
    kinds=frozenset({CaseKind.CRIME}),
    reconcile=reconcile,
    citation=(
        "HMIC Cheshire Crime Data Integrity 2017: basic equality data (age, gender) not "
        "captured; uniformed sergeants not authorised to file crime records are doing so"
    ),
    reads=frozenset({"recorded", "equality", "incident_ref", "updates", "filings", "area"}),
)
