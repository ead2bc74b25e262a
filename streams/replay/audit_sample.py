"""A stratified random sample of incidents for the Force Crime Registrar's own audit.

HMIC estimates a recording rate by auditing a sample of reports; a force can do the same between
inspections. The population is every incident that disclosed a crime; strata are offence group
(of the incident's first disclosure) by area; the sample size is the smallest that gives the
target margin of error at 95% (`stats.sample_size_for_margin`, with the finite-population
correction, p = 0.5 unless a prior rate is given), allocated to strata in proportion to their size
(largest remainders, so the allocations add up exactly). Within a stratum, incidents are drawn
with a seeded `random.Random`, so the same input and seed give the same sample.

Only incident refs and codes are read and written.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from random import Random

from schemas.events import DisclosureAdded, Envelope, IncidentReported
from schemas.registry import DecodeError, decode_event
from streams.replay.reader import iter_lines
from streams.rules.stats import sample_size_for_margin

Stratum = tuple[str, str]
"""(offence group, area)."""

NO_AREA = "UNKNOWN"


@dataclass(frozen=True, slots=True)
class Population:
    """Incidents with a crime disclosure, by stratum; and how many lines could not be read."""

    strata: Mapping[Stratum, tuple[str, ...]]
    skipped_lines: int

    @property
    def size(self) -> int:
        """Incidents in the population."""
        return sum(len(refs) for refs in self.strata.values())


@dataclass(frozen=True, slots=True)
class SampledIncident:
    """One incident drawn for audit, with its stratum's population and sample sizes."""

    incident_ref: str
    offence_group: str
    area: str
    stratum_population: int
    stratum_sample: int


def population_from_events(events: Iterable[Envelope]) -> dict[Stratum, tuple[str, ...]]:
    """Strata of the incidents that disclosed a crime, each incident once.

    An incident's offence group is that of its earliest disclosure (the initial report's first,
    else the earliest further disclosure); its area is the one the report gave.
    """
    first: dict[str, tuple[str, str, str]] = {}
    areas: dict[str, str] = {}
    for event in events:
        if isinstance(event, IncidentReported) and event.incident_ref:
            areas[event.incident_ref] = event.data.area
            if event.data.disclosures:
                group = event.data.disclosures[0].offence_group.value
                at = event.data.received_at.isoformat()
                _keep_earliest(first, event.incident_ref, at, group)
        elif isinstance(event, DisclosureAdded) and event.incident_ref:
            group = event.data.disclosure.offence_group.value
            _keep_earliest(first, event.incident_ref, event.data.disclosed_at.isoformat(), group)
    strata: dict[Stratum, list[str]] = {}
    for ref, (_, _, group) in first.items():
        strata.setdefault((group, areas.get(ref, NO_AREA)), []).append(ref)
    return {key: tuple(sorted(refs)) for key, refs in sorted(strata.items())}


def _keep_earliest(first: dict[str, tuple[str, str, str]], ref: str, at: str, group: str) -> None:
    current = first.get(ref)
    if current is None or at < current[0]:
        first[ref] = (at, ref, group)


def read_population(paths: Sequence[Path]) -> Population:
    """The population from NDJSON files; undecodable lines are counted and skipped."""
    skipped = 0

    def events() -> Iterable[Envelope]:
        nonlocal skipped
        for path in paths:
            for _, raw, _ in iter_lines(path):
                try:
                    yield decode_event(raw)
                except DecodeError:
                    skipped += 1

    strata = population_from_events(events())
    return Population(strata, skipped)


def allocate(sizes: Mapping[Stratum, int], total: int) -> dict[Stratum, int]:
    """Proportional allocation of `total` to strata, by largest remainders (ties by stratum).

    Each allocation is at most its stratum's size, and they add up to `total` (which must not
    exceed the population).
    """
    population = sum(sizes.values())
    if total > population:
        msg = f"cannot sample {total} from a population of {population}"
        raise ValueError(msg)
    if population == 0:
        return dict.fromkeys(sizes, 0)
    quotas = {key: total * n / population for key, n in sizes.items()}
    allocation = {key: math.floor(q) for key, q in quotas.items()}
    short = total - sum(allocation.values())
    order = sorted(sizes, key=lambda key: (-(quotas[key] - allocation[key]), key))
    for key in order[:short]:
        allocation[key] += 1
    return allocation


def draw_sample(
    strata: Mapping[Stratum, Sequence[str]],
    margin: float,
    *,
    seed: int = 1,
    expected_rate: float = 0.5,
) -> list[SampledIncident]:
    """The sample: sized for `margin` at 95% with the finite-population correction."""
    sizes = {key: len(refs) for key, refs in strata.items()}
    population = sum(sizes.values())
    if population == 0:
        return []
    total = sample_size_for_margin(margin, p=expected_rate, population=population)
    allocation = allocate(sizes, total)
    rng = Random(seed)
    sample: list[SampledIncident] = []
    for key in sorted(strata):
        chosen = sorted(rng.sample(list(strata[key]), allocation[key]))
        group, area = key
        sample.extend(
            SampledIncident(ref, group, area, sizes[key], allocation[key]) for ref in chosen
        )
    return sample


CSV_FIELDS = ("incident_ref", "offence_group", "area", "stratum_population", "stratum_sample")


def write_csv(sample: Sequence[SampledIncident], path: Path) -> None:
    """Write the sample: one row per incident, refs and codes only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(CSV_FIELDS)
        for item in sample:
            writer.writerow(
                (
                    item.incident_ref,
                    item.offence_group,
                    item.area,
                    item.stratum_population,
                    item.stratum_sample,
                )
            )
