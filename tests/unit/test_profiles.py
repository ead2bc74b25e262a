"""Simulator profiles load, validate, sum their mixes to 1 and source every number."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from schemas.codes import OffenceGroup
from streams.sim.profile import (
    SOURCE_TAGS,
    Profile,
    ProfileError,
    load_profile,
    packaged_profiles,
)

PROFILES = ["cheshire-2016", "improved"]


def _probabilities(value: Any, path: str = "") -> list[tuple[str, float]]:
    """Every float in a dumped profile that is a share or probability (not a count or a time)."""
    found: list[tuple[str, float]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(_probabilities(item, f"{path}.{key}" if path else key))
    elif (
        isinstance(value, float)
        and not path.startswith(("volume", "modern_slavery.nrm"))
        and not path.endswith(("_hours", "_seconds", "_sigma", "_days_to_cancel"))
    ):
        found.append((path, value))
    return found


def _cheshire_json() -> dict[str, Any]:
    """The packaged Cheshire profile as raw JSON, for tampering with."""
    return load_profile("cheshire-2016").model_dump(mode="json")


def test_packaged_profiles__lists_both_profiles():
    """Both shipped profiles are discoverable by name."""
    assert set(PROFILES) <= set(packaged_profiles())


@pytest.mark.parametrize("name", PROFILES)
def test_profile__loads_and_validates(name):
    """Each shipped profile passes the model's validation, name matching its file."""
    profile = load_profile(name)
    assert isinstance(profile, Profile)
    assert profile.name == name


@pytest.mark.parametrize("name", PROFILES)
def test_profile__probabilities_are_within_zero_and_one(name):
    """Every share and probability in the profile lies in [0, 1]."""
    values = _probabilities(load_profile(name).model_dump(mode="json", exclude={"sources"}))
    assert len(values) > 50
    assert all(0.0 <= value <= 1.0 for _, value in values)


@pytest.mark.parametrize("name", PROFILES)
def test_profile__mixes_sum_to_one(name):
    """Channel, offence, area and cancellation-class mixes are distributions."""
    profile = load_profile(name)
    for mix in (
        profile.channel_mix,
        profile.offence_mix,
        profile.area_mix,
        profile.cancellation.class_mix,
    ):
        assert math.fsum(mix.values()) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("name", PROFILES)
def test_profile__every_offence_group_has_a_recording_probability(name):
    """No disclosure can fall through the recording table."""
    assert set(load_profile(name).recording.by_group) == set(OffenceGroup)


@pytest.mark.parametrize("name", PROFILES)
def test_profile__every_source_is_tagged(name):
    """Each source says whether it is seed, rules, derived or assumed."""
    assert all(text.startswith(SOURCE_TAGS) for text in load_profile(name).sources.values())


@pytest.mark.parametrize(("name", "rate"), [("cheshire-2016", 0.836), ("improved", 0.964)])
def test_profile__mix_weighted_recording_rate_matches_the_inspection(name, rate):
    """Cheshire records 83.6% overall (2017) and the improved force 96.4% (2018)."""
    assert load_profile(name).expected_recording_rate() == pytest.approx(rate, abs=0.001)


def test_cheshire__carries_the_seed_figures():
    """The calibration figures from the seed are in the Cheshire profile as given."""
    profile = load_profile("cheshire-2016")
    assert profile.recording.by_group[OffenceGroup.VIOLENCE] == 0.809
    assert profile.recording.by_group[OffenceGroup.RAPE] == pytest.approx(109 / 138, abs=1e-3)
    assert profile.recording.domestic_abuse == pytest.approx(260 / 340, abs=1e-3)
    assert profile.n100.used_when_required == pytest.approx(9 / 29, abs=1e-3)
    assert profile.n100.wrong_reason_share == pytest.approx(4 / 18, abs=1e-3)
    assert profile.timeliness.within_24h[OffenceGroup.OTHER_SEXUAL] == pytest.approx(
        122 / 199, abs=1e-3
    )
    assert profile.cancellation.correct[OffenceGroup.VIOLENCE] == pytest.approx(13 / 20)
    assert profile.volume.calls_for_service_per_year == 363_000


def test_improved__is_better_than_cheshire_on_every_recording_probability():
    """The improved force records each group at least as often as 2016 Cheshire."""
    before = load_profile("cheshire-2016").recording.by_group
    after = load_profile("improved").recording.by_group
    assert all(after[group] > before[group] for group in OffenceGroup)


def test_load_profile__reads_a_file_path(tmp_path: Path):
    """A force's own profile can be loaded from a file outside the package."""
    data = _cheshire_json() | {"name": "my-force"}
    path = tmp_path / "my-force.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert load_profile(path).name == "my-force"
    assert load_profile(str(path)).name == "my-force"


def test_load_profile__unknown_name_lists_the_packaged_profiles():
    """A mistyped name fails with the names that exist."""
    with pytest.raises(ProfileError, match="cheshire-2016"):
        load_profile("chesire")


def test_load_profile__missing_file_is_a_profile_error(tmp_path: Path):
    """A path that does not exist fails as a ProfileError, not a bare OSError."""
    with pytest.raises(ProfileError, match="cannot read"):
        load_profile(tmp_path / "absent.json")


def _rejects(data: dict[str, Any], match: str, tmp_path: Path) -> None:
    """Write `data` as a profile file and expect loading to fail naming `match`."""
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ProfileError, match=match):
        load_profile(path)


def test_profile__rejects_a_mix_that_does_not_sum_to_one(tmp_path: Path):
    """A channel mix summing to 1.1 is refused."""
    data = _cheshire_json()
    data["channel_mix"]["online"] += 0.1
    _rejects(data, "channel_mix must sum to 1", tmp_path)


def test_profile__rejects_a_probability_above_one(tmp_path: Path):
    """A recording probability of 1.2 is refused."""
    data = _cheshire_json()
    data["recording"]["domestic_abuse"] = 1.2
    _rejects(data, "domestic_abuse", tmp_path)


def test_profile__rejects_an_unknown_key(tmp_path: Path):
    """A misspelt key is an error, not a silently ignored field."""
    data = _cheshire_json()
    data["feed"]["malformed_shar"] = 0.1
    _rejects(data, "malformed_shar", tmp_path)


def test_profile__rejects_a_number_without_a_source(tmp_path: Path):
    """Removing a number's source makes the profile invalid."""
    data = _cheshire_json()
    del data["sources"]["n100.used_when_required"]
    _rejects(data, r"numbers without a source: \['n100.used_when_required'\]", tmp_path)


def test_profile__rejects_an_untagged_source(tmp_path: Path):
    """A source that does not say seed, rules, derived or assumed is refused."""
    data = _cheshire_json()
    data["sources"]["n100.used_when_required"] = "HMIC said so"
    _rejects(data, "sources must start with one of", tmp_path)


def test_profile__rejects_a_source_for_a_missing_number(tmp_path: Path):
    """A source naming no field (a stale or misspelt path) is refused."""
    data = _cheshire_json()
    data["sources"]["n100.used_when_requird"] = "[seed] 9 of 29"
    _rejects(data, "sources name no number", tmp_path)


def test_profile__rejects_a_recording_table_missing_a_group(tmp_path: Path):
    """Every offence group needs a recording probability."""
    data = _cheshire_json()
    del data["recording"]["by_group"]["ROBBERY"]
    _rejects(data, "lacks offence groups", tmp_path)


def test_profile__is_immutable():
    """A loaded profile cannot be changed by a simulator run."""
    profile = load_profile("cheshire-2016")
    with pytest.raises(ValueError, match="frozen"):
        profile.name = "changed"  # type: ignore[misc]
