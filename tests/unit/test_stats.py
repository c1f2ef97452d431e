"""Statistics on the replication unit: intervals, supported percentiles, comparisons."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmbench.stats import (
    UnitStats,
    ci_half_width_pct,
    percentiles,
    positive_interval,
    ratio_ci,
    supported,
    t_interval,
    welch_p,
)


def test_unit_statistics_match_hand_computed_values():
    s = UnitStats.of([1.0, 2.0, 3.0, 4.0])
    assert (s.n, s.mean) == (4, pytest.approx(2.5))
    assert s.std == pytest.approx(math.sqrt(5 / 3))  # sample std, ddof=1
    half = 3.182446 * math.sqrt(5 / 3) / 2  # t(0.975, df=3) * s / sqrt(n)
    assert (s.ci95_low, s.ci95_high) == pytest.approx((2.5 - half, 2.5 + half), rel=1e-5)
    assert ci_half_width_pct([1.0, 2.0, 3.0, 4.0]) == pytest.approx(100 * half / 2.5, rel=1e-5)


def test_one_unit_has_no_spread_and_no_interval():
    s = UnitStats.of([7.0])
    assert s.n == 1 and s.mean == 7.0 and math.isnan(s.std) and math.isnan(s.ci95_low)
    assert ci_half_width_pct([7.0]) is None and UnitStats.of([]).n == 0


positives = st.lists(st.floats(1e-6, 1e9), min_size=2, max_size=30)


@given(st.lists(st.floats(-1e9, 1e9) | st.just(math.nan), max_size=30))
def test_the_stopping_rules_ci_is_t_intervals_half_width_over_the_mean(values):
    """ci_half_width_pct (plain Python, called after every pass) against numpy's t_interval: the same
    figure, and None where the interval or the mean cannot give one (n < 2, a NaN, a zero mean)."""
    low, high = t_interval(values)
    mean = sum(values) / len(values) if values else math.nan
    got = ci_half_width_pct(values)
    if math.isnan(low) or math.isnan(mean) or mean == 0:
        assert got is None
    else:
        assert got == pytest.approx(100 * (high - low) / 2 / abs(mean), rel=1e-6, abs=1e-9)


@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=30))
def test_the_stopping_rules_ci_never_raises(values):
    """Any floats (inf, -inf, NaN, 1e308: fsum and ** 2 raised on them): None or a width >= 0."""
    got = ci_half_width_pct(values)
    assert got is None or got >= 0


@given(positives)
def test_an_interval_on_the_log_scale_is_positive_and_brackets_the_geometric_mean(values):
    """A plain t interval over few noisy processes reached -957,740 tok/s for a rate; the interval of a
    quantity that cannot be negative is the t interval of its logs, exponentiated."""
    low, high = positive_interval(values)
    geometric = math.exp(sum(map(math.log, values)) / len(values))
    assert 0 < low <= geometric * (1 + 1e-9) and geometric <= high * (1 + 1e-9)
    log_low, log_high = t_interval([math.log(v) for v in values])
    assert (math.log(low), math.log(high)) == pytest.approx((log_low, log_high), rel=1e-9, abs=1e-9)


@given(positives, st.floats(1e-3, 1e3))
def test_a_positive_unit_interval_is_around_the_figure_it_is_printed_beside(values, scale):
    """The summary prints the mean (or a process's tokens / time) beside its CI: the interval is
    around that figure, as far below it in ratio as above it, and never below 0."""
    estimate = scale * sum(values) / len(values)
    s = UnitStats.of(values, positive=True, estimate=estimate)
    assert s.mean == estimate and 0 < s.ci95_low <= estimate <= s.ci95_high
    assert s.ci95_low * s.ci95_high == pytest.approx(estimate**2, rel=1e-6)


@given(st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=30))
def test_a_quantity_that_may_be_negative_keeps_the_plain_t_interval(values):
    assert UnitStats.of(values) == UnitStats.of(values, positive=False)
    s = UnitStats.of(values)
    assert (s.ci95_low, s.ci95_high) == pytest.approx(t_interval(values), rel=1e-9, abs=1e-6)


def test_a_positive_quantity_with_a_zero_unit_has_the_t_interval_cut_at_zero():
    """No logarithm of 0 (a queue time that never waited): the t interval, not below 0."""
    s = UnitStats.of([0.0, 5.0, 1.0], positive=True)
    low, high = t_interval([0.0, 5.0, 1.0])
    assert low < 0 and (s.ci95_low, s.ci95_high) == (0.0, pytest.approx(high))
    with pytest.raises(ValueError, match="positive values"):
        positive_interval([0.0, 1.0])


def test_percentiles_are_left_out_where_the_sample_cannot_support_them():
    """p99 of 15 requests would be their maximum: it is left out; p90 needs 10 samples."""
    assert [supported(99, n) for n in (15, 99, 100)] == [False, False, True]
    assert [supported(90, n) for n in (9, 10)] == [False, True]
    values = percentiles(range(15))
    assert values["p50"] == 7 and values["p90"] == pytest.approx(12.6) and math.isnan(values["p99"])


def test_welch_uses_the_units_not_the_requests():
    """Three processes' means: the same data as 60 requests would claim far more certainty."""
    three = UnitStats(3, 10.0, 1.0, math.nan, math.nan)
    other = UnitStats(3, 11.5, 1.0, math.nan, math.nan)
    as_requests = UnitStats(60, 10.0, 1.0, math.nan, math.nan), UnitStats(60, 11.5, 1.0, math.nan, math.nan)
    assert welch_p(three, other) > 0.1 > 0.001 > welch_p(*as_requests)
    assert math.isnan(welch_p(UnitStats(1, 1, math.nan, math.nan, math.nan), other))


@given(st.floats(1, 1e4), st.floats(1, 1e4), st.floats(0.01, 0.3), st.integers(2, 20))
def test_the_ratio_interval_contains_the_ratio_and_inverts(a, b, cv, n):
    first, second = UnitStats(n, a, cv * a, 0, 0), UnitStats(n, b, cv * b, 0, 0)
    ratio, low, high = ratio_ci(first, second)
    assert low < ratio < high and ratio == pytest.approx(a / b)
    inverse = ratio_ci(second, first)
    assert (inverse[1], inverse[2]) == pytest.approx((1 / high, 1 / low))
