"""Factories for valid input events, so tests state only what matters to them.

Every `make_<type>(**overrides)` returns a validated event model; `make_event_dict(type,
**overrides)` returns the same event as the JSON-able dict a producer would send, without
validating it, so a test can break one field and check the rejection.

Overrides are flat: a keyword naming an envelope field (`id`, `time`, `incident_ref`, ...) sets it
on the envelope, any other keyword sets that field of `data`; `data={...}` merges a dict into the
payload (needed only for `N100Resolved.data.crime_ref`, which shares its name with the envelope
ref). Values may be models, enums or datetimes; they are converted to JSON form.

Defaults: force `CHE`, area `CH-WAR`, times in March 2016 (UTC), and ids unique per call from a
counter (deterministic, no uuid4). The event `time` follows the payload's own timestamp
(`received_at`, `recorded_at`, ...) when only one of them is given, so
`make_incident_reported(received_at=t)` is an event that happened at `t`.
"""

from __future__ import annotations

import base64
import itertools
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic_core import to_jsonable_python

from schemas.alerts import AlertEvent, Evidence, SubjectRefs, WorkItem
from schemas.codes import (
    ActorRole,
    AviType,
    CancellationClass,
    Channel,
    ClockKind,
    ClosureOutcome,
    DisclosedVia,
    FilingOutcome,
    IncidentCategory,
    N100Outcome,
    N100Reason,
    NotificationMethod,
    NotificationOutcome,
    NotificationType,
    OffenceGroup,
    Queue,
    ReferralStatus,
    ReporterType,
    ReviewType,
    RiskLevel,
    Severity,
    Stage,
    VictimType,
)
from schemas.deadletter import DeadLetter, DeadLetterOrigin, DeadLetterReason
from schemas.events import (
    INPUT_EVENT_TYPES,
    CancellationRatified,
    CrimeCancelled,
    CrimeFiled,
    CrimeReclassified,
    CrimeRecorded,
    CrimeReinstated,
    CrimeUpdated,
    Disclosure,
    DisclosureAdded,
    Envelope,
    EqualityFields,
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

FORCE_CODE = "CHE"
AREA = "CH-WAR"
T0 = datetime(2016, 3, 1, 9, 0, tzinfo=UTC)
"""Default event time: a Tuesday, clear of bank holidays and clock changes."""

_counter = itertools.count(1)
_ENVELOPE_FIELDS = frozenset(Envelope.model_fields)


def reset_ids() -> None:
    """Restart the id counter (for a test that asserts on generated ids)."""
    global _counter  # noqa: PLW0603 - the counter is the factories' only state
    _counter = itertools.count(1)


def next_id(prefix: str) -> str:
    """A fresh deterministic id such as `INC-000007`."""
    return f"{prefix}-{next(_counter):06d}"


def at(hours: float = 0.0, *, start: datetime = T0) -> datetime:
    """`start` (default T0) plus a number of hours: `at(25)` is a day and an hour after T0."""
    return start + timedelta(hours=hours)


def make_disclosure(*, victims: list[str] | None = None, **overrides: Any) -> Disclosure:
    """One disclosure (default: violence against one new victim, one offender).

    `victims=[...]` is shorthand for `victim_pseudo_ids`.
    """
    fields: dict[str, Any] = {
        "disclosure_id": next_id("DIS"),
        "offence_group": OffenceGroup.VIOLENCE,
        "victim_pseudo_ids": [next_id("V")],
        "offender_count": 1,
    }
    if victims is not None:
        fields["victim_pseudo_ids"] = victims
    fields.update(overrides)
    return Disclosure.model_validate(to_jsonable_python(fields))


def make_equality_fields(**overrides: bool) -> EqualityFields:
    """Equality fields present on a crime record (default: age and sex, the inspection minimum)."""
    return EqualityFields.model_validate({"age": True, "sex": True, **overrides})


# --- per-type defaults ----------------------------------------------------------------------
# Each entry: (source, payload timestamp field, builder of default envelope refs, builder of
# default data given the event time).

_DataDefaults = Callable[[datetime], dict[str, Any]]
_RefDefaults = Callable[[], dict[str, Any]]


def _incident_refs() -> dict[str, Any]:
    return {"incident_ref": next_id("INC")}


def _n100_refs() -> dict[str, Any]:
    return {"incident_ref": next_id("INC"), "n100_ref": next_id("N100")}


def _crime_refs() -> dict[str, Any]:
    return {"crime_ref": next_id("CRI"), "victim_pseudo_id": next_id("V")}


def _crime_recorded_refs() -> dict[str, Any]:
    return {
        "crime_ref": next_id("CRI"),
        "incident_ref": next_id("INC"),
        "victim_pseudo_id": next_id("V"),
    }


_C2C = "urn:ncrs:che:command-and-control"
_RMS = "urn:ncrs:che:records"
_CARE = "urn:ncrs:che:victim-care"

_SPECS: dict[str, tuple[str, str, _RefDefaults, _DataDefaults]] = {
    "incident.reported": (
        _C2C,
        "received_at",
        _incident_refs,
        lambda t: {
            "received_at": t,
            "channel": Channel.EMERGENCY_999,
            "reporter_type": ReporterType.VICTIM,
            "opening_category": IncidentCategory.CRIME,
            "flags": {},
            "disclosures": [make_disclosure()],
            "enhanced_entitlement": [],
            "area": AREA,
        },
    ),
    "incident.disclosure_added": (
        _C2C,
        "disclosed_at",
        _incident_refs,
        lambda t: {
            "disclosure": make_disclosure(),
            "disclosed_at": t,
            "disclosed_via": DisclosedVia.ATTENDING_OFFICER,
            "flags": {},
        },
    ),
    "incident.closed": (
        _C2C,
        "closed_at",
        _incident_refs,
        lambda t: {
            "closed_at": t,
            "outcome": ClosureOutcome.CRIME_RECORDED,
            "closing_category": IncidentCategory.CRIME,
            "linked_crime_refs": [],
            "linked_n100_refs": [],
            "rationale_present": True,
            "supervisor_review": False,
        },
    ),
    "incident.reviewed": (
        _C2C,
        "reviewed_at",
        _incident_refs,
        lambda t: {
            "reviewed_at": t,
            "review_type": ReviewType.SUPERVISOR_CRIME_RECORDING,
            "reviewer_role": ActorRole.CONTROL_ROOM_SUPERVISOR,
        },
    ),
    "safeguarding.assessed": (
        _C2C,
        "assessed_at",
        _incident_refs,
        lambda t: {"assessed_at": t, "risk_level": RiskLevel.STANDARD, "marac_referral": False},
    ),
    "nrm.referral_made": (
        _C2C,
        "referred_at",
        _incident_refs,
        lambda t: {"referred_at": t, "child_victim": False, "area": AREA},
    ),
    "n100.recorded": (
        _RMS,
        "recorded_at",
        _n100_refs,
        lambda t: {
            "recorded_at": t,
            "reason": N100Reason.OCCURRED_OTHER_FORCE,
            "recorded_by_role": ActorRole.OMU_STAFF,
        },
    ),
    "n100.resolved": (
        _RMS,
        "resolved_at",
        _n100_refs,
        lambda t: {"resolved_at": t, "outcome": N100Outcome.TRANSFERRED},
    ),
    "crime.recorded": (
        _RMS,
        "recorded_at",
        _crime_recorded_refs,
        lambda t: {
            "disclosure_ids": [],
            "reported_at": t - timedelta(hours=1),
            "recorded_at": t,
            "home_office_code": "8N",
            "offence_group": OffenceGroup.VIOLENCE,
            "victim_type": VictimType.PERSON,
            "flags": {},
            "recorded_by_role": ActorRole.OMU_STAFF,
            "enhanced_entitlement": [],
            "equality_fields_present": make_equality_fields(),
            "area": AREA,
        },
    ),
    "crime.reclassified": (
        _RMS,
        "reclassified_at",
        _crime_refs,
        lambda t: {
            "reclassified_at": t,
            "home_office_code": "19C",
            "offence_group": OffenceGroup.RAPE,
            "rationale_present": True,
            "ratified_by_fcr": False,
        },
    ),
    "crime.updated": (
        _RMS,
        "updated_at",
        _crime_refs,
        lambda t: {"updated_at": t, "equality_fields_present": make_equality_fields()},
    ),
    "crime.filed": (
        _RMS,
        "filed_at",
        _crime_refs,
        lambda t: {
            "filed_at": t,
            "filed_by_role": ActorRole.OMU_STAFF,
            "outcome": FilingOutcome.NO_SUSPECT,
        },
    ),
    "crime.reinstated": (_RMS, "reinstated_at", _crime_refs, lambda t: {"reinstated_at": t}),
    "crime.cancellation_ratified": (
        _RMS,
        "ratified_at",
        _crime_refs,
        lambda t: {"ratified_at": t, "ratified_by_role": ActorRole.FCR},
    ),
    "crime.cancelled": (
        _RMS,
        "cancelled_at",
        _crime_refs,
        lambda t: {
            "cancelled_at": t,
            "cancellation_class": CancellationClass.C4,
            "avi_present": False,
            "avi_type": AviType.NONE,
            "decision_maker_role": ActorRole.DDM,
            "rationale_present": True,
            "offence_group": OffenceGroup.VIOLENCE,
        },
    ),
    "victim.notified": (
        _RMS,
        "notified_at",
        _crime_refs,
        lambda t: {
            "notified_at": t,
            "notification_type": NotificationType.CRIME_RECORDED,
            "outcome": NotificationOutcome.DELIVERED,
            "method": NotificationMethod.LETTER,
            "rationale_present": False,
        },
    ),
    "victim_care.referral": (
        _CARE,
        "at",
        _crime_refs,
        lambda t: {"status": ReferralStatus.MADE, "at": t, "provider": "cheshire-cares"},
    ),
}


def make_event_dict(event_type: str, **overrides: Any) -> dict[str, Any]:
    """The JSON-able dict of one event of `event_type`, defaults plus overrides, not validated.

    Unknown keywords go into `data`, so a test can also add fields the contract does not name.
    """
    source, when_field, ref_defaults, data_defaults = _SPECS[event_type]
    data_override = dict(overrides.pop("data", None) or {})
    envelope_over = {k: v for k, v in overrides.items() if k in _ENVELOPE_FIELDS}
    data_over = {k: v for k, v in overrides.items() if k not in _ENVELOPE_FIELDS}
    data_over.update(data_override)

    if "time" in envelope_over and when_field not in data_over:
        when = envelope_over["time"]
    else:
        when = data_over.get(when_field, T0)
    envelope_over.setdefault("time", when)

    cls = INPUT_EVENT_TYPES[event_type]
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": next_id("EVT"),
        "source": source,
        "type": event_type,
        "force_code": FORCE_CODE,
        "schema_version": cls.SCHEMA_VERSION,
        **ref_defaults(),
        **envelope_over,
    }
    if isinstance(when, datetime):
        data = {**data_defaults(when), **data_over}
    else:  # a test passing a malformed timestamp: keep the defaults well-formed around it
        data = {**data_defaults(T0), **data_over}
    event["data"] = data
    jsonable: dict[str, Any] = to_jsonable_python(event)
    return jsonable


