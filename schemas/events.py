"""Inbound events (rules file §4): a CloudEvents 1.0 envelope with the payload under `data`.

Routing keys (see `streams/topics.py`): incident-side events are keyed by `incident_ref`,
crime-side events by `crime_ref`. Each event class names the refs it must carry, so a producer
that forgets one is told at decode time rather than producing an obligation nobody can close.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from schemas.base import (
    AreaCode,
    EventId,
    ForceCode,
    HomeOfficeCode,
    InboundModel,
    Ref,
    UtcDatetime,
)
from schemas.codes import (
    ActorRole,
    AviType,
    CancellationClass,
    Channel,
    ClosureOutcome,
    DisclosedVia,
    EntitlementCode,
    FilingOutcome,
    IncidentCategory,
    N100Outcome,
    N100Reason,
    NotificationMethod,
    NotificationOutcome,
    NotificationType,
    OffenceGroup,
    ReferralStatus,
    ReporterType,
    ReviewType,
    RiskLevel,
    VictimType,
)

SourceUri = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:/-]+$")]


class Envelope(InboundModel):
    """CloudEvents 1.0 attributes plus the force, the contract version and correlation refs."""

    REQUIRED_REFS: ClassVar[tuple[str, ...]] = ()
    SCHEMA_VERSION: ClassVar[int] = 1

    specversion: Literal["1.0"] = "1.0"
    id: EventId
    source: SourceUri
    type: str
    time: UtcDatetime
    subject: Ref | None = None
    dataschema: Annotated[str, Field(max_length=256)] | None = None
    force_code: ForceCode
    schema_version: Annotated[int, Field(ge=1)] = 1
    actor_role: ActorRole | None = None
    incident_ref: Ref | None = None
    disclosure_id: Ref | None = None
    crime_ref: Ref | None = None
    n100_ref: Ref | None = None
    victim_pseudo_id: Ref | None = None

    @model_validator(mode="after")
    def _refs_present(self) -> Envelope:
        missing = [name for name in self.REQUIRED_REFS if getattr(self, name) is None]
        if missing:
            msg = f"{self.type} requires {', '.join(missing)}"
            raise ValueError(msg)
        return self

    @property
    def dedup_key(self) -> str:
        """Same source + id is the same event, however often it is delivered."""
        return f"{self.source}|{self.id}"


# --- payload parts -------------------------------------------------------------------------


class IncidentFlags(InboundModel):
    """Flags set by the call handler; each may open its own obligation."""

    domestic_abuse: bool = False
    sexual: bool = False
    rape_alleged: bool = False
    child_victim: bool = False
    modern_slavery: bool = False
    hate: bool = False


class Disclosure(InboundModel):
    """One alleged crime within an incident; its clock is its own."""

    disclosure_id: Ref
    offence_group: OffenceGroup
    victim_pseudo_ids: Annotated[list[Ref], Field(max_length=200)] = Field(default_factory=list)
    offender_count: Annotated[int, Field(ge=0, le=1000)] = 1
    attempted: bool = False


class CrimeFlags(InboundModel):
    """Flags on a crime record."""

    domestic_abuse: bool = False
    child_victim: bool = False
    hate: bool = False


class EqualityFields(InboundModel):
    """Which equality fields a crime record captures: presence only, never the values."""

    age: bool = False
    sex: bool = False
    ethnicity: bool = False
    disability: bool = False
    religion: bool = False
    sexual_orientation: bool = False


# --- incident-side events (key: incident_ref) -----------------------------------------------


class IncidentReportedData(InboundModel):
    received_at: UtcDatetime
    channel: Channel
    reporter_type: ReporterType
    opening_category: IncidentCategory
    flags: IncidentFlags = Field(default_factory=IncidentFlags)
    disclosures: Annotated[list[Disclosure], Field(max_length=100)] = Field(default_factory=list)
    enhanced_entitlement: list[EntitlementCode] = Field(default_factory=list)
    area: AreaCode


class IncidentReported(Envelope):
    """A report reached command and control; each disclosure in it starts a recording clock."""

    REQUIRED_REFS: ClassVar[tuple[str, ...]] = ("incident_ref",)
    type: Literal["incident.reported"] = "incident.reported"
    data: IncidentReportedData


class DisclosureAddedData(InboundModel):
    disclosure: Disclosure
    disclosed_at: UtcDatetime
    disclosed_via: DisclosedVia
    flags: IncidentFlags = Field(default_factory=IncidentFlags)


class DisclosureAdded(Envelope):
    """A further crime came to light later; it has its own 24-hour clock from `disclosed_at`."""

    REQUIRED_REFS: ClassVar[tuple[str, ...]] = ("incident_ref",)
    type: Literal["incident.disclosure_added"] = "incident.disclosure_added"
    data: DisclosureAddedData


class IncidentClosedData(InboundModel):
    closed_at: UtcDatetime
    outcome: ClosureOutcome
    closing_category: IncidentCategory
    linked_crime_refs: list[Ref] = Field(default_factory=list)
    linked_n100_refs: list[Ref] = Field(default_factory=list)
    rationale_present: bool = False
    supervisor_review: bool = False


class IncidentClosed(Envelope):
    """The incident was closed; a non-crime closure of DA, sexual or ASB needs review."""

    REQUIRED_REFS: ClassVar[tuple[str, ...]] = ("incident_ref",)
    type: Literal["incident.closed"] = "incident.closed"
    data: IncidentClosedData


class IncidentReviewedData(InboundModel):
    reviewed_at: UtcDatetime
    review_type: ReviewType = ReviewType.SUPERVISOR_CRIME_RECORDING
    reviewer_role: ActorRole


class IncidentReviewed(Envelope):
    """A supervisor reviewed the incident's crime-recording decision."""

    REQUIRED_REFS: ClassVar[tuple[str, ...]] = ("incident_ref",)
    type: Literal["incident.reviewed"] = "incident.reviewed"
    data: IncidentReviewedData


