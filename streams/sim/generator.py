"""Seeded generator of a force's event stream, with every breach it plants written down.

The simulator turns a profile (`streams/profiles/*.json`, the inspection's figures as data) into
the events a force's systems would send: incidents by channel and area, crime disclosures (several
victims, further disclosures later), crimes recorded on time, late or not at all, rape reports
recorded, N100'd (with sound or unsound reasons) or misclassified, cancellations by the right or
the wrong person, victims told or not, victim-care referrals, confirmations, equality data,
domestic-abuse safeguarding, modern slavery and filings. The feed itself is imperfect as a real
one is: events arrive late and out of order (never by more than the replay's lateness window),
some twice, and a small share of lines is malformed.

Planting is exact: each duty a generated case owes is decided here (met on time, late, or never)
and recorded in a `Ledger` with the subject the rule families use, so a replay of the file can be
checked breach for breach against the truth file. Everything draws from one `random.Random(seed)`
and ids are derived from counters, so the same arguments give the same bytes.
"""

from __future__ import annotations

import gzip
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random
from typing import Any

from schemas.codes import (
    DISALLOWED_N100_REASONS,
    ActorRole,
    AviType,
    CancellationClass,
    Channel,
    ClosureOutcome,
    DisclosedVia,
    EntitlementCode,
    IncidentCategory,
    N100Outcome,
    N100Reason,
    NotificationMethod,
    NotificationOutcome,
    NotificationType,
    OffenceGroup,
    ReferralStatus,
    ReporterType,
    RiskLevel,
)
from streams.sim.profile import Profile
from streams.sim.truth import Ledger, Truth

DEFAULT_START = datetime(2016, 6, 1, tzinfo=UTC)
"""First day of the simulated period: the start of HMIC's Cheshire audit period (2016)."""

TAIL_DAYS = 7
"""Days after the last incident during which follow-up events (late records, referrals,
cancellations) are still written: an extract of a period's history, not a cut at midnight."""

DEFAULT_LATENESS_SECONDS = 3600.0
"""The replay's default lateness window; no generated event arrives later than this."""

_C2C = "urn:ncrs:sim:command-and-control"
_RMS = "urn:ncrs:sim:records"
_CARE = "urn:ncrs:sim:victim-care"

HOME_OFFICE_CODE: dict[OffenceGroup, str] = {
    OffenceGroup.RAPE: "19C",
    OffenceGroup.OTHER_SEXUAL: "20A",
    OffenceGroup.VIOLENCE: "8N",
    OffenceGroup.ROBBERY: "34B",
    OffenceGroup.MODERN_SLAVERY: "106",
    OffenceGroup.PUBLIC_ORDER: "9A",
    OffenceGroup.HARASSMENT_MALICIOUS_COMMS: "8L",
    OffenceGroup.BURGLARY: "28E",
    OffenceGroup.THEFT: "49",
    OffenceGroup.CRIMINAL_DAMAGE: "58A",
    OffenceGroup.OTHER: "99",
}
"""One representative Home Office code per group (class 106 only for modern slavery)."""

DA_PROPENSITY: dict[OffenceGroup, float] = {
    OffenceGroup.VIOLENCE: 0.45,
    OffenceGroup.RAPE: 0.35,
    OffenceGroup.OTHER_SEXUAL: 0.2,
    OffenceGroup.HARASSMENT_MALICIOUS_COMMS: 0.35,
    OffenceGroup.CRIMINAL_DAMAGE: 0.2,
    OffenceGroup.PUBLIC_ORDER: 0.1,
}
"""Relative likelihood of the domestic-abuse flag by group [assumed]; scaled so the overall
share equals the profile's `domestic_abuse_share`. Groups not listed get 0.02."""

ORGANISATION_VICTIM: dict[OffenceGroup, float] = {
    OffenceGroup.THEFT: 0.25,
    OffenceGroup.BURGLARY: 0.15,
    OffenceGroup.CRIMINAL_DAMAGE: 0.15,
}
"""Share of crimes against a business or other organisation [assumed]; owed no victim care."""

NON_CRIME_CATEGORIES: tuple[tuple[IncidentCategory, float], ...] = (
    (IncidentCategory.CONCERN_FOR_WELFARE, 0.3),
    (IncidentCategory.PUBLIC_SAFETY, 0.25),
    (IncidentCategory.TRANSPORT, 0.15),
    (IncidentCategory.ASB, 0.15),
    (IncidentCategory.ADMINISTRATION, 0.1),
    (IncidentCategory.DOMESTIC_ABUSE, 0.05),
)
"""Incidents that disclose no crime [assumed]; ASB and domestic abuse still need a review."""

_ALLOWED_N100 = (
    N100Reason.CREDIBLE_EVIDENCE_NOT_OCCURRED,
    N100Reason.OCCURRED_OTHER_FORCE,
    N100Reason.THIRD_PARTY_REPORT_VICTIM_UNTRACED,
    N100Reason.AWAITING_VICTIM_ACCOUNT,
)
_DISALLOWED_N100 = tuple(sorted(DISALLOWED_N100_REASONS))
_VERIFIABLE_AVI = (
    AviType.INDEPENDENT_WITNESS,
    AviType.CCTV,
    AviType.DOCUMENTARY,
    AviType.FORENSIC,
    AviType.OTHER_VERIFIABLE,
)
_NOT_VERIFIABLE_AVI = (
    AviType.OFFICER_OPINION,
    AviType.SUSPECT_CLAIMS_CONSENT,
    AviType.VICTIM_WITHDRAWAL,
)
_UNAUTHORISED_CANCELLERS = (
    ActorRole.INVESTIGATOR,
    ActorRole.UNIFORMED_SERGEANT,
    ActorRole.OMU_STAFF,
)
_FURTHER_VIA = (
    DisclosedVia.CALL_BACK,
    DisclosedVia.ATTENDING_OFFICER,
    DisclosedVia.INVESTIGATION,
    DisclosedVia.PPU,
    DisclosedVia.CUSTODY,
)
_SEXUAL = frozenset({OffenceGroup.RAPE, OffenceGroup.OTHER_SEXUAL})
_CARRY_INCIDENT_REF = frozenset(
    {
        "incident.reported",
        "incident.disclosure_added",
        "incident.closed",
        "incident.reviewed",
        "safeguarding.assessed",
        "nrm.referral_made",
        "n100.recorded",
        "n100.resolved",
        "crime.recorded",
        "crime.reclassified",
        "crime.cancelled",
    }
)
"""Event types that carry the incident_ref: the incident-side events, and the crime events the
incident's rules read (a record, a reclassification). Victim contact, updates and filings carry
only the crime_ref, as a records system keyed by crime sends them."""
RAPE_FLAG_ON_OTHER_SEXUAL = 0.03
"""Share of other-sexual reports the call handler flagged as rape [assumed]."""
FAILED_ATTEMPT_SHARE = 0.1
"""Share of notifications preceded by a failed attempt [assumed]; a failed attempt tells no one."""
FILED_SHARE = 0.4
"""Share of crimes not cancelled that are filed within the period [assumed]."""