def make_event(event_type: str, **overrides: Any) -> Envelope:
    """A validated event of `event_type` (see `make_event_dict` for the overrides)."""
    return INPUT_EVENT_TYPES[event_type].model_validate(make_event_dict(event_type, **overrides))


def make_incident_reported(**overrides: Any) -> IncidentReported:
    """An incident reported by a victim on 999 with one violence disclosure."""
    return IncidentReported.model_validate(make_event_dict("incident.reported", **overrides))


def make_disclosure_added(**overrides: Any) -> DisclosureAdded:
    """A further violence disclosure added by the attending officer."""
    return DisclosureAdded.model_validate(make_event_dict("incident.disclosure_added", **overrides))


def make_incident_closed(**overrides: Any) -> IncidentClosed:
    """An incident closed as crime recorded, with a rationale."""
    return IncidentClosed.model_validate(make_event_dict("incident.closed", **overrides))


def make_incident_reviewed(**overrides: Any) -> IncidentReviewed:
    """A control-room supervisor's crime-recording review."""
    return IncidentReviewed.model_validate(make_event_dict("incident.reviewed", **overrides))


def make_safeguarding_assessed(**overrides: Any) -> SafeguardingAssessed:
    """A standard-risk safeguarding assessment without MARAC referral."""
    return SafeguardingAssessed.model_validate(
        make_event_dict("safeguarding.assessed", **overrides)
    )


