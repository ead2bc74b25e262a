"""Compliance statistics against the Cheshire 2017 inspection, textbook values and properties.

The seed gives p and n for the overall rate but not R12 (Cheshire's recorded crime in the 12
months to 30 November 2016) nor the sample sizes behind the violence and sexual-offence rates.
Those are back-solved from the published "over N unrecorded" and "±x" figures and marked so.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.rules.stats import (
    Interval,
    estimated_unrecorded_per_year,
    hmic_population,
    hmic_wald_interval,
    proportion,
    sample_size_for_margin,
    suppress_small,
    wald_half_width,
    wilson_interval,
)

CHESHIRE_P = 0.836  # [seed] "recorded 83.6 percent"
CHESHIRE_N = 1_580  # [seed] "a total of 1,580 reports of crime that we audited"
CHESHIRE_R12 = 59_300  # [back-solved] from "over 11,600" and "±1.79"; not stated in the seed


def _pp(proportion_value: float) -> float:
    """A proportion as percentage points, the unit HMIC quotes."""
    return 100 * proportion_value


def _hmic_half_width_pp(p: float, n: int, recorded_12m: float) -> float:
    """HMIC-style half-width in percentage points, failing loudly on a None interval."""
    interval = hmic_wald_interval(p, n, recorded_12m)
    assert interval is not None
    return _pp(interval.half_width)


# --- HMIC figures ---------------------------------------------------------------------------


def test_hmic_interval__reproduces_cheshire_overall_margin_within_rounding_of_p():
    """p = 0.836, n = 1,580 with the rules file's N gives ±1.79 pp to within 0.01 pp."""
    assert _hmic_half_width_pp(CHESHIRE_P, CHESHIRE_N, CHESHIRE_R12) == pytest.approx(
        1.79, abs=0.01
    )


def test_hmic_interval__reproduces_cheshire_overall_margin_exactly_for_a_p_published_as_83_6():
    """A rate HMIC would print as 83.6% (0.8358) rounds to exactly ±1.79 and 'over 11,600'."""
    p = 0.8358
    assert round(_pp(p), 1) == 83.6
    assert round(_hmic_half_width_pp(p, CHESHIRE_N, CHESHIRE_R12), 2) == 1.79
    assert math.floor(estimated_unrecorded_per_year(p, CHESHIRE_R12) / 100) * 100 == 11_600


def test_hmic_interval__plain_wald_without_population_correction_misses_published_margin():
    """Without the finite-population correction the margin is ±1.83, not the published ±1.79."""
    assert round(_pp(wald_half_width(CHESHIRE_P, CHESHIRE_N)), 2) == 1.83


def test_unrecorded__cheshire_estimate_is_over_11600_and_floors_to_it():
    """U = R12(1-p)/p for Cheshire is at least 11,600 and below 11,700 ('over 11,600')."""
    unrecorded = estimated_unrecorded_per_year(CHESHIRE_P, CHESHIRE_R12)
    assert 11_600 <= unrecorded < 11_700


@pytest.mark.parametrize(
    ("recorded", "trials", "recorded_12m", "published"),
    [
        # violence: [seed] 80.9% ±3.00, "over 3,800"; recorded, trials, R12 [back-solved]
        pytest.param(500, 618, 16_110, (80.9, 3.00, 3_800, 100), id="violence"),
        # sexual incl. rape: [seed] 84.8% ±3.10, "over 280"; recorded, trials, R12 [back-solved]
        pytest.param(280, 330, 1_569, (84.8, 3.10, 280, 10), id="sexual"),
    ],
)
def test_hmic_interval__group_figures_are_jointly_reproducible(
    recorded, trials, recorded_12m, published
):
    """Some (n, R12) reproduces each group's published rate, margin and 'over U' together."""
    rate_pct, margin_pp, unrecorded_floor, rounded_to = published
    p = recorded / trials
    assert round(_pp(p), 1) == rate_pct
    assert round(_hmic_half_width_pp(p, trials, recorded_12m), 2) == margin_pp
    unrecorded = estimated_unrecorded_per_year(p, recorded_12m)
    assert unrecorded_floor <= unrecorded < unrecorded_floor + rounded_to


