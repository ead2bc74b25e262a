"""What the monitor knows about a case, absorbed from events in any order.

Routing: an event updates the incident aggregate (key `incident_ref`) when it carries an
incident_ref, and the crime aggregate (key `crime_ref`) when it carries a crime_ref; a
`crime.recorded` with both updates both. Incident-side events (`incident.*`, `safeguarding.*`,
`nrm.*`, `n100.*`) always carry an incident_ref; crime-side events (`crime.*`, `victim.*`,
`victim_care.*`) always carry a crime_ref and should carry the incident_ref where known.

Facts are plain JSON-able values (timestamps as ISO strings) so a case can live in a faust table.
Absorbing never decides anything: the rule families reconcile obligations against the facts
afterwards, which is why a crime record that arrives before its incident is simply remembered.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from schemas.events import (
    CancellationRatified,
    CrimeCancelled,
    CrimeFiled,
    CrimeReclassified,
    CrimeRecorded,
    CrimeReinstated,
    CrimeUpdated,
    DisclosureAdded,
    Envelope,
    IncidentClosed,
    IncidentReported,
    IncidentReviewed,
    N100Recorded,
    N100Resolved,
    NrmReferralMade,
    SafeguardingAssessed,
    VictimCareReferral,
    VictimNotified,
)
from schemas.events import (
    Disclosure as DisclosureModel,
)
from streams.rules.model import CaseKind, CaseState, make_case

Facts = Mapping[str, Any]


def route(event: Envelope) -> tuple[tuple[CaseKind, str], ...]:
    """The aggregates an event updates, as (kind, key) pairs."""
    keys: list[tuple[CaseKind, str]] = []
    if event.incident_ref is not None:
        keys.append((CaseKind.INCIDENT, event.incident_ref))
    if event.crime_ref is not None and not isinstance(event, (N100Recorded, N100Resolved)):
        keys.append((CaseKind.CRIME, event.crime_ref))
    return tuple(keys)


# --- shared values ------------------------------------------------------------------------
#
# Facts are never changed in place (rule code builds new dicts), so equal small values can be
# one object shared by every case: a flag set is one of a few dozen combinations, and most cases
# have no entitlement codes and no raised flag. Sharing saves memory per case, and the pydantic
# dump it replaces was a third of the cost of absorbing an event.

_NO_FLAG_TIMES: dict[str, dict[str, str]] = {}
_NO_CODES: list[str] = []


@functools.lru_cache(maxsize=1024)
def _shared_bools(items: tuple[tuple[str, bool], ...]) -> dict[str, bool]:
    return dict(items)


def _bools(model: BaseModel) -> dict[str, bool]:
    """The model's dump (every field is a boolean), one dict shared by equal values.

    An inbound model's `__dict__` holds exactly its fields, in order (unknown fields are
    ignored, not kept), so its items are the dump's.
    """
    return _shared_bools(tuple(model.__dict__.items()))


def _codes(codes: Iterable[StrEnum]) -> list[str]:
    """The codes' values, sorted; the one shared empty list when there are none."""
    return sorted(c.value for c in codes) or _NO_CODES


def _disclosure(d: DisclosureModel, at: str, event_id: str, via: str) -> dict[str, Any]:
    return {
        "og": d.offence_group.value,
        "victims": list(d.victim_pseudo_ids),
        "offenders": d.offender_count,
        "attempted": d.attempted,
        "at": at,
        "event": event_id,
        "via": via,
    }


def _merge_flags(facts: Facts, flags: Mapping[str, bool]) -> dict[str, bool]:
    merged = dict(facts.get("flags", {}))
    for name, value in flags.items():
        merged[name] = merged.get(name, False) or value
    return _shared_bools(tuple(merged.items()))


def _flag_times(
    facts: Facts, flags: Mapping[str, bool], at: str, event_id: str
) -> dict[str, dict[str, str]]:
    """When (and by which event) each flag was first raised: a flag's own clock starts then."""
    times = dict(facts.get("flags_at", {}))
    for name, value in flags.items():
        prior = times.get(name)
        if value and (prior is None or (at, event_id) < (prior["at"], prior["event"])):
            times[name] = {"at": at, "event": event_id}
    return times or _NO_FLAG_TIMES


def _append(facts: Facts, name: str, item: dict[str, Any]) -> list[dict[str, Any]]:
    return [*facts.get(name, []), item]


def _put(facts: Facts, name: str, key: str, item: dict[str, Any]) -> dict[str, Any]:
    return {**facts.get(name, {}), key: item}


# --- incident aggregate ---------------------------------------------------------------------


def _incident_reported(f: Facts, e: IncidentReported) -> dict[str, Any]:
    d = e.data
    at = d.received_at.isoformat()
    disclosures = dict(f.get("disclosures", {}))
    for disc in d.disclosures:
        disclosures.setdefault(disc.disclosure_id, _disclosure(disc, at, e.id, "initial_report"))
    return {
        **f,
        "reported": {
            "at": at,
            "event": e.id,
            "channel": d.channel.value,
            "reporter": d.reporter_type.value,
            "category": d.opening_category.value,
            "enhanced": _codes(d.enhanced_entitlement),
        },
        "area": d.area,
        "flags": _merge_flags(f, _bools(d.flags)),
        "flags_at": _flag_times(f, _bools(d.flags), at, e.id),
        "disclosures": disclosures,
    }


