"""Compliance statistics: recording rates with confidence intervals, as HMIC publishes them.

Implements rules file §6 (Measures). A recording rate is a binomial proportion estimated from an
audit sample, so it is reported with a 95% interval. Two intervals are offered:

- the **HMIC-style Wald interval with finite-population correction** — the one that reproduces the
  inspection's published figures (Cheshire 2017: 83.6% ±1.79 pp from 1,580 audited reports), so a
  monitor's numbers can be set beside the inspectorate's;
- the **Wilson score interval** — better behaved for small samples and rates near 0 or 1 (the
  Wald interval collapses to zero width there), so it is the one to trust for small breakdowns.

Also: the inspection's "estimated unrecorded crimes a year", the sample size an FCR audit needs for
a target margin, and small-number suppression for sensitive breakdowns (rules file §5).

Pure: stdlib `math` only, no clock, no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Z_95 = 1.96
"""Normal quantile for a two-sided 95% interval, rounded as HMIC rounds it."""

SUPPRESSION_THRESHOLD = 5
"""Counts below this are suppressed in sexual-offence and child breakdowns (rules file §5)."""

_CEIL_TOLERANCE = 1e-9
"""Float noise allowed before rounding a sample size up, so 385.0000000001 stays 385."""


@dataclass(frozen=True, slots=True)
class Interval:
    """A closed interval of proportions within [0, 1]."""

    low: float
    high: float

    @property
    def half_width(self) -> float:
        """Half the width: the '±' figure a report quotes (as a proportion, not percent)."""
        return (self.high - self.low) / 2

    def contains(self, value: float) -> bool:
        """Whether `value` lies within the interval, ends included."""
        return self.low <= value <= self.high


@dataclass(frozen=True, slots=True)
class Proportion:
    """A recording (or timeliness) rate with its 95% intervals.

    `rate`, `wilson` and `hmic` are None when there were no trials: a rate of nothing is
    undefined, and reporting 0% or 100% would be a false finding. `hmic` is also None when
    no 12-month recorded-crime figure was supplied.
    """

    successes: int
    trials: int
    rate: float | None
    wilson: Interval | None
    hmic: Interval | None


def _check_counts(successes: int, trials: int) -> None:
    """Reject counts that cannot describe a sample."""
    if trials < 0 or successes < 0 or successes > trials:
        msg = f"need 0 <= successes <= trials, got successes={successes}, trials={trials}"
        raise ValueError(msg)


def _check_probability(p: float, name: str = "p") -> None:
    """Reject a proportion outside [0, 1] (or NaN)."""
    if not 0.0 <= p <= 1.0:
        msg = f"{name} must be within [0, 1], got {p}"
        raise ValueError(msg)


def _clamped(centre: float, half_width: float) -> Interval:
    """An interval around `centre`, clamped to [0, 1] because a rate cannot leave it."""
    return Interval(low=max(0.0, centre - half_width), high=min(1.0, centre + half_width))


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> Interval | None:
    """Wilson score interval for `successes` out of `trials`; None when `trials` is 0.

    Preferred for small samples (a sexual-offence breakdown for one area) because, unlike Wald,
    it never has zero width at 0% or 100% and its coverage stays near nominal.
    """
    _check_counts(successes, trials)
    if trials == 0:
        return None
    n = float(trials)
    p = successes / n
    z2 = z * z
    denominator = 1.0 + z2 / n
    centre = (p + z2 / (2.0 * n)) / denominator
    half_width = (z / denominator) * math.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n))
    interval = _clamped(centre, half_width)
    # The exact ends at 0 and 1 can drift by an ulp; pin them so the interval contains p.
    return Interval(
        low=0.0 if successes == 0 else min(interval.low, p),
        high=1.0 if successes == trials else max(interval.high, p),
    )


def wald_half_width(p: float, n: int, population: float | None = None, z: float = Z_95) -> float:
    """Wald half-width `z·sqrt(p(1-p)/n)`, times the finite-population correction when given.

    The correction `sqrt((N-n)/(N-1))` shrinks the margin because an audit samples without
    replacement from a finite set of reports; a sample as large as the population (a census)
    has no sampling error, so the correction is 0 when `n >= N`.
    """
    _check_probability(p)
    if n <= 0:
        msg = f"n must be positive, got {n}"
        raise ValueError(msg)
    half_width = z * math.sqrt(p * (1.0 - p) / n)
    if population is None or math.isinf(population):
        return half_width
    if population <= n:
        return 0.0
    return half_width * math.sqrt((population - n) / (population - 1.0))


def hmic_population(p: float, recorded_12m: float) -> float:
    """N ≈ (R12/2)/p: reports that should have been recorded during HMIC's six-month audit.

    HMIC audits six months of reports, so the population sampled is half a year's recorded
    crime grossed up by the recording rate (recorded = p * should-have-been-recorded).
    Infinite when p is 0 (nothing recorded gives no basis for the size).
    """
    _check_probability(p)
    if recorded_12m < 0:
        msg = f"recorded_12m must not be negative, got {recorded_12m}"
        raise ValueError(msg)
    if p == 0.0:
        return math.inf
    return (recorded_12m / 2.0) / p


def hmic_wald_interval(p: float, n: int, recorded_12m: float, z: float = Z_95) -> Interval | None:
    """The 95% interval as HMIC publishes it; None when `n` is 0 (no sample, no interval).

    HMIC's published intervals are reproduced by a Wald interval with finite-population
    correction, N ≈ (R12/2)/p (rules file §6): Cheshire 2017, p = 0.836, n = 1,580 gives
    ±1.79 pp. Use it to compare with the inspectorate; prefer `wilson_interval` otherwise,
    because at p = 0 or 1 this interval has zero width (a Wald artefact, not certainty).
    """
    _check_probability(p)
    if n == 0:
        return None
    population = hmic_population(p, recorded_12m)
    return _clamped(p, wald_half_width(p, n, population=population, z=z))


def estimated_unrecorded_per_year(p: float, recorded_12m: float) -> float:
    """U = R12·(1-p)/p: the inspection's estimate of crimes a year that go unrecorded.

    If a share p of crimes is recorded and R12 were recorded in the year, R12/p should have
    been, and the gap is R12/p - R12. Undefined (ValueError) at p = 0.
    """
    _check_probability(p)
    if p == 0.0:
        msg = "p must be positive: with nothing recorded the unrecorded total is undefined"
        raise ValueError(msg)
    if recorded_12m < 0:
        msg = f"recorded_12m must not be negative, got {recorded_12m}"
        raise ValueError(msg)
    return recorded_12m * (1.0 - p) / p


def proportion(successes: int, trials: int, recorded_12m: float | None = None) -> Proportion:
    """Bundle a rate with its Wilson interval and, given R12, the HMIC-style interval."""
    _check_counts(successes, trials)
    if trials == 0:
        return Proportion(successes=0, trials=0, rate=None, wilson=None, hmic=None)
    rate = successes / trials
    hmic = None if recorded_12m is None else hmic_wald_interval(rate, trials, recorded_12m)
    return Proportion(
        successes=successes,
        trials=trials,
        rate=rate,
        wilson=wilson_interval(successes, trials),
        hmic=hmic,
    )


def sample_size_for_margin(
    margin: float, p: float = 0.5, population: int | None = None, z: float = Z_95
) -> int:
    """Smallest audit sample whose Wald half-width is at most `margin` (a proportion).

    For the FCR's audit-sample command. p = 0.5 is the conservative default (widest interval).
    With a population, inverts the finite-population-corrected half-width exactly:
    n = n0·N/(n0 + N - 1), n0 = z²p(1-p)/margin²; never more than the population itself.
    """
    if not 0.0 < margin < 1.0:
        msg = f"margin must be within (0, 1), got {margin}"
        raise ValueError(msg)
    _check_probability(p)
    if population is not None and population < 1:
        msg = f"population must be at least 1, got {population}"
        raise ValueError(msg)
    n0 = z * z * p * (1.0 - p) / (margin * margin)
    # At p of 0 or 1 Wald has no width at any size (n0 = 0): one report is enough.
    needed = n0 if population is None or n0 == 0.0 else n0 * population / (n0 + population - 1)
    size = max(1, math.ceil(needed - _CEIL_TOLERANCE))
    return size if population is None else min(size, population)


def suppress_small(count: int, threshold: int = SUPPRESSION_THRESHOLD) -> int | None:
    """The count, or None when it is below `threshold` (rules file §5, sexual/child breakdowns).

    Small counts in a sensitive breakdown can identify a victim, so they are withheld; callers
    must render None as suppressed (e.g. "<5"), never as 0.
    """
    if count < 0:
        msg = f"count must not be negative, got {count}"
        raise ValueError(msg)
    return None if count < threshold else count
