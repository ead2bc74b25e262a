"""The FCR's audit sample: sized for the margin, allocated by stratum, reproducible."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from streams.cli import app
from streams.replay.audit_sample import allocate, draw_sample, read_population
from streams.rules.stats import sample_size_for_margin

SAMPLE = Path(__file__).resolve().parents[2] / "streams" / "sample" / "sample.ndjson"


def _strata(sizes: dict[tuple[str, str], int]) -> dict[tuple[str, str], tuple[str, ...]]:
    return {key: tuple(f"{key[0]}-{key[1]}-{i:04d}" for i in range(n)) for key, n in sizes.items()}


STRATA = _strata(
    {
        ("VIOLENCE", "CH-WAR"): 600,
        ("VIOLENCE", "CH-CHE"): 300,
        ("THEFT", "CH-WAR"): 97,
        ("RAPE", "CH-CHE"): 3,
    }
)


def test_draw_sample__size_follows_the_margin_formula_with_fpc():
    """n is `sample_size_for_margin` for the population of incidents with a crime."""
    sample = draw_sample(STRATA, 0.03, seed=1)
    assert len(sample) == sample_size_for_margin(0.03, population=1000)


def test_draw_sample__allocation_is_proportional_to_strata():
    """Each stratum gets its share of the sample, to within one by rounding."""
    sample = draw_sample(STRATA, 0.03, seed=1)
    total = len(sample)
    for key, refs in STRATA.items():
        taken = sum(1 for s in sample if (s.offence_group, s.area) == key)
        assert abs(taken - total * len(refs) / 1000) < 1


def test_draw_sample__same_seed_same_sample_other_seed_other_sample():
    """The draw is seeded: reproducible for an audit trail, different across seeds."""
    first = [s.incident_ref for s in draw_sample(STRATA, 0.05, seed=7)]
    assert first == [s.incident_ref for s in draw_sample(STRATA, 0.05, seed=7)]
    assert first != [s.incident_ref for s in draw_sample(STRATA, 0.05, seed=8)]


@pytest.mark.parametrize("total", [0, 1, 13, 500, 1000])
def test_allocate__adds_up_and_never_exceeds_a_stratum(total: int):
    """Largest remainders: allocations sum to the total and fit their strata."""
    sizes = {key: len(refs) for key, refs in STRATA.items()}
    allocation = allocate(sizes, total)
    assert sum(allocation.values()) == total
    assert all(allocation[key] <= sizes[key] for key in sizes)


def test_read_population__strata_come_from_incident_reports():
    """Only incidents that disclosed a crime are in the population, each once."""
    population = read_population([SAMPLE])
    refs = [ref for refs in population.strata.values() for ref in refs]
    assert len(refs) == len(set(refs)) == population.size > 0
    malformed = json.loads(SAMPLE.with_name("sample.ndjson.truth.json").read_text())
    assert population.skipped_lines == len(malformed["malformed_lines"])
    assert all(group and area.startswith("CH-") for group, area in population.strata)


def test_audit_sample_command__writes_refs_and_codes_only(tmp_path: Path):
    """The CSV holds incident refs, codes and counts: nothing else."""
    out = tmp_path / "sample.csv"
    result = CliRunner().invoke(
        app, ["audit-sample", str(SAMPLE), "--margin", "0.05", "--out", str(out), "--seed", "3"]
    )
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows
    assert set(rows[0]) == {
        "incident_ref",
        "offence_group",
        "area",
        "stratum_population",
        "stratum_sample",
    }
    assert all(r["incident_ref"].startswith("CHE-I") for r in rows)
