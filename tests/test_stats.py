import math

import pytest

from llmbench.stats import summarize


def test_summary_matches_hand_computed_values():
    s = summarize([1.0, 2.0, 3.0, 4.0])
    assert s["n"] == 4
    assert s["mean"] == pytest.approx(2.5)
    assert s["std"] == pytest.approx(math.sqrt(5 / 3))  # sample std, ddof=1
    assert s["p50"] == pytest.approx(2.5)
    assert s["p90"] == pytest.approx(3.7)  # linear interpolation: 1 + 0.9 * 3 = 3.7th value
    assert s["p99"] == pytest.approx(3.97)
    # t(0.975, df=3) = 3.182446; half-width = t * s / sqrt(n)
    half = 3.182446 * math.sqrt(5 / 3) / 2
    assert s["ci95_low"] == pytest.approx(2.5 - half, rel=1e-5)
    assert s["ci95_high"] == pytest.approx(2.5 + half, rel=1e-5)


def test_single_sample_has_no_interval_and_no_spread():
    s = summarize([7.0])
    assert s["mean"] == 7.0 and s["p99"] == 7.0
    assert math.isnan(s["std"]) and math.isnan(s["ci95_low"]) and math.isnan(s["ci95_high"])


def test_missing_values_are_dropped_and_empty_sample_is_nan():
    assert summarize([None, 2.0, 4.0])["mean"] == pytest.approx(3.0)
    empty = summarize([])
    assert empty["n"] == 0 and math.isnan(empty["mean"])


def test_interval_contains_the_mean_and_narrows_with_more_samples():
    few = summarize([10, 12, 11, 13])
    many = summarize([10, 12, 11, 13] * 10)
    assert few["ci95_low"] < few["mean"] < few["ci95_high"]
    assert (many["ci95_high"] - many["ci95_low"]) < (few["ci95_high"] - few["ci95_low"])


def test_grouped_interval_is_over_repetition_means_not_pooled_requests():
    from llmbench.stats import summarize_groups

    groups = [[10.0, 12.0], [20.0, 22.0], [30.0, 32.0]]  # three repetitions of two requests
    s = summarize_groups(groups)
    assert s["n"] == 6 and s["mean"] == pytest.approx(21.0)
    pooled = summarize([v for g in groups for v in g])
    assert s["p50"] == pooled["p50"] and s["std"] == pooled["std"]
    means = summarize([11.0, 21.0, 31.0])  # the interval comes from these three
    assert (s["ci95_low"], s["ci95_high"]) == pytest.approx((means["ci95_low"], means["ci95_high"]))
    assert math.isnan(summarize_groups([[1.0, 2.0, 3.0]])["ci95_low"])  # one repetition: no interval