def _disclosure_added(f: Facts, e: DisclosureAdded) -> dict[str, Any]:
    d = e.data
    disc = _disclosure(d.disclosure, d.disclosed_at.isoformat(), e.id, d.disclosed_via.value)
    disclosures = dict(f.get("disclosures", {}))
    disclosures.setdefault(d.disclosure.disclosure_id, disc)
    flags = _bools(d.flags)
    return {
        **f,
        "disclosures": disclosures,
        "flags": _merge_flags(f, flags),
        "flags_at": _flag_times(f, flags, d.disclosed_at.isoformat(), e.id),
    }


def _incident_closed(f: Facts, e: IncidentClosed) -> dict[str, Any]:
    d = e.data
    closed = {
        "at": d.closed_at.isoformat(),
        "event": e.id,
        "outcome": d.outcome.value,
        "category": d.closing_category.value,
        "crimes": list(d.linked_crime_refs),
        "n100s": list(d.linked_n100_refs),
        "rationale": d.rationale_present,
        "supervisor_review": d.supervisor_review,
    }
    return {**f, "closed": closed}


def _incident_reviewed(f: Facts, e: IncidentReviewed) -> dict[str, Any]:
    d = e.data
    item = {
        "at": d.reviewed_at.isoformat(),
        "event": e.id,
        "type": d.review_type.value,
        "role": d.reviewer_role.value,
    }
    return {**f, "reviews": _append(f, "reviews", item)}


def _safeguarding(f: Facts, e: SafeguardingAssessed) -> dict[str, Any]:
    d = e.data
    item = {
        "at": d.assessed_at.isoformat(),
        "event": e.id,
        "risk": d.risk_level.value,
        "marac": d.marac_referral,
    }
    return {**f, "safeguarding": _append(f, "safeguarding", item)}


def _nrm(f: Facts, e: NrmReferralMade) -> dict[str, Any]:
    d = e.data
    item = {"at": d.referred_at.isoformat(), "event": e.id, "child": d.child_victim, "area": d.area}
    return {**f, "nrm": f.get("nrm") or item}


def _n100_recorded(f: Facts, e: N100Recorded) -> dict[str, Any]:
    assert e.n100_ref is not None  # REQUIRED_REFS
    prior = f.get("n100s", {}).get(e.n100_ref, {})
    item = {
        **prior,
        "at": e.data.recorded_at.isoformat(),
        "event": e.id,
        "reason": e.data.reason.value,
        "disclosure_id": e.disclosure_id,
    }
    return {**f, "n100s": _put(f, "n100s", e.n100_ref, item)}


def _n100_resolved(f: Facts, e: N100Resolved) -> dict[str, Any]:
    assert e.n100_ref is not None  # REQUIRED_REFS
    prior = f.get("n100s", {}).get(e.n100_ref, {})
    item = {
        **prior,
        "resolved_at": e.data.resolved_at.isoformat(),
        "resolved_event": e.id,
        "outcome": e.data.outcome.value,
    }
    return {**f, "n100s": _put(f, "n100s", e.n100_ref, item)}


def _crime_link(e: CrimeRecorded) -> dict[str, Any]:
    d = e.data
    return {
        "event": e.id,
        "dids": list(d.disclosure_ids),
        "victim": e.victim_pseudo_id,
        "og": d.offence_group.value,
        "ho": d.home_office_code,
        "reported_at": d.reported_at.isoformat(),
        "recorded_at": d.recorded_at.isoformat(),
        "victim_type": d.victim_type.value,
        "role": d.recorded_by_role.value,
        "flags": _bools(d.flags),
        "area": d.area,
    }


def _incident_crime_recorded(f: Facts, e: CrimeRecorded) -> dict[str, Any]:
    assert e.crime_ref is not None  # REQUIRED_REFS
    if e.crime_ref in f.get("crimes", {}):
        return dict(f)
    return {**f, "crimes": _put(f, "crimes", e.crime_ref, _crime_link(e))}


def _incident_crime_reclassified(f: Facts, e: CrimeReclassified) -> dict[str, Any]:
    assert e.crime_ref is not None  # REQUIRED_REFS
    d = e.data
    item = {
        "at": d.reclassified_at.isoformat(),
        "event": e.id,
        "og": d.offence_group.value,
        "ho": d.home_office_code,
        "ratified": d.ratified_by_fcr,
        "rationale": d.rationale_present,
    }
    history = {**f.get("reclassified", {})}
    history[e.crime_ref] = [*history.get(e.crime_ref, []), item]
    return {**f, "reclassified": history}


INCIDENT_ABSORBERS: dict[type[Envelope], Callable[[Facts, Any], dict[str, Any]]] = {
    IncidentReported: _incident_reported,
    DisclosureAdded: _disclosure_added,
    IncidentClosed: _incident_closed,
    IncidentReviewed: _incident_reviewed,
    SafeguardingAssessed: _safeguarding,
    NrmReferralMade: _nrm,
    N100Recorded: _n100_recorded,
    N100Resolved: _n100_resolved,
    CrimeRecorded: _incident_crime_recorded,
    CrimeReclassified: _incident_crime_reclassified,
}