def make_nrm_referral_made(**overrides: Any) -> NrmReferralMade:
    """An adult NRM referral in area CH-WAR."""
    return NrmReferralMade.model_validate(make_event_dict("nrm.referral_made", **overrides))


def make_n100_recorded(**overrides: Any) -> N100Recorded:
    """An N100 recorded for an allowed reason (occurred in another force)."""
    return N100Recorded.model_validate(make_event_dict("n100.recorded", **overrides))


def make_n100_resolved(**overrides: Any) -> N100Resolved:
    """An N100 resolved by transfer (`data={"crime_ref": ...}` for a conversion)."""
    return N100Resolved.model_validate(make_event_dict("n100.resolved", **overrides))


def make_crime_recorded(**overrides: Any) -> CrimeRecorded:
    """A violence crime (8N) against a person, recorded by the OMU an hour after the report."""
    return CrimeRecorded.model_validate(make_event_dict("crime.recorded", **overrides))


def make_crime_recording(
    disclosure: Disclosure, *, incident_ref: str, crime_ref: str, **overrides: Any
) -> CrimeRecorded:
    """A crime record of `disclosure` in incident `incident_ref`: its victim and its id, so it
    satisfies the recording duty the disclosure opened (times and the rest as overridden)."""
    return make_crime_recorded(
        crime_ref=crime_ref,
        incident_ref=incident_ref,
        victim_pseudo_id=disclosure.victim_pseudo_ids[0],
        disclosure_ids=[disclosure.disclosure_id],
        **overrides,
    )