def test_hmic_population__is_half_a_year_of_should_have_been_recorded_crime():
    """N = (R12/2)/p: 59,300 recorded a year at 83.6% is about 35,467 reports in six months."""
    assert hmic_population(CHESHIRE_P, CHESHIRE_R12) == pytest.approx(29_650 / 0.836)


# --- degenerate inputs ----------------------------------------------------------------------


def test_hmic_interval__is_none_without_a_sample():
    """No audited reports means no interval, not a zero-width one."""
    assert hmic_wald_interval(0.5, 0, CHESHIRE_R12) is None


@pytest.mark.parametrize("p", [0.0, 1.0])
def test_hmic_interval__collapses_to_the_point_at_zero_and_one(p):
    """Wald has zero width at 0 and 1 (its known flaw; Wilson is the one to trust there)."""
    assert hmic_wald_interval(p, 100, CHESHIRE_R12) == Interval(p, p)


def test_hmic_interval__is_a_point_when_the_sample_is_the_whole_population():
    """A census (n >= N) has no sampling error."""
    interval = hmic_wald_interval(0.5, 1_000, recorded_12m=1_000)  # N = 1,000
    assert interval == Interval(0.5, 0.5)


def test_hmic_interval__stays_within_zero_and_one_near_the_edges():
    """A wide interval near 1 is clamped rather than running past 100%."""
    interval = hmic_wald_interval(0.98, 10, CHESHIRE_R12)
    assert interval is not None
    assert interval.high == 1.0
    assert interval.low < 0.98


@pytest.mark.parametrize(
    "call",
    [
        lambda: hmic_wald_interval(1.2, 10, 100),
        lambda: hmic_wald_interval(math.nan, 10, 100),
        lambda: hmic_wald_interval(0.5, 10, -1),
        lambda: wilson_interval(3, 2),
        lambda: wilson_interval(-1, 2),
        lambda: estimated_unrecorded_per_year(0.0, 100),
        lambda: wald_half_width(0.5, 0),
        lambda: sample_size_for_margin(0.0),
        lambda: sample_size_for_margin(0.05, population=0),
        lambda: suppress_small(-1),
    ],
)
def test_invalid_inputs__raise_value_error(call):
    """Inputs that cannot describe a sample fail loudly instead of producing a number."""
    with pytest.raises(ValueError):  # noqa: PT011 - every case is a plain domain error
        call()


def test_unrecorded__is_zero_when_everything_is_recorded():
    """At p = 1 nothing goes unrecorded."""
    assert estimated_unrecorded_per_year(1.0, 60_000) == 0.0


# --- Wilson ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("successes", "trials", "low", "high"),
    [
        # Newcombe (1998) Stat Med 17:857, Table II, method 3 (score, no continuity correction)
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0000, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson__matches_published_textbook_values(successes, trials, low, high):
    """Wilson intervals agree with Newcombe's worked examples to four places."""
    interval = wilson_interval(successes, trials)
    assert interval is not None
    assert (round(interval.low, 4), round(interval.high, 4)) == (low, high)


def test_wilson__is_none_without_trials():
    """A rate of nothing has no interval."""
    assert wilson_interval(0, 0) is None


def test_wilson__has_width_at_zero_and_one_unlike_wald():
    """0 of 10 and 10 of 10 still carry uncertainty."""
    assert wilson_interval(0, 10) == Interval(0.0, pytest.approx(0.2775, abs=1e-4))
    all_recorded = wilson_interval(10, 10)
    assert all_recorded is not None
    assert all_recorded.high == 1.0
    assert all_recorded.low == pytest.approx(0.7225, abs=1e-4)


# --- proportion -----------------------------------------------------------------------------


def test_proportion__bundles_rate_wilson_and_hmic_intervals():
    """The Cheshire sample yields its rate, a Wilson interval and the HMIC-style interval."""
    result = proportion(1_321, CHESHIRE_N, recorded_12m=CHESHIRE_R12)
    assert result.rate == pytest.approx(1_321 / 1_580)
    assert result.wilson == wilson_interval(1_321, CHESHIRE_N)
    assert result.hmic == hmic_wald_interval(1_321 / 1_580, CHESHIRE_N, CHESHIRE_R12)


def test_proportion__omits_hmic_interval_without_recorded_crime_figure():
    """Without R12 there is no population to correct for, so no HMIC-style interval."""
    result = proportion(260, 340)
    assert result.hmic is None
    assert result.wilson is not None


def test_proportion__is_undefined_without_trials():
    """0 of 0 is reported as undefined, never as 0% or 100%."""
    result = proportion(0, 0, recorded_12m=CHESHIRE_R12)
    assert (result.rate, result.wilson, result.hmic) == (None, None, None)


# --- sample size ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("margin", "population", "expected"),
    [
        (0.05, None, 385),  # the classic 384.16 rounded up
        (0.03, None, 1_068),
        (0.05, 1_000, 278),
        (0.05, 10, 10),  # never more than the population
    ],
)
def test_sample_size__matches_standard_values(margin, population, expected):
    """Worst-case (p = 0.5) sizes match the usual survey tables."""
    assert sample_size_for_margin(margin, population=population) == expected


