"""Simulator profiles: a force's behaviour as data, calibrated to an inspection (rules file §6).

A profile holds every rate the simulator draws from: volumes, channel and offence mixes, the
probability that each kind of disclosure is recorded (and on time), N100 use, cancellation
correctness, victim care, safeguarding and the imperfections of the feed itself (late,
out-of-order, duplicate and malformed messages). Profiles live as JSON in `streams/profiles/`
so a force can add its own without code. Every number must carry a source — `[seed]`,
`[rules]`, `[derived]` or `[assumed]` — in the profile's `sources` map, because a simulated
compliance figure is only as credible as the rate behind it; the loader refuses a profile
with an unsourced number.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from schemas.base import AreaCode, ForceCode
from schemas.codes import CancellationClass, Channel, OffenceGroup

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
PositiveFloat = Annotated[float, Field(gt=0.0)]

SOURCE_TAGS = ("[seed]", "[rules]", "[derived]", "[assumed]")
"""Every source string starts with one of these, so assumed numbers cannot pass as evidence."""

_MIX_TOLERANCE = 1e-6
_PACKAGE = "streams"
_PROFILE_DIR = "profiles"


class ProfileError(ValueError):
    """A profile cannot be found or does not validate; the message says which and why."""


class _Frozen(BaseModel):
    """Immutable and strict: a typo in a profile key is an error, not a silent default."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def _check_mix(mix: Mapping[Any, float], name: str) -> None:
    """A mix is a probability distribution: its shares must sum to 1."""
    total = math.fsum(mix.values())
    if not mix or abs(total - 1.0) > _MIX_TOLERANCE:
        msg = f"{name} must sum to 1, sums to {total}"
        raise ValueError(msg)


def _check_covers(probabilities: Mapping[OffenceGroup, float], name: str) -> None:
    """A per-group table must give every offence group a value, so no draw falls through."""
    missing = sorted(set(OffenceGroup) - set(probabilities))
    if missing:
        msg = f"{name} lacks offence groups {missing}"
        raise ValueError(msg)


class Volume(_Frozen):
    """How much arrives: the denominators of every simulated rate."""

    calls_for_service_per_year: PositiveFloat
    crime_disclosures_per_year: PositiveFloat

    @property
    def incidents_per_day(self) -> float:
        """Calls for service a day, the simulator's incident arrival rate."""
        return self.calls_for_service_per_year / 365.0

    @property
    def crime_disclosures_per_day(self) -> float:
        """Crimes disclosed a day (should-have-been-recorded, not recorded)."""
        return self.crime_disclosures_per_year / 365.0


class Disclosures(_Frozen):
    """Shape of the crimes inside incidents: several victims, later disclosures, flags."""

    multi_victim_share: Probability
    max_victims: Annotated[int, Field(ge=2)]
    multi_victim_all_recorded: Probability
    further_disclosure_share: Probability
    further_disclosure_recorded: Probability
    domestic_abuse_share: Probability
    child_victim_share: Probability
    professional_third_party_share: Probability


class Recording(_Frozen):
    """Probability that a disclosure becomes a crime record, by group and by route.

    `by_group` is the base rate. `domestic_abuse` and `by_channel` replace it for disclosures
    with the DA flag or arriving by that channel (the audit measured those populations
    separately); where both apply, the lower governs.
    """

    by_group: dict[OffenceGroup, Probability]
    domestic_abuse: Probability
    by_channel: dict[Channel, Probability]
    rape_missed_misclassified_share: Probability

    @model_validator(mode="after")
    def _every_group(self) -> Self:
        _check_covers(self.by_group, "recording.by_group")
        return self


class N100Behaviour(_Frozen):
    """How the force uses N100 for rape reports it does not record at once."""

    used_when_required: Probability
    wrong_reason_share: Probability
    resolved_within_7_days: Probability


class Timeliness(_Frozen):
    """When recorded crimes are recorded: on time within 24 h, or late with a long tail.

    On-time delays are log-normal with `on_time_median_hours`, truncated at 24 h. Late delays
    are 24 h plus a log-normal excess (`late_excess_median_hours`, `late_sigma`), capped at
    `late_max_hours`.
    """

    within_24h: dict[OffenceGroup, Probability]
    on_time_median_hours: PositiveFloat
    on_time_sigma: PositiveFloat
    late_excess_median_hours: PositiveFloat
    late_sigma: PositiveFloat
    late_max_hours: PositiveFloat

    @model_validator(mode="after")
    def _every_group(self) -> Self:
        _check_covers(self.within_24h, "timeliness.within_24h")
        return self


class Cancellation(_Frozen):
    """How often recorded crimes are cancelled, how often rightly, and whether victims hear."""

    rate: dict[OffenceGroup, Probability]
    correct: dict[OffenceGroup, Probability]
    class_mix: dict[CancellationClass, Probability]
    victim_notified: Probability
    median_days_to_cancel: PositiveFloat

    @model_validator(mode="after")
    def _valid_tables(self) -> Self:
        _check_covers(self.rate, "cancellation.rate")
        _check_covers(self.correct, "cancellation.correct")
        _check_mix(self.class_mix, "cancellation.class_mix")
        return self


