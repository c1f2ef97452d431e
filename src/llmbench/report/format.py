"""Numbers as the report prints them: thousands separators, CIs, percentages, "–" for none."""

from __future__ import annotations

import math

from ..stats import CONFIDENCE, UnitStats, ratio_ci, t_quantile

NONE = "–"


def missing(value) -> bool:
    """Whether `value` is None or a float NaN."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def num(value, digits: int = 1) -> str:
    """`value` with thousands separators and `digits` decimals; "–" when missing."""
    return NONE if missing(value) else f"{value:,.{digits}f}"


# A 95 % interval whose upper end is more than this many times its lower one does not place the value
# within a factor of 2 of its estimate either way. With two units that is the rule, not bad luck:
# t(0.975, 1) = 12.7 raises their own ratio to the 12.7th power (two processes 11.5 % apart give 4x;
# 3.7x apart gave issue 29's "2,427.9 (0.6–9,111,279.2) tok/s"). Of two units the report prints the
# values instead (ci, unresolved_pair); from three units on, t(0.975, 2) = 4.3, the interval stays.
UNRESOLVED_RATIO = 4.0
# The printed words of an interval too wide to say anything: the language's strings pass their own.
UNRESOLVED = "not resolved (n={n}: {values})"
# The same for a ratio of two means, whose units cannot be listed as a pair: n is the fewer side's.
UNRESOLVED_RATIO_WORDS = "not resolved (n={n})"


def too_wide(low: float, high: float) -> bool:
    """Whether an interval spans 0 or its ends (either sign) are more than UNRESOLVED_RATIO x apart."""
    if low <= 0 <= high:
        return True
    return max(abs(low), abs(high)) > UNRESOLVED_RATIO * min(abs(low), abs(high))


def two_units(mean: float, std: float, low: float, high: float) -> tuple[float, float] | None:
    """The two unit values (ascending) behind stats.UnitStats.of's statistics of n = 2, in the unit of
    `mean`: they differ by sqrt(2) x `std` (ddof 1). A log-scale interval (stats.positive_interval
    around `mean`: low x high = mean^2, asymmetric) fixes their ratio, (high / low) ** (1 / t(0.975, 1)),
    since ln(high / low) = t x |ln(b / a)|; a plain t interval is symmetric about `mean`, there the
    units' mean (an estimate other than the units' mean is a process's rate, which takes the log scale).
    None when `std` or a bound is missing (NaN). Here, not in stats: the report alone needs it, and
    stats is code of every benchmark run (a change there reruns them)."""
    if any(missing(v) for v in (mean, std, low, high)):
        return None
    gap = math.sqrt(2) * std
    if gap == 0:
        return mean, mean
    log_scale = low > 0 and math.isclose(low * high, mean * mean, rel_tol=1e-9)
    if not log_scale or math.isclose(high - mean, mean - low, rel_tol=1e-9):
        return mean - gap / 2, mean + gap / 2
    # b - a = gap and b / a = ratio: a = gap / (ratio - 1); expm1 keeps a narrow pair's ratio exact
    ratio_minus_one = math.expm1((math.log(high) - math.log(low)) / t_quantile(CONFIDENCE, 1))
    return gap / ratio_minus_one, gap / ratio_minus_one + gap


def unresolved_pair(mean, low, high, n, std) -> tuple[float, float] | None:
    """The two unit values a report prints instead of an interval (two_units, in the unit of `mean`):
    when there are `n` = 2 units, their `std` is known and the interval is too_wide; else None. A
    value within rounding error of `mean` is `mean` itself (an estimate equal to one unit, all weight
    on one pass, printed "1.2 … (n=2: 1.3, 4.0)" from 1.25 and 1.2500000001)."""
    if n != 2 or any(missing(v) for v in (mean, low, high, std)) or not too_wide(low, high):
        return None
    pair = two_units(mean, std, low, high)
    return None if pair is None else tuple(mean if math.isclose(v, mean, rel_tol=1e-9) else v for v in pair)


def ci(mean, low, high, digits: int = 1, *, n=None, std=None, unresolved: str = UNRESOLVED) -> str:
    """`mean ± half-width` of a symmetric interval, `mean (low–high)` of an asymmetric one (a time's or
    rate's log-scale interval: its half-width would reach below 0 again), the mean alone without one.
    Given `n` = 2 units and their `std` (ddof 1), an interval too_wide prints as `unresolved` (a template
    of `n` and `values`) after the mean: "2,427.9 not resolved (n=2: 1,201.5, 3,655.0)", the two units
    recovered by unresolved_pair; the CI's numbers stay in the CSVs."""
    if missing(mean):
        return NONE
    if missing(low) or missing(high):
        return num(mean, digits)
    pair = unresolved_pair(mean, low, high, n, std)
    if pair is not None:
        values = ", ".join(num(value, digits) for value in pair)
        return f"{num(mean, digits)} {unresolved.format(n=int(n), values=values)}"
    if math.isclose(high - mean, mean - low, rel_tol=1e-6, abs_tol=1e-12):
        return f"{num(mean, digits)} ± {num((high - low) / 2, digits)}"
    return f"{num(mean, digits)} ({num(low, digits)}–{_far_bound(high, mean, digits)})"


# A CI's upper end this far above its mean (and this large) says only "unresolved": printed in
# e-notation, "7.6e17", not as 26 digits that no table cell can hold. Rare since an interval of two
# units too wide prints their values (unresolved_pair): three or more noisy units, or a table without
# the units' std.
FAR_BOUND_RATIO = 100.0
FAR_BOUND_MIN = 1e6


def _far_bound(high: float, mean: float, digits: int) -> str:
    """`high` as num() prints it, or in short e-notation when it is at least FAR_BOUND_RATIO x the
    mean and FAR_BOUND_MIN (e.g. a log-scale interval of two processes that differ 70x)."""
    if high >= FAR_BOUND_MIN and high >= FAR_BOUND_RATIO * abs(mean):
        mantissa, exponent = f"{high:.1e}".split("e")
        return f"{mantissa}e{int(exponent)}"
    return num(high, digits)


def pct(fraction, digits: int = 1) -> str:
    """A fraction as a percentage (0.123 -> "12.3 %"); "–" when missing."""
    return NONE if missing(fraction) else f"{fraction * 100:.{digits}f} %"


def ratio(value, low=None, high=None, *, n=None, unresolved: str = UNRESOLVED_RATIO_WORDS) -> str:
    """`4.14×` or `4.14× (3.90–4.40)`; given `n`, the fewer units of the ratio's two sides, = 2 and an
    interval too_wide, the ratio and `unresolved` (a template of `n`): "3.00× not resolved (n=2)" - with
    one degree of freedom the interval said nothing ("3.00× (0.08–114.49)")."""
    if missing(value):
        return NONE
    if missing(low) or missing(high):
        return f"{value:.2f}×"
    if n == 2 and too_wide(low, high):
        return f"{value:.2f}× {unresolved.format(n=2)}"
    return f"{value:.2f}× ({low:.2f}–{high:.2f})"


def ratio_of(numerator: UnitStats, denominator: UnitStats, unresolved: str = UNRESOLVED_RATIO_WORDS) -> str:
    """ratio() of two sides' means with stats.ratio_ci's interval, unresolved as ratio() says."""
    return ratio(*ratio_ci(numerator, denominator), n=min(numerator.n, denominator.n), unresolved=unresolved)
