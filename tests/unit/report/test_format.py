"""Numbers as the report prints them."""

import re

from hypothesis import assume, given
from hypothesis import strategies as st

from llmbench.report.format import FAR_BOUND_MIN, FAR_BOUND_RATIO, ci
from llmbench.stats import positive_interval


@given(st.lists(st.floats(1.0, 1e6), min_size=2, max_size=8, unique=True))
def test_a_log_scale_interval_is_printed_as_its_ends_never_as_a_half_width(values):
    """mean ± half-width of a rate's log-scale interval would reach below 0 again in the text:
    "3,309.9 ± 11,283.7" tok/s. An asymmetric interval is printed as its two ends."""
    assume(max(values) > 1.01 * min(values))  # an interval narrower than rounding reads as symmetric
    mean = sum(values) / len(values)
    low, high = positive_interval(values, center=mean)
    shown = ci(mean, low, high)
    ends = re.fullmatch(r"[\d,.]+ \(([\d,.]+)–([\d,.]+(?:e\d+)?)\)", shown)
    assert ends and "±" not in shown and "-" not in shown, shown
    assert float(ends[1].replace(",", "")) <= float(ends[2].replace(",", ""))


def test_a_symmetric_interval_keeps_its_half_width():
    assert ci(10.0, 8.0, 12.0) == "10.0 ± 2.0" and ci(10.0, float("nan"), 12.0) == "10.0"


@given(st.floats(1e-3, 1e5), st.floats(1.0, 1e20))
def test_an_upper_end_far_past_its_mean_is_short_and_still_its_value(mean, factor):
    """Two processes 70x apart give a log-scale CI up to ~1e17: 26 digits no table cell holds."""
    assume(abs(factor - 1.5) > 1e-3)  # low is mean / 2: 1.5 x would be a symmetric interval
    high = mean * factor
    end = ci(mean, mean / 2, high).rsplit("–", 1)[1].rstrip(")")
    far = high >= FAR_BOUND_MIN and factor >= FAR_BOUND_RATIO
    assert ("e" in end) == far and len(end) <= (7 if far else 30), end
    assert abs(float(end.replace(",", "")) - high) <= (0.05 if far else 1e-6) * high + 0.05