def make_crime_reclassified(**overrides: Any) -> CrimeReclassified:
    """A reclassification to rape (19C) with a rationale."""
    return CrimeReclassified.model_validate(make_event_dict("crime.reclassified", **overrides))


def make_crime_updated(**overrides: Any) -> CrimeUpdated:
    """An update completing age and sex."""
    return CrimeUpdated.model_validate(make_event_dict("crime.updated", **overrides))


def make_crime_filed(**overrides: Any) -> CrimeFiled:
    """A crime filed by OMU staff with no suspect."""
    return CrimeFiled.model_validate(make_event_dict("crime.filed", **overrides))


def make_crime_reinstated(**overrides: Any) -> CrimeReinstated:
    """A cancelled crime reinstated."""
    return CrimeReinstated.model_validate(make_event_dict("crime.reinstated", **overrides))


def make_cancellation_ratified(**overrides: Any) -> CancellationRatified:
    """A cancellation ratified by the FCR."""
    return CancellationRatified.model_validate(
        make_event_dict("crime.cancellation_ratified", **overrides)
    )


def make_crime_cancelled(**overrides: Any) -> CrimeCancelled:
    """A violence crime cancelled C4 (recorded in error) by a DDM with a rationale."""
    return CrimeCancelled.model_validate(make_event_dict("crime.cancelled", **overrides))


def make_victim_notified(**overrides: Any) -> VictimNotified:
    """A crime-recorded letter delivered to the victim."""
    return VictimNotified.model_validate(make_event_dict("victim.notified", **overrides))


def make_victim_care_referral(**overrides: Any) -> VictimCareReferral:
    """A referral made to the victim-care unit."""
    return VictimCareReferral.model_validate(make_event_dict("victim_care.referral", **overrides))