# --- crime aggregate ------------------------------------------------------------------------


def _crime_recorded(f: Facts, e: CrimeRecorded) -> dict[str, Any]:
    if "recorded" in f:
        return dict(f)
    d = e.data
    return {
        **f,
        "incident_ref": e.incident_ref,
        "victim": e.victim_pseudo_id,
        "recorded": {
            **_crime_link(e),
            "enhanced": _codes(d.enhanced_entitlement),
        },
        "equality": _bools(d.equality_fields_present),
        "area": d.area,
    }


def _crime_reclassified(f: Facts, e: CrimeReclassified) -> dict[str, Any]:
    d = e.data
    item = {
        "at": d.reclassified_at.isoformat(),
        "event": e.id,
        "og": d.offence_group.value,
        "ho": d.home_office_code,
        "ratified": d.ratified_by_fcr,
        "rationale": d.rationale_present,
    }
    return {**f, "reclassifications": _append(f, "reclassifications", item)}


def _crime_updated(f: Facts, e: CrimeUpdated) -> dict[str, Any]:
    d = e.data
    item = {
        "at": d.updated_at.isoformat(),
        "event": e.id,
        "equality": _bools(d.equality_fields_present),
    }
    return {**f, "updates": _append(f, "updates", item)}


def _crime_filed(f: Facts, e: CrimeFiled) -> dict[str, Any]:
    d = e.data
    item = {
        "at": d.filed_at.isoformat(),
        "event": e.id,
        "role": d.filed_by_role.value,
        "outcome": d.outcome.value,
    }
    return {**f, "filings": _append(f, "filings", item)}


def _crime_reinstated(f: Facts, e: CrimeReinstated) -> dict[str, Any]:
    item = {"at": e.data.reinstated_at.isoformat(), "event": e.id}
    return {**f, "reinstatements": _append(f, "reinstatements", item)}


def _cancellation_ratified(f: Facts, e: CancellationRatified) -> dict[str, Any]:
    d = e.data
    item = {"at": d.ratified_at.isoformat(), "event": e.id, "role": d.ratified_by_role.value}
    return {**f, "ratifications": _append(f, "ratifications", item)}


def _crime_cancelled(f: Facts, e: CrimeCancelled) -> dict[str, Any]:
    d = e.data
    item = {
        "at": d.cancelled_at.isoformat(),
        "event": e.id,
        "class": d.cancellation_class.value,
        "avi_present": d.avi_present,
        "avi_type": d.avi_type.value,
        "role": d.decision_maker_role.value,
        "rationale": d.rationale_present,
        "og": d.offence_group.value,
        "surviving": d.surviving_crime_ref,
    }
    return {
        **f,
        "cancellations": _append(f, "cancellations", item),
        "incident_ref": f.get("incident_ref") or e.incident_ref,
    }


def _victim_notified(f: Facts, e: VictimNotified) -> dict[str, Any]:
    d = e.data
    item = {
        "at": d.notified_at.isoformat(),
        "event": e.id,
        "type": d.notification_type.value,
        "outcome": d.outcome.value,
        "rationale": d.rationale_present,
    }
    return {**f, "notifications": _append(f, "notifications", item)}


def _victim_care_referral(f: Facts, e: VictimCareReferral) -> dict[str, Any]:
    d = e.data
    item = {"at": d.at.isoformat(), "event": e.id, "status": d.status.value}
    return {**f, "referrals": _append(f, "referrals", item)}


CRIME_ABSORBERS: dict[type[Envelope], Callable[[Facts, Any], dict[str, Any]]] = {
    CrimeRecorded: _crime_recorded,
    CrimeReclassified: _crime_reclassified,
    CrimeUpdated: _crime_updated,
    CrimeFiled: _crime_filed,
    CrimeReinstated: _crime_reinstated,
    CancellationRatified: _cancellation_ratified,
    CrimeCancelled: _crime_cancelled,
    VictimNotified: _victim_notified,
    VictimCareReferral: _victim_care_referral,
}


def absorbed_facts(case: CaseState, event: Envelope) -> Facts:
    """The case's facts with the event's added: a new mapping, or the same one if unchanged."""
    table = INCIDENT_ABSORBERS if case.kind is CaseKind.INCIDENT else CRIME_ABSORBERS
    absorber = table.get(type(event))
    if absorber is None:
        return case.facts
    facts = absorber(case.facts, event)  # a new dict: a case's facts are never changed in place
    last = case.facts.get("last_event_at")
    at = event.time.isoformat()
    if last is None or at > last:
        facts["last_event_at"] = at
    return facts


def absorb(case: CaseState, event: Envelope) -> CaseState:
    """The case with the event's facts added (no decisions; see the rule families)."""
    facts = absorbed_facts(case, event)
    if facts is case.facts:
        return case
    return make_case(case.kind, case.key, facts, case.obligations, case.seen, case.purged)
