"""A small rule family used only by the engine tests, so they do not depend on the real rules.

It opens REC-24H for every disclosure of an incident (clock from the disclosure's receipt) and
closes it when a crime record names the disclosure, which exercises every engine path (stages,
late closes, retractions, retention, staleness) with one easily reasoned-about rule.
"""

from __future__ import annotations

from datetime import datetime

from schemas.codes import OffenceGroup, Queue, Severity
from streams.rules.duties import RuleContext, close_obligation, open_obligation
from streams.rules.family import RuleFamily
from streams.rules.model import CaseKind, CaseState, Refs
from streams.topics import CRIME_RECORDS

RULE = "REC-24H"


def reconcile(case: CaseState, ctx: RuleContext) -> CaseState:
    """Open one obligation per disclosure; close it with the earliest crime naming it."""
    facts = case.facts
    for did, disc in sorted(facts.get("disclosures", {}).items()):
        subject = f"{case.key}/{did}"
        case = open_obligation(
            case,
            ctx,
            rule_id=RULE,
            subject=subject,
            refs=Refs(incident_ref=case.key, disclosure_id=did),
            clock_start=datetime.fromisoformat(disc["at"]),
            severity=Severity.S2,
            queue=Queue.OMU,
            source=CRIME_RECORDS.name,
            reason_code="not_recorded_within_limit",
            trigger_event_ids=(disc["event"],),
            offence_group=OffenceGroup(disc["og"]),
            area=facts.get("area"),
        )
        linked = sorted(
            (crime["recorded_at"], ref, crime["event"])
            for ref, crime in facts.get("crimes", {}).items()
            if did in crime["dids"]
        )
        if linked:
            recorded_at, _, event_id = linked[0]
            case = close_obligation(
                case,
                RULE,
                subject,
                at=datetime.fromisoformat(recorded_at),
                event_ids=(event_id,),
            )
    return case


TOY_FAMILY = RuleFamily(
    name="toy-recording",
    rule_ids=(RULE,),
    kinds=frozenset({CaseKind.INCIDENT}),
    reconcile=reconcile,
    citation="test-only",
)