FACTORIES: dict[str, Callable[..., Envelope]] = {
    "incident.reported": make_incident_reported,
    "incident.disclosure_added": make_disclosure_added,
    "incident.closed": make_incident_closed,
    "incident.reviewed": make_incident_reviewed,
    "safeguarding.assessed": make_safeguarding_assessed,
    "nrm.referral_made": make_nrm_referral_made,
    "n100.recorded": make_n100_recorded,
    "n100.resolved": make_n100_resolved,
    "crime.recorded": make_crime_recorded,
    "crime.reclassified": make_crime_reclassified,
    "crime.updated": make_crime_updated,
    "crime.filed": make_crime_filed,
    "crime.reinstated": make_crime_reinstated,
    "crime.cancellation_ratified": make_cancellation_ratified,
    "crime.cancelled": make_crime_cancelled,
    "victim.notified": make_victim_notified,
    "victim_care.referral": make_victim_care_referral,
}
"""Event type to its factory; covers every type in `INPUT_EVENT_TYPES`."""

ALL_EVENT_TYPES: tuple[str, ...] = tuple(INPUT_EVENT_TYPES)


# --- outbound contracts ---------------------------------------------------------------------


def _uuid(prefix: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:ncrs:test:{next_id(prefix)}"))


def make_alert_event(**overrides: Any) -> AlertEvent:
    """A REC-24H breach alert on the OMU queue for a new incident (ids from uuid5, not random)."""
    fields: dict[str, Any] = {
        "alert_id": _uuid("ALERT"),
        "obligation_id": _uuid("OBL"),
        "rule_id": "REC-24H",
        "ruleset_id": "ncrs-2015",
        "stage": Stage.BREACHED,
        "severity": Severity.S2,
        "queue": Queue.OMU,
        "force_code": FORCE_CODE,
        "subject": SubjectRefs(incident_ref=next_id("INC"), disclosure_id=next_id("DIS")),
        "offence_group": OffenceGroup.VIOLENCE,
        "area": AREA,
        "reason_code": "not_recorded_within_24h",
        "deadline": at(24),
        "minutes_late": 0,
        "evidence": Evidence(
            trigger_event_ids=[next_id("EVT")],
            clock_start=T0,
            deadline_basis="elapsed_24h",
            clock=at(24),
            clock_kind=ClockKind.WALL_CLOCK,
        ),
    }
    fields.update(overrides)
    return AlertEvent.model_validate(to_jsonable_python(fields))


def make_work_item(**overrides: Any) -> WorkItem:
    """The open OMU work item of a REC-24H breach."""
    fields: dict[str, Any] = {
        "item_id": _uuid("OBL"),
        "queue": Queue.OMU,
        "rule_id": "REC-24H",
        "ruleset_id": "ncrs-2015",
        "stage": Stage.BREACHED,
        "severity": Severity.S2,
        "alert_id": _uuid("ALERT"),
        "force_code": FORCE_CODE,
        "subject": SubjectRefs(incident_ref=next_id("INC")),
        "offence_group": OffenceGroup.VIOLENCE,
        "area": AREA,
        "reason_code": "not_recorded_within_24h",
        "deadline": at(24),
        "updated_at": at(24),
    }
    fields.update(overrides)
    return WorkItem.model_validate(to_jsonable_python(fields))


def make_dead_letter(**overrides: Any) -> DeadLetter:
    """A dead letter for invalid JSON read from partition 0 of the incidents topic."""
    fields: dict[str, Any] = {
        "dead_letter_id": next_id("DL"),
        "reason": DeadLetterReason.INVALID_JSON,
        "error": "invalid JSON at line 1 column 2: Expecting value",
        "original_b64": base64.b64encode(b"{not json").decode("ascii"),
        "origin": DeadLetterOrigin(topic="ncrs.incidents.v1", partition=0, offset=42),
        "detected_at": T0,
    }
    fields.update(overrides)
    return DeadLetter.model_validate(to_jsonable_python(fields))