# Rule ids, as the rule families name them.
REC_24H = "REC-24H"
MULTI_CRIME = "MULTI-CRIME"
CLOSE_REVIEW = "CLOSE-REVIEW"
N100 = "N100"
N100_REASON = "N100-REASON"
N100_AGEING = "N100-AGEING"
RAPE_MISCLASSIFIED = "RAPE-MISCLASSIFIED"
CANCEL_AUTHORITY = "CANCEL-AUTHORITY"
CANCEL_NOTIFY = "CANCEL-NOTIFY"
CARE_REFERRAL = "CARE-REFERRAL"
CRIME_CONFIRMATION = "CRIME-CONFIRMATION"
DA_SAFEGUARDING = "DA-SAFEGUARDING"
MODERN_SLAVERY = "MODERN-SLAVERY"
EQUALITY_DATA = "EQUALITY-DATA"
FILING_AUTHORITY = "FILING-AUTHORITY"


@dataclass(frozen=True, slots=True)
class SimConfig:
    """What to simulate: a profile over `days` from `start`, with a seed."""

    profile: Profile
    days: int = 30
    incidents_per_day: int = 1000
    seed: int = 1
    start: datetime = DEFAULT_START
    tail_days: int = TAIL_DAYS
    lateness_seconds: float = DEFAULT_LATENESS_SECONDS
    crime_share: float | None = None
    """Share of incidents that disclose a crime; None derives it from the profile's volumes
    (about one in five). Tests that need many crimes quickly set it to 1."""


@dataclass(frozen=True, slots=True)
class Simulation:
    """The generated lines in arrival order (bytes, no newline) and the ground truth."""

    lines: list[bytes]
    truth: Truth


@dataclass(slots=True)
class _Crime:
    """What the generator decided about one crime record, for the incident-level rules."""

    ref: str
    recorded_at: datetime
    group: OffenceGroup
    reclassified_to_rape_at: datetime | None = None


@dataclass(slots=True)
class _Disclosure:
    """One disclosure's plan: its clock, victims, and what answered it."""

    did: str
    group: OffenceGroup
    at: datetime
    victims: list[str]
    crimes: list[_Crime] = field(default_factory=list)
    n100_times: list[datetime] = field(default_factory=list)


@dataclass(slots=True)
class _Incident:
    """One incident's plan while it is being generated."""

    ref: str
    received_at: datetime
    area: str
    channel: Channel
    reporter: ReporterType
    category: IncidentCategory
    flags: dict[str, bool]
    enhanced: list[EntitlementCode]
    counter: int = 0
    crimes: list[str] = field(default_factory=list)
    n100s: list[str] = field(default_factory=list)
    last_record_at: datetime | None = None

    def next_id(self) -> str:
        """A fresh event id within this incident (unique per source across the file)."""
        self.counter += 1
        return f"{self.ref}:{self.counter}"

    def touch(self, at: datetime) -> None:
        """Remember the latest crime or N100 record (the incident closes after it)."""
        if self.last_record_at is None or at > self.last_record_at:
            self.last_record_at = at


def _iso(at: datetime) -> str:
    return at.isoformat()


def _hours(value: float) -> timedelta:
    """A whole number of seconds: keeps every timestamp in the file at second resolution."""
    return timedelta(seconds=max(1, round(value * 3600)))


def _pick(rng: Random, mix: dict[Any, float]) -> Any:
    """One key of a probability mix (keys in a fixed order, so the draw is reproducible)."""
    u = rng.random()
    acc = 0.0
    last = None
    for key, share in mix.items():
        acc += share
        last = key
        if u < acc:
            return key
    return last


