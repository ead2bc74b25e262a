"""Every code that crosses a topic, as an enum.

Codes, never free text: the rules file (§5) forbids narratives, rationale text and
protected-characteristic values anywhere outside the source systems, so each fact the rules need
arrives as one of these values or a boolean.
"""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    """How the report reached the police (rules file §1, incident)."""

    EMERGENCY_999 = "emergency_999"
    NON_EMERGENCY_101 = "non_emergency_101"
    ONLINE = "online"
    FRONT_COUNTER = "front_counter"
    OFFICER_DISCOVERED = "officer_discovered"
    PROFESSIONAL_THIRD_PARTY = "professional_third_party"
    MARU_EMAIL = "maru_email"
    PPU_DIRECT = "ppu_direct"


class ReporterType(StrEnum):
    """Who made the report; a professional third party's report of rape still needs a record."""

    VICTIM = "victim"
    WITNESS = "witness"
    THIRD_PARTY = "third_party"
    PROFESSIONAL_THIRD_PARTY = "professional_third_party"
    POLICE = "police"


class OffenceGroup(StrEnum):
    """Offence groups the inspection reports on; domestic abuse is a flag, not a group."""

    RAPE = "RAPE"
    OTHER_SEXUAL = "OTHER_SEXUAL"
    VIOLENCE = "VIOLENCE"
    ROBBERY = "ROBBERY"
    MODERN_SLAVERY = "MODERN_SLAVERY"
    PUBLIC_ORDER = "PUBLIC_ORDER"
    HARASSMENT_MALICIOUS_COMMS = "HARASSMENT_MALICIOUS_COMMS"
    BURGLARY = "BURGLARY"
    THEFT = "THEFT"
    CRIMINAL_DAMAGE = "CRIMINAL_DAMAGE"
    OTHER = "OTHER"


SEXUAL_GROUPS = frozenset({OffenceGroup.RAPE, OffenceGroup.OTHER_SEXUAL})


class IncidentCategory(StrEnum):
    """Opening or closing category of a command-and-control incident."""

    CRIME = "crime"
    DOMESTIC_ABUSE = "domestic_abuse"
    SEXUAL = "sexual"
    ASB = "asb"
    CONCERN_FOR_WELFARE = "concern_for_welfare"
    PUBLIC_SAFETY = "public_safety"
    TRANSPORT = "transport"
    ADMINISTRATION = "administration"


class DisclosedVia(StrEnum):
    """Where a further disclosure came from; each starts its own 24-hour clock."""

    INITIAL_REPORT = "initial_report"
    CALL_BACK = "call_back"
    ATTENDING_OFFICER = "attending_officer"
    INVESTIGATION = "investigation"
    PPU = "ppu"
    CUSTODY = "custody"


class ActorRole(StrEnum):
    """Role of whoever acted; authority rules (cancel, file) turn on it."""

    CALL_HANDLER = "call_handler"
    CONTROL_ROOM_SUPERVISOR = "control_room_supervisor"
    ATTENDING_OFFICER = "attending_officer"
    INVESTIGATOR = "investigator"
    UNIFORMED_SERGEANT = "uniformed_sergeant"
    OMU_STAFF = "omu_staff"
    DDM = "ddm"
    FCR = "fcr"
    PPU_OFFICER = "ppu_officer"
    VICTIM_CARE_STAFF = "victim_care_staff"
    SYSTEM = "system"


class ClosureOutcome(StrEnum):
    """How an incident was closed."""

    CRIME_RECORDED = "crime_recorded"
    N100_RECORDED = "n100_recorded"
    CRIME_RELATED_INCIDENT = "crime_related_incident"
    NON_CRIME = "non_crime"
    DUPLICATE = "duplicate"
    TRANSFERRED = "transferred"


class ReviewType(StrEnum):
    """What an incident review checked."""

    SUPERVISOR_CRIME_RECORDING = "supervisor_crime_recording"
    QUALITY_ASSURANCE = "quality_assurance"


class RiskLevel(StrEnum):
    """DASH risk level of a domestic-abuse safeguarding assessment."""

    STANDARD = "standard"
    MEDIUM = "medium"
    HIGH = "high"


class EntitlementCode(StrEnum):
    """Victims' Code enhanced-entitlement grounds (shorter deadlines)."""

    MOST_SERIOUS_CRIME = "most_serious_crime"
    DOMESTIC_ABUSE = "domestic_abuse"
    SEXUAL_OFFENCE = "sexual_offence"
    HATE_CRIME = "hate_crime"
    TRAFFICKING = "trafficking"
    ATTEMPTED_MURDER = "attempted_murder"
    BEREAVED = "bereaved"
    PERSISTENTLY_TARGETED = "persistently_targeted"
    VULNERABLE = "vulnerable"
    UNDER_18 = "under_18"
    INTIMIDATED = "intimidated"


class VictimType(StrEnum):
    """A person victim is owed referral and notifications; an organisation is not."""

    PERSON = "person"
    ORGANISATION = "organisation"


class CancellationClass(StrEnum):
    """Home Office cancellation classes (rules file §1)."""

    C1 = "C1"  # transferred to another force
    C2 = "C2"  # additional verifiable information shows no crime
    C3 = "C3"  # duplicate or part of a crime already recorded
    C4 = "C4"  # recorded in error