class VictimCare(_Frozen):
    """Referral to the victim-care unit and the written crime confirmation."""

    referral_made: Probability
    referral_declined: Probability
    consent_refused: Probability
    referral_delay_median_hours: PositiveFloat
    crime_confirmation_sent: Probability
    confirmation_median_hours: PositiveFloat

    @model_validator(mode="after")
    def _outcomes_fit(self) -> Self:
        total = self.referral_made + self.referral_declined + self.consent_refused
        if total > 1.0 + _MIX_TOLERANCE:
            msg = f"victim_care referral outcome shares exceed 1 ({total})"
            raise ValueError(msg)
        return self


class Safeguarding(_Frozen):
    """Whether domestic-abuse safeguarding is recorded, split by whether a crime was."""

    assessed_when_recorded: Probability
    assessed_when_unrecorded: Probability
    high_risk_share: Probability
    marac_when_high: Probability


class ModernSlavery(_Frozen):
    """NRM referrals and whether each becomes a class-106 crime."""

    nrm_referrals_per_year: Annotated[float, Field(ge=0.0)]
    recorded: Probability


class DataQuality(_Frozen):
    """Record-keeping the rules check at once or as metrics."""

    equality_age_sex_captured: Probability
    unauthorised_filing_share: Probability
    closure_supervisor_review: Probability


class Feed(_Frozen):
    """Imperfections of the event stream itself, which the monitor must survive."""

    late_arrival_share: Probability
    max_lateness_seconds: Annotated[float, Field(ge=0.0)]
    out_of_order_share: Probability
    duplicate_share: Probability
    malformed_share: Probability


class Profile(_Frozen):
    """Everything a simulator needs to generate one force's events, with a source per number."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
    description: str
    force_code: ForceCode
    volume: Volume
    channel_mix: dict[Channel, Probability]
    offence_mix: dict[OffenceGroup, Probability]
    area_mix: dict[AreaCode, Probability]
    disclosures: Disclosures
    recording: Recording
    n100: N100Behaviour
    timeliness: Timeliness
    cancellation: Cancellation
    victim_care: VictimCare
    safeguarding: Safeguarding
    modern_slavery: ModernSlavery
    data_quality: DataQuality
    feed: Feed
    sources: dict[str, str]

    @model_validator(mode="after")
    def _mixes_and_sources(self) -> Self:
        _check_mix(self.channel_mix, "channel_mix")
        _check_mix(self.offence_mix, "offence_mix")
        _check_mix(self.area_mix, "area_mix")
        _check_sources(self)
        return self

    def expected_recording_rate(self) -> float:
        """Offence-mix-weighted recording probability: the overall rate the profile implies."""
        return math.fsum(
            share * self.recording.by_group[group] for group, share in self.offence_mix.items()
        )


def _numeric_paths(value: Any, prefix: str = "") -> Iterator[str]:
    """Dotted paths of every number in a dumped profile (booleans are not numbers here)."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _numeric_paths(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield prefix


def _check_sources(profile: Profile) -> None:
    """Each number is covered by a source on its path or a parent path, each source tagged."""
    untagged = sorted(k for k, v in profile.sources.items() if not v.startswith(SOURCE_TAGS))
    if untagged:
        msg = f"sources must start with one of {SOURCE_TAGS}: {untagged}"
        raise ValueError(msg)
    data = profile.model_dump(mode="json", exclude={"sources"})
    paths = list(_numeric_paths(data))
    unknown = sorted(
        key
        for key in profile.sources
        if not any(path == key or path.startswith(f"{key}.") for path in paths)
    )
    if unknown:
        msg = f"sources name no number in the profile: {unknown}"
        raise ValueError(msg)
    unsourced = [path for path in paths if not _covered(path, profile.sources)]
    if unsourced:
        msg = f"numbers without a source: {unsourced}"
        raise ValueError(msg)


def _covered(path: str, sources: Mapping[str, str]) -> bool:
    """Whether `path` or one of its parents has a source."""
    parts = path.split(".")
    return any(".".join(parts[:i]) in sources for i in range(len(parts), 0, -1))


def load_profile(name_or_path: str | Path) -> Profile:
    """Load a profile by packaged name (`cheshire-2016`) or from a JSON file path.

    A bare name reads the package data via importlib.resources, so it works from a wheel;
    anything with a suffix or a directory part is read from the filesystem.
    """
    text = _read_profile_text(name_or_path)
    try:
        return Profile.model_validate_json(text)
    except ValidationError as exc:
        msg = f"profile {name_or_path!s} is invalid: {exc}"
        raise ProfileError(msg) from exc


def packaged_profiles() -> list[str]:
    """Names of the profiles shipped with the package."""
    folder = resources.files(_PACKAGE).joinpath(_PROFILE_DIR)
    return sorted(
        entry.name.removesuffix(".json")
        for entry in folder.iterdir()
        if entry.name.endswith(".json")
    )


def _read_profile_text(name_or_path: str | Path) -> str:
    """The JSON text of a packaged profile or a file, or a ProfileError naming what exists."""
    as_path = Path(name_or_path)
    if isinstance(name_or_path, Path) or as_path.suffix or len(as_path.parts) > 1:
        try:
            return as_path.read_text(encoding="utf-8")
        except OSError as exc:
            msg = f"cannot read profile file {as_path}: {exc.strerror}"
            raise ProfileError(msg) from exc
    resource = resources.files(_PACKAGE).joinpath(_PROFILE_DIR, f"{name_or_path}.json")
    if not resource.is_file():
        msg = f"no packaged profile {name_or_path!r}; choose one of {packaged_profiles()}"
        raise ProfileError(msg)
    return resource.read_text(encoding="utf-8")