class SafeguardingAssessedData(InboundModel):
    assessed_at: UtcDatetime
    risk_level: RiskLevel
    marac_referral: bool = False


class SafeguardingAssessed(Envelope):
    """A domestic-abuse risk assessment was completed."""

    REQUIRED_REFS: ClassVar[tuple[str, ...]] = ("incident_ref",)
    type: Literal["safeguarding.assessed"] = "safeguarding.assessed"
    data: SafeguardingAssessedData


class NrmReferralMadeData(InboundModel):
    referred_at: UtcDatetime
    child_victim: bool = False
    area: AreaCode | None = None


class NrmReferralMade(Envelope):
    """The police made a National Referral Mechanism referral; it must become a crime."""

    REQUIRED_REFS: ClassVar[tuple[str, ...]] = ("incident_ref",)
    type: Literal["nrm.referral_made"] = "nrm.referral_made"
    data: NrmReferralMadeData


class N100RecordedData(InboundModel):
    recorded_at: UtcDatetime
    reason: N100Reason
    recorded_by_role: ActorRole | None = None


class N100Recorded(Envelope):
    """A rape report was classified N100 instead of being recorded as a rape crime."""

    REQUIRED_REFS: ClassVar[tuple[str, ...]] = ("incident_ref", "n100_ref")
    type: Literal["n100.recorded"] = "n100.recorded"
    data: N100RecordedData


class N100ResolvedData(InboundModel):
    resolved_at: UtcDatetime
    outcome: N100Outcome
    crime_ref: Ref | None = None


class N100Resolved(Envelope):
    """An open N100 was converted to a crime, transferred, or retained with an FCR reason."""

    REQUIRED_REFS: ClassVar[tuple[str, ...]] = ("incident_ref", "n100_ref")
    type: Literal["n100.resolved"] = "n100.resolved"
    data: N100ResolvedData


# --- crime-side events (key: crime_ref) -----------------------------------------------------


class CrimeRecordedData(InboundModel):
    disclosure_ids: list[Ref] = Field(default_factory=list)
    reported_at: UtcDatetime
    recorded_at: UtcDatetime
    home_office_code: HomeOfficeCode
    offence_group: OffenceGroup
    victim_type: VictimType = VictimType.PERSON
    flags: CrimeFlags = Field(default_factory=CrimeFlags)
    recorded_by_role: ActorRole
    enhanced_entitlement: list[EntitlementCode] = Field(default_factory=list)
    equality_fields_present: EqualityFields = Field(default_factory=EqualityFields)
    area: AreaCode


class CrimeRecorded(Envelope):
    """A notifiable crime was recorded; updates both the incident and the crime aggregate."""

    REQUIRED_REFS: ClassVar[tuple[str, ...]] = ("crime_ref",)
    type: Literal["crime.recorded"] = "crime.recorded"
    data: CrimeRecordedData


class CrimeReclassifiedData(InboundModel):
    reclassified_at: UtcDatetime
    home_office_code: HomeOfficeCode
    offence_group: OffenceGroup
    rationale_present: bool = False
    ratified_by_fcr: bool = False


class CrimeReclassified(Envelope):
    """The crime's Home Office classification changed."""

    REQUIRED_REFS: ClassVar[tuple[str, ...]] = ("crime_ref",)
    type: Literal["crime.reclassified"] = "crime.reclassified"
    data: CrimeReclassifiedData


class CrimeUpdatedData(InboundModel):
    updated_at: UtcDatetime
    equality_fields_present: EqualityFields