class AviType(StrEnum):
    """Kind of additional verifiable information offered for a C2 cancellation.

    The last three are not AVI at all (the inspection's "limited understanding of what amounts
    to AVI"); CANCEL-AUTHORITY flags a C2 resting on them alone.
    """

    NONE = "none"
    INDEPENDENT_WITNESS = "independent_witness"
    CCTV = "cctv"
    DOCUMENTARY = "documentary"
    FORENSIC = "forensic"
    OTHER_VERIFIABLE = "other_verifiable"
    OFFICER_OPINION = "officer_opinion"
    SUSPECT_CLAIMS_CONSENT = "suspect_claims_consent"
    VICTIM_WITHDRAWAL = "victim_withdrawal"


NOT_AVI = frozenset(
    {
        AviType.NONE,
        AviType.OFFICER_OPINION,
        AviType.SUSPECT_CLAIMS_CONSENT,
        AviType.VICTIM_WITHDRAWAL,
    }
)


class N100Reason(StrEnum):
    """Reason an N100 was recorded instead of a rape crime.

    The `doubt_*` codes rest on doubt about the victim, which N100-REASON forbids.
    """

    CREDIBLE_EVIDENCE_NOT_OCCURRED = "credible_evidence_not_occurred"
    OCCURRED_OTHER_FORCE = "occurred_other_force"
    THIRD_PARTY_REPORT_VICTIM_UNTRACED = "third_party_report_victim_untraced"
    AWAITING_VICTIM_ACCOUNT = "awaiting_victim_account"
    DOUBT_MENTAL_HEALTH = "doubt_mental_health"
    DOUBT_INTOXICATION = "doubt_intoxication"
    DOUBT_NOT_SUPPORTING_PROSECUTION = "doubt_not_supporting_prosecution"
    DOUBT_PROFESSIONAL_THIRD_PARTY = "doubt_professional_third_party"


DISALLOWED_N100_REASONS = frozenset(
    {
        N100Reason.DOUBT_MENTAL_HEALTH,
        N100Reason.DOUBT_INTOXICATION,
        N100Reason.DOUBT_NOT_SUPPORTING_PROSECUTION,
        N100Reason.DOUBT_PROFESSIONAL_THIRD_PARTY,
    }
)


class N100Outcome(StrEnum):
    """How an open N100 was resolved (N100-AGEING)."""

    CONVERTED_TO_CRIME = "converted_to_crime"
    TRANSFERRED = "transferred"
    RETAINED_FCR_REASON = "retained_fcr_reason"


class NotificationType(StrEnum):
    """What the victim was told."""

    CRIME_RECORDED = "crime_recorded"
    CANCELLATION = "cancellation"
    TRANSFER = "transfer"
    NOT_RECORDED = "not_recorded"


class NotificationOutcome(StrEnum):
    """Whether the message reached the victim."""

    DELIVERED = "delivered"
    ATTEMPT_FAILED = "attempt_failed"
    OPTED_OUT = "opted_out"
    UNSAFE_TO_CONTACT = "unsafe_to_contact"


class NotificationMethod(StrEnum):
    """How the victim was contacted."""

    LETTER = "letter"
    EMAIL = "email"
    SMS = "sms"
    PHONE = "phone"
    IN_PERSON = "in_person"


class ReferralStatus(StrEnum):
    """State of a victim-care referral (Victims' Code para 4.5)."""

    MADE = "made"
    DECLINED = "declined"
    CONSENT_REQUESTED = "consent_requested"
    CONSENT_REFUSED = "consent_refused"
    NOT_ELIGIBLE = "not_eligible"
    SELF_REFERRED = "self_referred"


class FilingOutcome(StrEnum):
    """Outcome under which a crime was filed (finalised)."""

    CHARGED = "charged"
    OUT_OF_COURT = "out_of_court"
    EVIDENTIAL_DIFFICULTIES = "evidential_difficulties"
    NO_SUSPECT = "no_suspect"
    OTHER = "other"


class Severity(StrEnum):
    """Alert severity (rules file §3)."""

    S1 = "S1"
    S2 = "S2"
    S3 = "S3"
    S4 = "S4"


class Stage(StrEnum):
    """Lifecycle stage of an alert."""

    DUE_SOON = "due_soon"
    BREACHED = "breached"
    ESCALATED = "escalated"
    RESOLVED_LATE = "resolved_late"
    RETRACTED = "retracted"
    UNDECIDED = "undecided"


class Queue(StrEnum):
    """Work queue that owns an alert; each has its own compacted topic."""

    OMU = "omu"
    FCR = "fcr"
    VICTIM_CARE = "victim_care"
    PPU = "ppu"
    CONTROL_ROOM = "control_room"
    DATA_QUALITY = "data_quality"


class Cause(StrEnum):
    """Why a victim-care referral was late (CARE-REFERRAL)."""

    RECORDING_DELAY = "RECORDING_DELAY"
    REFERRAL_DELAY = "REFERRAL_DELAY"


class ClockKind(StrEnum):
    """Which clock decided a stage: wall clock live, event-time watermark in replay.

    `event_time` marks decisions taken by an event itself (a late record closing a breach),
    which depend on no clock at all.
    """

    WALL_CLOCK = "wall_clock"
    EVENT_TIME_WATERMARK = "event_time_watermark"
    EVENT_TIME = "event_time"
