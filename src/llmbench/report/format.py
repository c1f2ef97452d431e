"""Numbers as the report prints them: thousands separators, CIs, percentages, "–" for none."""

from __future__ import annotations

import math

NONE = "–"


def missing(value) -> bool:
    """Whether `value` is None or a float NaN."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def num(value, digits: int = 1) -> str:
    """`value` with thousands separators and `digits` decimals; "–" when missing."""
    return NONE if missing(value) else f"{value:,.{digits}f}"


def ci(mean, low, high, digits: int = 1) -> str:
    """`mean ± half-width` of a symmetric interval, `mean (low–high)` of an asymmetric one (a time's or
    rate's log-scale interval: its half-width would reach below 0 again), the mean alone without one."""
    if missing(mean):
        return NONE
    if missing(low) or missing(high):
        return num(mean, digits)
    if math.isclose(high - mean, mean - low, rel_tol=1e-6, abs_tol=1e-12):
        return f"{num(mean, digits)} ± {num((high - low) / 2, digits)}"
    return f"{num(mean, digits)} ({num(low, digits)}–{_far_bound(high, mean, digits)})"


# A CI's upper end this far above its mean (and this large) says only "unresolved": printed in
# e-notation, "7.6e17", not as 26 digits that no table cell can hold.
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


def ratio(value, low=None, high=None) -> str:
    """`4.14×` or `4.14× (3.90–4.40)`."""
    if missing(value):
        return NONE
    if missing(low) or missing(high):
        return f"{value:.2f}×"
    return f"{value:.2f}× ({low:.2f}–{high:.2f})"
