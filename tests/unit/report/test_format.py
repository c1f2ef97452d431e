"""Numbers as the report prints them."""

import math
import re

from hypothesis import assume, example, given
from hypothesis import strategies as st

from llmbench.report.format import FAR_BOUND_MIN, FAR_BOUND_RATIO, ci, ratio_of, too_wide, two_units
from llmbench.stats import UnitStats, positive_interval, ratio_ci


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


NUMBER = r"-?[\d,]+(?:\.\d+)?(?:e-?\d+)?"


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def _harmonic(a: float, b: float, weight: float) -> float:
    """A process's rate over two passes of rates `a` and `b`: tokens / time, between the two."""
    return 1 / (weight / a + (1 - weight) / b)


@given(
    st.floats(0.01, 1e6),
    st.floats(1.001, 1e4),
    st.one_of(st.none(), st.floats(0, 1)),
    st.booleans(),
)
def test_two_units_are_read_back_from_their_statistics(a, factor, weight, positive):
    """n = 2: mean, std and the interval (log scale or plain t) fix both values, also where the
    estimate is a process's tokens / time rather than the mean of its two passes."""
    b = a * factor
    estimate = None if weight is None else _harmonic(a, b, weight)
    s = UnitStats.of([b, a], positive=positive, estimate=estimate if positive else None)
    pair = two_units(s.mean, s.std, s.ci95_low, s.ci95_high)
    assert pair is not None
    assert math.isclose(pair[0], a, rel_tol=1e-6) and math.isclose(pair[1], b, rel_tol=1e-6), (pair, a, b)


@given(
    st.lists(st.floats(0.01, 1e6), min_size=2, max_size=6),
    st.one_of(st.none(), st.floats(0, 1)),
)
@example(
    [4.0, 1.25], 0.0
)  # the estimate is the unit 1.25, recovered as 1.2500000001: "1.2 … (n=2: 1.3, 4.0)"
def test_an_interval_is_printed_around_its_estimate_or_the_two_values_instead(values, weight):
    """Any sample of positive values: a printed CI holds the printed estimate; an interval too wide to
    say anything (two units, ends more than UNRESOLVED_RATIO apart) is never printed, the two values are."""
    estimate = _harmonic(values[0], values[1], weight) if weight is not None and len(values) == 2 else None
    s = UnitStats.of(values, positive=True, estimate=estimate)
    shown = ci(s.mean, s.ci95_low, s.ci95_high, n=s.n, std=s.std)
    mean = _number(shown.split(" ", 1)[0])
    unresolved = re.fullmatch(rf"({NUMBER}) not resolved \(n=2: ({NUMBER}), ({NUMBER})\)", shown)
    if s.n == 2 and too_wide(s.ci95_low, s.ci95_high):
        assert unresolved, shown
        listed = sorted(_number(unresolved[i]) for i in (2, 3))
        for printed, value in zip(listed, sorted(values), strict=True):
            assert abs(printed - value) <= 0.05 + 1e-9 * value, (shown, values)
        assert listed[0] - 0.05 <= mean <= listed[1] + 0.05, shown
        return
    assert not unresolved and "not resolved" not in shown, shown
    ends = re.fullmatch(rf"{NUMBER} \(({NUMBER})–({NUMBER})\)", shown)
    low, high = (_number(ends[1]), _number(ends[2])) if ends else (mean, mean)
    if not ends:  # a symmetric interval, or one narrower than rounding: "mean ± half"
        half = re.fullmatch(rf"{NUMBER} ± ({NUMBER})", shown)
        assert half, shown
        low, high = mean - _number(half[1]), mean + _number(half[1])
    assert low <= mean <= high, shown


def test_the_unresolved_words_are_the_languages():
    shown = ci(2427.9, 0.6, 9111279.2, n=2, std=1719.0, unresolved="无法确定（n={n}：{values}）")
    assert shown.startswith("2,427.9 无法确定（n=2：") and "9,111,279" not in shown, shown


def test_an_interval_of_three_units_or_without_their_spread_is_still_printed():
    """Only two units can be listed; from three on t(0.975, 2) = 4.3 and the interval stays."""
    assert ci(2427.9, 0.6, 9111279.2, n=3, std=1719.0) == "2,427.9 (0.6–9.1e6)"
    assert ci(2427.9, 0.6, 9111279.2, n=2, std=float("nan")) == "2,427.9 (0.6–9.1e6)"


@given(
    st.lists(st.floats(0.01, 1e6), min_size=2, max_size=5),
    st.lists(st.floats(0.01, 1e6), min_size=2, max_size=5),
)
def test_a_ratio_of_two_units_too_wide_is_said_unresolved_else_printed_with_its_interval(a, b):
    """A ratio's interval with the fewer side at two units and ends more than UNRESOLVED_RATIO apart
    is not printed ("3.00× (0.08–114.49)"): the ratio and "not resolved (n=2)" are; any other is."""
    sa, sb = UnitStats.of(a, positive=True), UnitStats.of(b, positive=True)
    value, low, high = ratio_ci(sa, sb)
    shown = ratio_of(sa, sb)
    assert shown.startswith(f"{value:.2f}×"), shown
    if min(sa.n, sb.n) == 2 and too_wide(low, high):
        assert shown == f"{value:.2f}× not resolved (n=2)", shown
    elif not (math.isnan(low) or math.isnan(high)):
        assert shown == f"{value:.2f}× ({low:.2f}–{high:.2f})", shown