# --- suppression ----------------------------------------------------------------------------


@pytest.mark.parametrize(("count", "expected"), [(0, None), (4, None), (5, 5), (120, 120)])
def test_suppress_small__withholds_counts_under_five(count, expected):
    """Counts under 5 are withheld; 5 and above are shown."""
    assert suppress_small(count) == expected


def test_suppress_small__honours_a_custom_threshold():
    """A force may set a stricter threshold."""
    assert suppress_small(9, threshold=10) is None


# --- properties -----------------------------------------------------------------------------

counts = st.integers(min_value=1, max_value=5_000).flatmap(
    lambda trials: st.tuples(st.integers(min_value=0, max_value=trials), st.just(trials))
)


@given(counts)
def test_wilson__contains_the_rate_and_stays_within_zero_and_one(sample):
    """The Wilson interval always contains the observed rate and never leaves [0, 1]."""
    successes, trials = sample
    interval = wilson_interval(successes, trials)
    assert interval is not None
    assert 0.0 <= interval.low <= interval.high <= 1.0
    assert interval.contains(successes / trials)


@given(counts, st.floats(min_value=1, max_value=1e6))
def test_hmic_interval__contains_the_rate_and_stays_within_zero_and_one(sample, recorded_12m):
    """The HMIC-style interval contains p and never leaves [0, 1]."""
    successes, trials = sample
    p = successes / trials
    interval = hmic_wald_interval(p, trials, recorded_12m)
    assert interval is not None
    assert 0.0 <= interval.low <= interval.high <= 1.0
    assert interval.contains(p)


@given(counts, st.integers(min_value=2, max_value=50))
def test_wilson__narrows_as_the_sample_grows(sample, factor):
    """The same rate from a larger sample gives a strictly narrower Wilson interval."""
    successes, trials = sample
    small = wilson_interval(successes, trials)
    large = wilson_interval(successes * factor, trials * factor)
    assert small is not None
    assert large is not None
    assert large.half_width < small.half_width


@given(
    st.floats(min_value=0.01, max_value=0.99),
    st.integers(min_value=1, max_value=10_000),
    st.integers(min_value=1, max_value=10_000),
)
def test_hmic_interval__narrows_as_the_sample_grows(p, n, extra):
    """With the population fixed, a larger sample gives a strictly smaller margin."""
    population = 50_000.0
    small = wald_half_width(p, n, population=population)
    large = wald_half_width(p, n + extra, population=population)
    assert large < small
    recorded_12m = 2 * p * population  # so that hmic_population gives back 50,000
    small_interval = hmic_wald_interval(p, n, recorded_12m)
    large_interval = hmic_wald_interval(p, n + extra, recorded_12m)
    assert small_interval is not None
    assert large_interval is not None
    assert large_interval.half_width <= small_interval.half_width  # clamping may tie at [0, 1]


@given(
    st.floats(min_value=0.005, max_value=0.2),
    st.floats(min_value=0.0, max_value=1.0),
    st.one_of(st.none(), st.integers(min_value=1, max_value=200_000)),
)
def test_sample_size__achieves_the_margin_and_is_the_smallest_that_does(margin, p, population):
    """The returned size meets the margin, and one fewer would not (unless capped at N)."""
    size = sample_size_for_margin(margin, p=p, population=population)
    assert size >= 1
    assert wald_half_width(p, size, population=population) <= margin + 1e-9
    if size > 1:
        assert wald_half_width(p, size - 1, population=population) > margin - 1e-9
