"""Statistics on the replication unit: intervals, supported percentiles, comparisons."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmbench.stats import UnitStats, ci_half_width_pct, percentiles, ratio_ci, supported, welch_p


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