class CrimeUpdated(Envelope):
    """The crime record was updated (equality fields completed, for example)."""

    REQUIRED_REFS: ClassVar[tuple[str, ...]] = ("crime_ref",)
    type: Literal["crime.updated"] = "crime.updated"
    data: CrimeUpdatedData


class CrimeFiledData(InboundModel):
    filed_at: UtcDatetime
    filed_by_role: ActorRole
    outcome: FilingOutcome = FilingOutcome.OTHER


class CrimeFiled(Envelope):
    """The crime was filed (finalised); only authorised roles may do so."""

    REQUIRED_REFS: ClassVar[tuple[str, ...]] = ("crime_ref",)
    type: Literal["crime.filed"] = "crime.filed"
    data: CrimeFiledData


class CrimeReinstatedData(InboundModel):
    reinstated_at: UtcDatetime


class CrimeReinstated(Envelope):
    """A cancelled crime was reinstated; closes a CANCEL-AUTHORITY finding."""

    REQUIRED_REFS: ClassVar[tuple[str, ...]] = ("crime_ref",)
    type: Literal["crime.reinstated"] = "crime.reinstated"
    data: CrimeReinstatedData


class CancellationRatifiedData(InboundModel):
    ratified_at: UtcDatetime
    ratified_by_role: ActorRole


class CancellationRatified(Envelope):
    """The FCR ratified a cancellation; closes a CANCEL-AUTHORITY finding."""

    REQUIRED_REFS: ClassVar[tuple[str, ...]] = ("crime_ref",)
    type: Literal["crime.cancellation_ratified"] = "crime.cancellation_ratified"
    data: CancellationRatifiedData


class CrimeCancelledData(InboundModel):
    cancelled_at: UtcDatetime
    cancellation_class: CancellationClass
    avi_present: bool = False
    avi_type: AviType = AviType.NONE
    decision_maker_role: ActorRole
    rationale_present: bool = False
    offence_group: OffenceGroup
    surviving_crime_ref: Ref | None = None


class CrimeCancelled(Envelope):
    """A recorded crime was cancelled (C1-C4).

    Version 2 renamed v1's `class_code` to `cancellation_class`; `schemas.registry` upcasts v1.
    """

    REQUIRED_REFS: ClassVar[tuple[str, ...]] = ("crime_ref",)
    SCHEMA_VERSION: ClassVar[int] = 2
    type: Literal["crime.cancelled"] = "crime.cancelled"
    schema_version: Annotated[int, Field(ge=1)] = 2
    data: CrimeCancelledData


class VictimNotifiedData(InboundModel):
    notified_at: UtcDatetime
    notification_type: NotificationType
    outcome: NotificationOutcome
    method: NotificationMethod
    rationale_present: bool = False


class VictimNotified(Envelope):
    """The victim was (or could not be) told something about their crime."""

    REQUIRED_REFS: ClassVar[tuple[str, ...]] = ("crime_ref",)
    type: Literal["victim.notified"] = "victim.notified"
    data: VictimNotifiedData


class VictimCareReferralData(InboundModel):
    status: ReferralStatus
    at: UtcDatetime
    provider: Annotated[str, Field(max_length=32, pattern=r"^[A-Za-z0-9_-]+$")] = "victim-care"


class VictimCareReferral(Envelope):
    """A change in the victim's referral to the victim-care unit."""

    REQUIRED_REFS: ClassVar[tuple[str, ...]] = ("crime_ref",)
    type: Literal["victim_care.referral"] = "victim_care.referral"
    data: VictimCareReferralData


InputEvent = Annotated[
    IncidentReported
    | DisclosureAdded
    | IncidentClosed
    | IncidentReviewed
    | SafeguardingAssessed
    | NrmReferralMade
    | N100Recorded
    | N100Resolved
    | CrimeRecorded
    | CrimeReclassified
    | CrimeUpdated
    | CrimeFiled
    | CrimeReinstated
    | CancellationRatified
    | CrimeCancelled
    | VictimNotified
    | VictimCareReferral,
    Field(discriminator="type"),
]

EVENT_CLASSES: tuple[type[Envelope], ...] = (
    IncidentReported,
    DisclosureAdded,
    IncidentClosed,
    IncidentReviewed,
    SafeguardingAssessed,
    NrmReferralMade,
    N100Recorded,
    N100Resolved,
    CrimeRecorded,
    CrimeReclassified,
    CrimeUpdated,
    CrimeFiled,
    CrimeReinstated,
    CancellationRatified,
    CrimeCancelled,
    VictimNotified,
    VictimCareReferral,
)

INPUT_EVENT_TYPES: dict[str, type[Envelope]] = {
    cls.model_fields["type"].default: cls for cls in EVENT_CLASSES
}
"""Event type name to its class."""