class Generator:
    """Plans and emits one simulation; use `generate(config)`."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.profile = config.profile
        self.rng = Random(config.seed)
        self.ledger = Ledger()
        self.events: list[tuple[datetime, dict[str, Any]]] = []
        self.force = self.profile.force_code
        self.crime_seq = 0
        self.n100_seq = 0
        self.victim_seq = 0
        self._da_share = self._scaled_da_propensity()
        self._recording = {g: self._calibrated_rate(g) for g in OffenceGroup}

    # --- calibration ---------------------------------------------------------------------

    def _scaled_da_propensity(self) -> dict[OffenceGroup, float]:
        """P(domestic abuse | group), scaled so the overall share matches the profile."""
        mix = self.profile.offence_mix
        raw = {g: DA_PROPENSITY.get(g, 0.02) for g in OffenceGroup}
        overall = math.fsum(mix.get(g, 0.0) * raw[g] for g in OffenceGroup)
        scale = self.profile.disclosures.domestic_abuse_share / overall if overall else 0.0
        return {g: min(1.0, raw[g] * scale) for g in OffenceGroup}

    def _further_weight(self) -> float:
        share = self.profile.disclosures.further_disclosure_share
        return share / (1.0 + share)

    def _calibrated_rate(self, group: OffenceGroup) -> float:
        """Recording probability of a disclosure on no special route, by group.

        The profile's `by_group` is the rate the inspection measured over all of a group's
        disclosures; domestic abuse, the PPU and MARU channels and further disclosures have their
        own (lower) rates, so the remaining disclosures are recorded at the rate that makes the
        group's overall rate come out at `by_group`.
        """
        rec = self.profile.recording
        target = rec.by_group[group]
        further = self._further_weight()
        p_da = self._da_share[group]
        special = {c: self.profile.channel_mix.get(c, 0.0) for c in rec.by_channel}
        plain_channels = 1.0 - math.fsum(special.values())
        known = further * self.profile.disclosures.further_disclosure_recorded
        weight_known = further
        initial = 1.0 - further
        for channel, share in special.items():
            rate = rec.by_channel[channel]
            known += initial * share * (p_da * min(rate, rec.domestic_abuse) + (1 - p_da) * rate)
            weight_known += initial * share
        known += initial * plain_channels * p_da * rec.domestic_abuse
        weight_known += initial * plain_channels * p_da
        plain = 1.0 - weight_known
        if plain <= 0:
            return target
        return min(1.0, max(0.0, (target - known) / plain))

    def _record_probability(self, group: OffenceGroup, channel: Channel, da: bool) -> float:
        rec = self.profile.recording
        rates = [self._recording[group]]
        if da or channel in rec.by_channel:
            rates = []
            if da:
                rates.append(rec.domestic_abuse)
            if channel in rec.by_channel:
                rates.append(rec.by_channel[channel])
        return min(rates)

    # --- small draws ---------------------------------------------------------------------

    def _chance(self, p: float) -> bool:
        return self.rng.random() < p

    def _lognormal_hours(self, median: float, sigma: float) -> float:
        return self.rng.lognormvariate(math.log(median), sigma)

    def _record_delay(self, group: OffenceGroup) -> timedelta:
        """Receipt to record: within 24 h at the group's timeliness rate, else a long tail."""
        t = self.profile.timeliness
        if self._chance(t.within_24h[group]):
            hours = min(
                23.5, max(0.05, self._lognormal_hours(t.on_time_median_hours, t.on_time_sigma))
            )
        else:
            excess = self._lognormal_hours(t.late_excess_median_hours, t.late_sigma)
            hours = 24.25 + min(excess, t.late_max_hours - 24.25)
        return _hours(hours)

    def _between(self, low_hours: float, high_hours: float) -> timedelta:
        return _hours(self.rng.uniform(low_hours, high_hours))

    # --- event envelopes -----------------------------------------------------------------

    def _emit(
        self,
        inc: _Incident,
        etype: str,
        source: str,
        at: datetime,
        data: dict[str, Any],
        *,
        actor: ActorRole | None = None,
        version: int = 1,
        **refs: str | None,
    ) -> str:
        event_id = inc.next_id()
        envelope: dict[str, Any] = {
            "specversion": "1.0",
            "id": event_id,
            "source": source,
            "type": etype,
            "time": _iso(at),
            "force_code": self.force,
            "schema_version": version,
        }
        if actor is not None:
            envelope["actor_role"] = actor.value
        if etype in _CARRY_INCIDENT_REF:
            envelope["incident_ref"] = inc.ref
        for name, value in refs.items():
            if value is not None:
                envelope[name] = value
        envelope["data"] = data
        self.events.append((at, envelope))
        return event_id

    # --- incidents -----------------------------------------------------------------------

    def run(self) -> Simulation:
        """Generate every incident of the period, then the feed, then the truth."""
        cfg = self.config
        disclosures_per_incident = (
            self.profile.volume.crime_disclosures_per_year
            / self.profile.volume.calls_for_service_per_year
        )
        further = self.profile.disclosures.further_disclosure_share
        crime_share = min(1.0, disclosures_per_incident / (1.0 + further))
        if cfg.crime_share is not None:
            crime_share = cfg.crime_share
        seq = 0
        for day in range(cfg.days):
            day_start = cfg.start + timedelta(days=day)
            offsets = sorted(self.rng.randrange(86_400) for _ in range(cfg.incidents_per_day))
            for offset in offsets:
                seq += 1
                received = day_start + timedelta(seconds=offset)
                if self._chance(crime_share):
                    self._crime_incident(seq, received)
                else:
                    self._non_crime_incident(seq, received)
        return self._finish()

    def _new_incident(
        self, seq: int, received: datetime, category: IncidentCategory, channel: Channel
    ) -> _Incident:
        area = _pick(self.rng, self.profile.area_mix)
        if channel in (Channel.PROFESSIONAL_THIRD_PARTY, Channel.MARU_EMAIL):
            reporter = ReporterType.PROFESSIONAL_THIRD_PARTY
        elif channel is Channel.OFFICER_DISCOVERED:
            reporter = ReporterType.POLICE
        elif self._chance(self.profile.disclosures.professional_third_party_share):
            reporter = ReporterType.PROFESSIONAL_THIRD_PARTY
        else:
            reporter = _pick(
                self.rng,
                {
                    ReporterType.VICTIM: 0.7,
                    ReporterType.WITNESS: 0.15,
                    ReporterType.THIRD_PARTY: 0.15,
                },
            )
        return _Incident(
            ref=f"{self.force}-I{seq:07d}",
            received_at=received,
            area=area,
            channel=channel,
            reporter=reporter,
            category=category,
            flags={},
            enhanced=[],
        )

    def _non_crime_incident(self, seq: int, received: datetime) -> None:
        category = _pick(self.rng, dict(NON_CRIME_CATEGORIES))
        channel = _pick(self.rng, self.profile.channel_mix)
        inc = self._new_incident(seq, received, category, channel)
        if category is IncidentCategory.DOMESTIC_ABUSE:
            inc.flags["domestic_abuse"] = True
        self._report(inc, [])
        if inc.flags.get("domestic_abuse"):
            self._safeguarding(inc, recorded=False)
        self._close(inc, received + self._between(0.5, 12.0))

    def _crime_incident(self, seq: int, received: datetime) -> None:
        rng = self.rng
        profile = self.profile
        group: OffenceGroup = _pick(rng, profile.offence_mix)
        channel: Channel = _pick(rng, profile.channel_mix)
        da = self._chance(self._da_share[group])
        child = self._chance(profile.disclosures.child_victim_share)
        if da:
            category = IncidentCategory.DOMESTIC_ABUSE
        elif group in _SEXUAL:
            category = IncidentCategory.SEXUAL
        else:
            category = IncidentCategory.CRIME
        inc = self._new_incident(seq, received, category, channel)
        # A call handler sometimes flags rape on a report that is then treated as another
        # sexual offence: the rape allegation still needs a rape crime or an N100.
        flag_only = group is OffenceGroup.OTHER_SEXUAL and self._chance(RAPE_FLAG_ON_OTHER_SEXUAL)
        inc.flags = {
            "domestic_abuse": da,
            "sexual": group in _SEXUAL,
            "rape_alleged": group is OffenceGroup.RAPE or flag_only,
            "child_victim": child,
            "modern_slavery": group is OffenceGroup.MODERN_SLAVERY,
        }
        inc.enhanced = self._entitlement(group, da, child)
        victims = 1
        multi = group not in (OffenceGroup.RAPE, OffenceGroup.MODERN_SLAVERY)
        if multi and self._chance(profile.disclosures.multi_victim_share):
            victims = rng.randint(2, profile.disclosures.max_victims)
        first = _Disclosure(
            did=f"{inc.ref}-D1",
            group=group,
            at=received,
            victims=[self._victim(inc) for _ in range(victims)],
        )
        self._report(inc, [first])
        further = self._further(inc, received, allow_rape=not flag_only)

        p_first = self._record_probability(group, channel, da)
        self._answer(inc, first, p_first, da=da, child=child)
        if further is not None:
            p_further = profile.disclosures.further_disclosure_recorded
            self._answer(inc, further, p_further, da=False, child=child)
        if flag_only:
            self._plant_flag_only(inc, [first, *([further] if further else [])])
        recorded = bool(first.crimes)
        if da:
            self._safeguarding(inc, recorded=recorded)
        if group is OffenceGroup.MODERN_SLAVERY:
            self._modern_slavery(inc, first, child)
        close_at = (inc.last_record_at or received) + self._between(0.2, 3.0)
        close_at = max(close_at, received + self._between(0.5, 12.0))
        if further is not None:
            close_at = max(close_at, further.at + self._between(0.2, 3.0))
        self._close(inc, close_at)

    def _further(
        self, inc: _Incident, received: datetime, *, allow_rape: bool
    ) -> _Disclosure | None:
        """A further disclosure, made later (call-back, attending officer, PPU ...), or None."""
        profile = self.profile
        if not self._chance(profile.disclosures.further_disclosure_share):
            return None
        excluded = {OffenceGroup.MODERN_SLAVERY, *(() if allow_rape else (OffenceGroup.RAPE,))}
        mix = {g: s for g, s in profile.offence_mix.items() if g not in excluded}
        total = math.fsum(mix.values())
        further = _Disclosure(
            did=f"{inc.ref}-D2",
            group=_pick(self.rng, {g: s / total for g, s in mix.items()}),
            at=received + self._between(1.0, 72.0),
            victims=[self._victim(inc)],
        )
        self._disclosure_added(inc, further)
        return further

    def _plant_flag_only(self, inc: _Incident, disclosures: list[_Disclosure]) -> None:
        """Rape flagged but no rape disclosure: N100 for the incident, every crime misclassified.

        Nothing on such an incident is ever a rape crime or an N100 here, so the incident-level
        N100 duty is never met and each crime recorded on it is a RAPE-MISCLASSIFIED finding.
        """
        self.ledger.expect(N100, inc.ref, inc.received_at, None)
        for d in disclosures:
            for crime in d.crimes:
                self.ledger.expect(
                    RAPE_MISCLASSIFIED, crime.ref, crime.recorded_at, None, immediate=True
                )

    def _entitlement(self, group: OffenceGroup, da: bool, child: bool) -> list[EntitlementCode]:
        codes = []
        if da:
            codes.append(EntitlementCode.DOMESTIC_ABUSE)
        if group in _SEXUAL:
            codes.append(EntitlementCode.SEXUAL_OFFENCE)
        if group is OffenceGroup.MODERN_SLAVERY:
            codes.append(EntitlementCode.TRAFFICKING)
        if child:
            codes.append(EntitlementCode.UNDER_18)
        return codes

    def _victim(self, inc: _Incident) -> str:
        self.victim_seq += 1
        return f"{self.force}-V{self.victim_seq:07d}"

    def _report(self, inc: _Incident, disclosures: list[_Disclosure]) -> None:
        flags = {k: v for k, v in inc.flags.items() if v}
        data = {
            "received_at": _iso(inc.received_at),
            "channel": inc.channel.value,
            "reporter_type": inc.reporter.value,
            "opening_category": inc.category.value,
            "flags": flags,
            "disclosures": [self._disclosure_body(d) for d in disclosures],
            "enhanced_entitlement": [c.value for c in inc.enhanced],
            "area": inc.area,
        }
        self._emit(
            inc, "incident.reported", _C2C, inc.received_at, data, actor=ActorRole.CALL_HANDLER
        )

    def _disclosure_body(self, d: _Disclosure) -> dict[str, Any]:
        offenders = 1 if d.group is OffenceGroup.RAPE else self.rng.randint(1, 2)
        return {
            "disclosure_id": d.did,
            "offence_group": d.group.value,
            "victim_pseudo_ids": d.victims,
            "offender_count": offenders,
        }

    def _disclosure_added(self, inc: _Incident, d: _Disclosure) -> None:
        flags = {}
        if d.group in _SEXUAL:
            flags["sexual"] = True
            inc.flags["sexual"] = True
        if d.group is OffenceGroup.RAPE:
            flags["rape_alleged"] = True
            inc.flags["rape_alleged"] = True
        data = {
            "disclosure": self._disclosure_body(d),
            "disclosed_at": _iso(d.at),
            "disclosed_via": self.rng.choice(_FURTHER_VIA).value,
            "flags": flags,
        }
        self._emit(inc, "incident.disclosure_added", _C2C, d.at, data, disclosure_id=d.did)

    # --- recording decisions -------------------------------------------------------------

    def _answer(
        self, inc: _Incident, d: _Disclosure, p_record: float, *, da: bool, child: bool
    ) -> None:
        """Decide how a disclosure is answered, emit it, and plant its incident-level duties."""
        profile = self.profile
        delay = self._record_delay(d.group)
        if self._chance(p_record):
            recorded_at = d.at + delay
            self._crime(inc, d, d.victims[0], d.group, recorded_at, da=da, child=child)
            if len(d.victims) > 1:
                all_recorded = self._chance(profile.disclosures.multi_victim_all_recorded)
                for victim in d.victims[1:] if all_recorded else []:
                    at = recorded_at + self._between(0.01, 2.0)
                    self._crime(inc, d, victim, d.group, at, da=da, child=child)
        elif d.group is OffenceGroup.RAPE:
            u = self.rng.random()
            misclassified = profile.recording.rape_missed_misclassified_share
            if u < misclassified:
                recorded_at = d.at + delay
                crime = self._crime(
                    inc, d, d.victims[0], OffenceGroup.OTHER_SEXUAL, recorded_at, da=da, child=child
                )
                if self._chance(0.5):
                    crime.reclassified_to_rape_at = recorded_at + self._between(2.0, 20 * 24.0)
                    self._reclassify(inc, crime)
            elif u < misclassified + (1 - misclassified) * profile.n100.used_when_required:
                self._n100(inc, d, d.at + delay, da=da, child=child)
        self._plant_disclosure(inc, d)

    def _plant_disclosure(self, inc: _Incident, d: _Disclosure) -> None:
        subject = f"{inc.ref}/{d.did}"
        crime_times = sorted(c.recorded_at for c in d.crimes)
        satisfiers = [*crime_times]
        if d.group is OffenceGroup.RAPE:
            satisfiers.extend(d.n100_times)
        self.ledger.expect(REC_24H, subject, d.at, min(satisfiers, default=None))
        needed = len(d.victims)
        if needed > 1:
            met = crime_times[needed - 1] if len(crime_times) >= needed else None
            self.ledger.expect(MULTI_CRIME, subject, d.at, met)
        if d.group is OffenceGroup.RAPE:
            rape_times = [c.recorded_at for c in d.crimes if c.group is OffenceGroup.RAPE]
            rape_times += [c.reclassified_to_rape_at for c in d.crimes if c.reclassified_to_rape_at]
            self.ledger.expect(N100, subject, d.at, min([*rape_times, *d.n100_times], default=None))
            for crime in d.crimes:
                if crime.group is not OffenceGroup.RAPE:
                    self.ledger.expect(
                        RAPE_MISCLASSIFIED,
                        crime.ref,
                        crime.recorded_at,
                        crime.reclassified_to_rape_at,
                        immediate=True,
                    )

    def _crime(
        self,
        inc: _Incident,
        d: _Disclosure,
        victim: str,
        group: OffenceGroup,
        recorded_at: datetime,
        *,
        da: bool,
        child: bool,
    ) -> _Crime:
        """Record one crime and plan everything that follows on the crime side."""
        self.crime_seq += 1
        ref = f"{self.force}-C{self.crime_seq:07d}"
        crime = _Crime(ref, recorded_at, group)
        d.crimes.append(crime)
        inc.crimes.append(ref)
        inc.touch(recorded_at)
        profile = self.profile
        person = not self._chance(ORGANISATION_VICTIM.get(group, 0.0))
        enhanced = self._entitlement(group, da, child)
        equality_ok = self._chance(profile.data_quality.equality_age_sex_captured)
        data = {
            "disclosure_ids": [d.did],
            "reported_at": _iso(d.at),
            "recorded_at": _iso(recorded_at),
            "home_office_code": HOME_OFFICE_CODE[group],
            "offence_group": group.value,
            "victim_type": "person" if person else "organisation",
            "flags": {"domestic_abuse": da, "child_victim": child, "hate": False},
            "recorded_by_role": ActorRole.OMU_STAFF.value,
            "enhanced_entitlement": [c.value for c in enhanced],
            "equality_fields_present": self._equality(complete=equality_ok),
            "area": inc.area,
        }
        self._emit(
            inc,
            "crime.recorded",
            _RMS,
            recorded_at,
            data,
            actor=ActorRole.OMU_STAFF,
            disclosure_id=d.did,
            crime_ref=ref,
            victim_pseudo_id=victim,
        )
        is_enhanced = bool(enhanced) or da or child
        if person:
            self._victim_care(inc, ref, d.at, recorded_at, group, da=da, enhanced=is_enhanced)
            if not equality_ok:
                self._equality_update(inc, ref, recorded_at)
        self._cancel_or_file(inc, ref, recorded_at, group, person=person, enhanced=is_enhanced)
        return crime

    def _equality(self, *, complete: bool) -> dict[str, bool]:
        if complete:
            age, sex = True, True
        else:
            age, sex = self.rng.choice(((False, False), (True, False), (False, True)))
        return {
            "age": age,
            "sex": sex,
            "ethnicity": self._chance(0.6),
            "disability": self._chance(0.3),
            "religion": False,
            "sexual_orientation": False,
        }

    def _equality_update(self, inc: _Incident, ref: str, recorded_at: datetime) -> None:
        u = self.rng.random()
        updated: datetime | None = None
        if u < 0.5:
            updated = recorded_at + self._between(1.0, 6.5 * 24)
        elif u < 0.75:
            updated = recorded_at + self._between(7.5 * 24, 20 * 24)
        if updated is not None:
            data = {
                "updated_at": _iso(updated),
                "equality_fields_present": self._equality(complete=True),
            }
            self._emit(
                inc, "crime.updated", _RMS, updated, data, actor=ActorRole.OMU_STAFF, crime_ref=ref
            )
        self.ledger.expect(EQUALITY_DATA, ref, recorded_at, updated)

    def _reclassify(self, inc: _Incident, crime: _Crime) -> None:
        assert crime.reclassified_to_rape_at is not None
        at = crime.reclassified_to_rape_at
        data = {
            "reclassified_at": _iso(at),
            "home_office_code": HOME_OFFICE_CODE[OffenceGroup.RAPE],
            "offence_group": OffenceGroup.RAPE.value,
            "rationale_present": True,
            "ratified_by_fcr": True,
        }
        self._emit(
            inc, "crime.reclassified", _RMS, at, data, actor=ActorRole.FCR, crime_ref=crime.ref
        )

    def _n100(self, inc: _Incident, d: _Disclosure, at: datetime, *, da: bool, child: bool) -> None:
        """An N100 instead of a rape crime: sound or unsound reason, resolved in time or not."""
        rng = self.rng
        profile = self.profile
        self.n100_seq += 1
        ref = f"{self.force}-N{self.n100_seq:06d}"
        inc.n100s.append(ref)
        inc.touch(at)
        d.n100_times.append(at)
        wrong = self._chance(profile.n100.wrong_reason_share)
        if wrong:
            if inc.reporter is ReporterType.PROFESSIONAL_THIRD_PARTY:
                reason = N100Reason.DOUBT_PROFESSIONAL_THIRD_PARTY
            else:
                reason = rng.choice(_DISALLOWED_N100)
        else:
            reason = rng.choice(_ALLOWED_N100)
        data = {"recorded_at": _iso(at), "reason": reason.value, "recorded_by_role": "omu_staff"}
        self._emit(inc, "n100.recorded", _RMS, at, data, disclosure_id=d.did, n100_ref=ref)
        resolved_at: datetime | None = None
        if self._chance(profile.n100.resolved_within_7_days):
            resolved_at = at + self._between(1.0, 6.8 * 24)
        elif self._chance(0.7):
            resolved_at = at + self._between(7.2 * 24, 25 * 24)
        converted_at: datetime | None = None
        if resolved_at is not None:
            convert = self._chance(0.5 if wrong else 0.2)
            outcome = (
                N100Outcome.CONVERTED_TO_CRIME
                if convert
                else (
                    N100Outcome.TRANSFERRED
                    if reason is N100Reason.OCCURRED_OTHER_FORCE
                    else N100Outcome.RETAINED_FCR_REASON
                )
            )
            crime_ref = None
            if convert:
                converted_at = resolved_at
                crime = self._crime(
                    inc, d, d.victims[0], OffenceGroup.RAPE, resolved_at, da=da, child=child
                )
                crime_ref = crime.ref
            rdata: dict[str, Any] = {"resolved_at": _iso(resolved_at), "outcome": outcome.value}
            if crime_ref is not None:
                rdata["crime_ref"] = crime_ref
            self._emit(
                inc,
                "n100.resolved",
                _RMS,
                resolved_at,
                rdata,
                actor=ActorRole.FCR,
                disclosure_id=d.did,
                n100_ref=ref,
            )
        self.ledger.expect(N100_AGEING, ref, at, resolved_at)
        if reason in DISALLOWED_N100_REASONS:
            self.ledger.expect(N100_REASON, ref, at, converted_at, immediate=True)

    # --- the crime side ------------------------------------------------------------------

    def _victim_care(
        self,
        inc: _Incident,
        ref: str,
        reported_at: datetime,
        recorded_at: datetime,
        group: OffenceGroup,
        *,
        da: bool,
        enhanced: bool,
    ) -> None:
        """Referral (consent first for sexual and domestic-abuse victims) and confirmation."""
        care = self.profile.victim_care
        u = self.rng.random()
        referred: datetime | None = None
        at = recorded_at + _hours(
            min(30 * 24.0, self._lognormal_hours(care.referral_delay_median_hours, 0.8))
        )
        status: ReferralStatus | None = None
        if u < care.referral_made:
            status = ReferralStatus.MADE
        elif u < care.referral_made + care.referral_declined:
            status = ReferralStatus.DECLINED
        elif u < care.referral_made + care.referral_declined + care.consent_refused:
            status = ReferralStatus.CONSENT_REFUSED
        consent_first = group in _SEXUAL or da
        if consent_first and (status is not None or self._chance(0.5)):
            # Asking for consent is the first step; on its own it never discharges the duty.
            asked = recorded_at + self._between(0.05, 1.0)
            at = max(at, asked + _hours(0.5))
            self._referral_event(inc, ref, ReferralStatus.CONSENT_REQUESTED, asked)
        if status is not None:
            self._referral_event(inc, ref, status, at)
            referred = at
        self.ledger.expect(CARE_REFERRAL, ref, reported_at, referred, trigger_at=recorded_at)

        confirmed: datetime | None = None
        if self._chance(care.crime_confirmation_sent):
            median = care.confirmation_median_hours / (4.0 if enhanced else 1.0)
            confirmed = recorded_at + _hours(min(30 * 24.0, self._lognormal_hours(median, 0.8)))
            if self._chance(FAILED_ATTEMPT_SHARE):
                failed = confirmed - self._between(0.5, 4.0)
                if failed > recorded_at:
                    self._notification(
                        inc,
                        ref,
                        NotificationType.CRIME_RECORDED,
                        NotificationOutcome.ATTEMPT_FAILED,
                        failed,
                    )
            outcome = (
                NotificationOutcome.OPTED_OUT
                if self._chance(0.03)
                else NotificationOutcome.DELIVERED
            )
            self._notification(inc, ref, NotificationType.CRIME_RECORDED, outcome, confirmed)
        self.ledger.expect(
            CRIME_CONFIRMATION,
            ref,
            reported_at,
            confirmed,
            trigger_at=recorded_at,
            enhanced=enhanced,
        )

    def _referral_event(
        self, inc: _Incident, ref: str, status: ReferralStatus, at: datetime
    ) -> None:
        self._emit(
            inc,
            "victim_care.referral",
            _CARE,
            at,
            {"status": status.value, "at": _iso(at)},
            actor=ActorRole.VICTIM_CARE_STAFF,
            crime_ref=ref,
        )

    def _notification(
        self,
        inc: _Incident,
        ref: str,
        kind: NotificationType,
        outcome: NotificationOutcome,
        at: datetime,
    ) -> None:
        """Tell the victim something; an unsafe-to-contact outcome always carries a rationale."""
        data = {
            "notified_at": _iso(at),
            "notification_type": kind.value,
            "outcome": outcome.value,
            "method": self.rng.choice(
                (NotificationMethod.LETTER, NotificationMethod.EMAIL, NotificationMethod.PHONE)
            ).value,
            "rationale_present": outcome is NotificationOutcome.UNSAFE_TO_CONTACT,
        }
        self._emit(inc, "victim.notified", _CARE, at, data, crime_ref=ref)

    def _cancel_or_file(
        self,
        inc: _Incident,
        ref: str,
        recorded_at: datetime,
        group: OffenceGroup,
        *,
        person: bool,
        enhanced: bool,
    ) -> None:
        """Cancel the crime (rightly or not) or file it (by an authorised role or not).

        Both happen 8 to 30 days after recording, after every victim-care and data-quality
        duty has fallen due and before the engine's retention could forget the crime.
        """
        profile = self.profile
        if self._chance(profile.cancellation.rate[group]):
            spread = max(0.5, profile.cancellation.median_days_to_cancel - 8.0)
            days = 8.0 + min(22.0, self.rng.expovariate(math.log(2) / spread))
            self._cancel(
                inc, ref, recorded_at + _hours(days * 24), group, person=person, enhanced=enhanced
            )
            return
        if not self._chance(FILED_SHARE):
            return
        filed = recorded_at + self._between(8 * 24, 28 * 24)
        unauthorised = self._chance(profile.data_quality.unauthorised_filing_share)
        role = (
            ActorRole.UNIFORMED_SERGEANT
            if unauthorised
            else self.rng.choice((ActorRole.OMU_STAFF, ActorRole.INVESTIGATOR))
        )
        event_id = self._emit(
            inc,
            "crime.filed",
            _RMS,
            filed,
            {"filed_at": _iso(filed), "filed_by_role": role.value, "outcome": "no_suspect"},
            actor=role,
            crime_ref=ref,
        )
        if unauthorised:
            refiled: datetime | None = None
            if self._chance(0.5):
                refiled = filed + self._between(24.0, 5 * 24.0)
                self._emit(
                    inc,
                    "crime.filed",
                    _RMS,
                    refiled,
                    {
                        "filed_at": _iso(refiled),
                        "filed_by_role": "omu_staff",
                        "outcome": "no_suspect",
                    },
                    actor=ActorRole.OMU_STAFF,
                    crime_ref=ref,
                )
            self.ledger.expect(
                FILING_AUTHORITY, f"{ref}/{event_id}", filed, refiled, immediate=True
            )

    def _cancel(
        self,
        inc: _Incident,
        ref: str,
        at: datetime,
        group: OffenceGroup,
        *,
        person: bool,
        enhanced: bool,
    ) -> None:
        rng = self.rng
        profile = self.profile
        klass: CancellationClass = _pick(rng, profile.cancellation.class_mix)
        correct = self._chance(profile.cancellation.correct[group])
        authorised = (
            ActorRole.FCR
            if group is OffenceGroup.RAPE
            else (ActorRole.FCR if self._chance(0.1) else ActorRole.DDM)
        )
        role = authorised
        avi_present = False
        avi = AviType.NONE
        if klass is CancellationClass.C2:
            avi_present = True
            avi = rng.choice(_VERIFIABLE_AVI)
        if not correct:
            if klass is CancellationClass.C2 and self._chance(0.5):
                avi = rng.choice(_NOT_VERIFIABLE_AVI)
            else:
                wrong = list(_UNAUTHORISED_CANCELLERS)
                if group is OffenceGroup.RAPE:
                    wrong.append(ActorRole.DDM)
                role = rng.choice(wrong)
        data: dict[str, Any] = {
            "cancelled_at": _iso(at),
            "cancellation_class": klass.value,
            "avi_present": avi_present,
            "avi_type": avi.value,
            "decision_maker_role": role.value,
            "rationale_present": True,
            "offence_group": group.value,
        }
        if klass is CancellationClass.C3:
            data["surviving_crime_ref"] = f"{ref}-S"
        event_id = self._emit(
            inc, "crime.cancelled", _RMS, at, data, actor=role, version=2, crime_ref=ref
        )
        subject = f"{ref}/{event_id}"
        owed = person and klass is not CancellationClass.C3
        told = (
            self._tell_cancellation(inc, ref, at, klass, subject, enhanced=enhanced)
            if owed
            else None
        )
        if not correct:
            self._fix_cancellation(inc, ref, at, subject, told, owed=owed, enhanced=enhanced)

    def _tell_cancellation(
        self,
        inc: _Incident,
        ref: str,
        at: datetime,
        klass: CancellationClass,
        subject: str,
        *,
        enhanced: bool,
    ) -> datetime | None:
        """Tell the victim of a cancellation on time, late or never (CANCEL-NOTIFY)."""
        told: datetime | None = None
        if self._chance(self.profile.cancellation.victim_notified):
            told = at + self._between(0.5, 20.0)
        elif self._chance(0.3):
            told = at + self._between(8 * 24.0, 15 * 24.0)
        if told is not None:
            kind = (
                NotificationType.TRANSFER
                if klass is CancellationClass.C1
                else NotificationType.CANCELLATION
            )
            if self._chance(FAILED_ATTEMPT_SHARE):
                failed = told - self._between(0.1, 0.4)
                if failed > at:
                    outcome = NotificationOutcome.ATTEMPT_FAILED
                    self._notification(inc, ref, kind, outcome, failed)
            outcome = (
                NotificationOutcome.UNSAFE_TO_CONTACT
                if self._chance(0.02)
                else NotificationOutcome.DELIVERED
            )
            self._notification(inc, ref, kind, outcome, told)
        self.ledger.expect(CANCEL_NOTIFY, subject, at, told, enhanced=enhanced)
        return told

    def _fix_cancellation(
        self,
        inc: _Incident,
        ref: str,
        at: datetime,
        subject: str,
        told: datetime | None,
        *,
        owed: bool,
        enhanced: bool,
    ) -> None:
        """Plant a CANCEL-AUTHORITY breach, sometimes put right later by the FCR.

        The fix is a reinstatement only when it cannot change the notification duty (the victim
        was already told on time, or was owed nothing): a reinstatement before the victim is
        told cancels that duty instead. Otherwise the FCR ratifies.
        """
        fixed: datetime | None = None
        if self._chance(0.4):
            fixed = at + self._between(24.0, 10 * 24.0)
            deadline = self.ledger.deadline(CANCEL_NOTIFY, at, enhanced=enhanced) or at
            on_time_told = told is not None and told < fixed and told <= deadline
            if on_time_told or not owed:
                self._emit(
                    inc,
                    "crime.reinstated",
                    _RMS,
                    fixed,
                    {"reinstated_at": _iso(fixed)},
                    actor=ActorRole.FCR,
                    crime_ref=ref,
                )
            else:
                self._emit(
                    inc,
                    "crime.cancellation_ratified",
                    _RMS,
                    fixed,
                    {"ratified_at": _iso(fixed), "ratified_by_role": ActorRole.FCR.value},
                    actor=ActorRole.FCR,
                    crime_ref=ref,
                )
        self.ledger.expect(CANCEL_AUTHORITY, subject, at, fixed, immediate=True)

    # --- the incident side ---------------------------------------------------------------

    def _safeguarding(self, inc: _Incident, *, recorded: bool) -> None:
        sg = self.profile.safeguarding
        p = sg.assessed_when_recorded if recorded else sg.assessed_when_unrecorded
        assessed: datetime | None = None
        if self._chance(p):
            assessed = inc.received_at + self._between(0.5, 20.0)
        elif self._chance(0.4):
            assessed = inc.received_at + self._between(26.0, 5 * 24.0)
        if assessed is not None:
            self._assessment(inc, assessed)
        self.ledger.expect(DA_SAFEGUARDING, inc.ref, inc.received_at, assessed)

    def _assessment(self, inc: _Incident, at: datetime) -> None:
        sg = self.profile.safeguarding
        high = self._chance(sg.high_risk_share)
        marac = high and self._chance(sg.marac_when_high)
        risk = RiskLevel.HIGH if high else self.rng.choice((RiskLevel.STANDARD, RiskLevel.MEDIUM))
        data = {"assessed_at": _iso(at), "risk_level": risk.value, "marac_referral": marac}
        event_id = self._emit(
            inc, "safeguarding.assessed", _C2C, at, data, actor=ActorRole.PPU_OFFICER
        )
        if not high or marac:
            return
        referred: datetime | None = None
        if self._chance(0.5):
            referred = at + self._between(24.0, 72.0)
            rdata = {"assessed_at": _iso(referred), "risk_level": "high", "marac_referral": True}
            self._emit(
                inc, "safeguarding.assessed", _C2C, referred, rdata, actor=ActorRole.PPU_OFFICER
            )
        self.ledger.expect(
            DA_SAFEGUARDING, f"{inc.ref}/marac/{event_id}", at, referred, immediate=True
        )

    def _modern_slavery(self, inc: _Incident, d: _Disclosure, child: bool) -> None:
        if self._chance(0.8):
            at = inc.received_at + self._between(1.0, 48.0)
            data = {"referred_at": _iso(at), "child_victim": child, "area": inc.area}
            self._emit(inc, "nrm.referral_made", _C2C, at, data, actor=ActorRole.PPU_OFFICER)
        met = min(
            (c.recorded_at for c in d.crimes if c.group is OffenceGroup.MODERN_SLAVERY),
            default=None,
        )
        self.ledger.expect(MODERN_SLAVERY, inc.ref, inc.received_at, met)

    def _close(self, inc: _Incident, at: datetime) -> None:
        has_record = bool(inc.crimes or inc.n100s)
        if inc.crimes:
            outcome = ClosureOutcome.CRIME_RECORDED
        elif inc.n100s:
            outcome = ClosureOutcome.N100_RECORDED
        else:
            outcome = ClosureOutcome.NON_CRIME
        in_scope = inc.category in (
            IncidentCategory.DOMESTIC_ABUSE,
            IncidentCategory.SEXUAL,
            IncidentCategory.ASB,
        ) or any(inc.flags.get(f) for f in ("domestic_abuse", "sexual", "rape_alleged"))
        review_now = False
        reviewed: datetime | None = None
        if (
            in_scope
            and not has_record
            and self._chance(self.profile.data_quality.closure_supervisor_review)
        ):
            review_now = True
            reviewed = at
        data = {
            "closed_at": _iso(at),
            "outcome": outcome.value,
            "closing_category": inc.category.value,
            "linked_crime_refs": list(inc.crimes),
            "linked_n100_refs": list(inc.n100s),
            "rationale_present": True,
            "supervisor_review": review_now,
        }
        self._emit(inc, "incident.closed", _C2C, at, data, actor=ActorRole.CONTROL_ROOM_SUPERVISOR)
        if not in_scope or has_record:
            return
        if reviewed is None and self._chance(0.4):
            reviewed = at + self._between(26.0, 4 * 24.0)
            rdata = {
                "reviewed_at": _iso(reviewed),
                "review_type": "supervisor_crime_recording",
                "reviewer_role": ActorRole.CONTROL_ROOM_SUPERVISOR.value,
            }
            self._emit(
                inc,
                "incident.reviewed",
                _C2C,
                reviewed,
                rdata,
                actor=ActorRole.CONTROL_ROOM_SUPERVISOR,
            )
        self.ledger.expect(CLOSE_REVIEW, inc.ref, at, reviewed)

    # --- the feed ------------------------------------------------------------------------

    def _finish(self) -> Simulation:
        """Cut at the horizon, shuffle arrival within the lateness window, add the noise."""
        cfg = self.config
        feed = self.profile.feed
        rng = self.rng
        horizon = cfg.start + timedelta(days=cfg.days + cfg.tail_days)
        kept = [(at, env) for at, env in self.events if at <= horizon]
        as_of = max((at for at, _ in kept), default=cfg.start)
        window = max(0, int(min(feed.max_lateness_seconds, cfg.lateness_seconds)) - 1)
        arrivals: list[tuple[datetime, int, bytes]] = []
        duplicates = 0
        for seq, (at, env) in enumerate(kept):
            line = json.dumps(env, separators=(",", ":")).encode("utf-8")
            arrivals.append((at + self._arrival_delay(window), seq, line))
            if self._chance(feed.duplicate_share):
                duplicates += 1
                arrivals.append((at + timedelta(seconds=rng.randint(0, window)), seq, line))
        arrivals.sort(key=lambda item: (item[0], item[1]))
        lines: list[bytes] = []
        malformed: list[int] = []
        for _, _, line in arrivals:
            if self._chance(feed.malformed_share):
                lines.append(self._malformed(line))
                malformed.append(len(lines))
            lines.append(line)
        truth = Truth(
            profile=self.profile.name,
            seed=cfg.seed,
            days=cfg.days,
            incidents_per_day=cfg.incidents_per_day,
            start=cfg.start,
            horizon=horizon,
            as_of=as_of,
            lateness_seconds=cfg.lateness_seconds,
            lines=len(lines),
            events=len(kept),
            duplicates=duplicates,
            malformed_lines=tuple(malformed),
            obligations=self.ledger.opened(horizon),
            breaches=tuple(self.ledger.breaches(horizon, as_of)),
        )
        return Simulation(lines=lines, truth=truth)

    def _arrival_delay(self, window: int) -> timedelta:
        """How much later than its event time a message arrives (always inside the window)."""
        feed = self.profile.feed
        if window <= 0:
            return timedelta(0)
        u = self.rng.random()
        if u < feed.late_arrival_share:
            return timedelta(seconds=self.rng.randint(1, window))
        if u < feed.late_arrival_share + feed.out_of_order_share:
            return timedelta(seconds=self.rng.randint(1, min(window, 300)))
        return timedelta(0)

    def _malformed(self, line: bytes) -> bytes:
        """A broken line of the kinds real feeds produce (never a replacement for a real one)."""
        kind = self.rng.randrange(5)
        if kind == 0:
            return line[: max(1, len(line) // 2)]
        if kind == 1:
            return line.replace(b'"type":"', b'"type":"unknown.', 1)
        if kind == 2:
            return line.replace(b"+00:00", b"", 1)
        if kind == 3:
            return b"[" + line + b"]"
        return b"\xff\xfe not an event"


def generate(config: SimConfig) -> Simulation:
    """Generate a simulation: the same config (and seed) always gives the same lines and truth."""
    return Generator(config).run()


def write_lines(lines: list[bytes], path: Path) -> None:
    """Write NDJSON lines, gzip-compressed when the name ends in `.gz` (reproducibly: no mtime)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = b"".join(line + b"\n" for line in lines)
    if path.name.endswith(".gz"):
        with (
            path.open("wb") as raw,
            gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz,
        ):
            gz.write(payload)
    else:
        path.write_bytes(payload)
