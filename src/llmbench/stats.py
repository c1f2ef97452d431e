"""Statistics on the right unit: location, spread and intervals of replication units,
percentiles of pooled samples only where the sample supports them, and the
two-sample comparisons the report makes (Welch's t-test, ratio of means).

The replication unit is a fresh process (a replica) when there are several,
else a measured pass: requests of one pass share the machine's state, passes of
one process share its allocator, caches and clocks, so neither is independent
of its neighbours the way two processes are.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import stats as scipy_stats

CONFIDENCE = 0.95
PERCENTILES = (50, 90, 99)
# A level whose fastest pass is more than this many times its slowest holds passes of two kinds (issue
# 24: llama.cpp batched and unbatched by turns): flagged beside its figures, in the table, plot and answer.
PASS_SPREAD_LIMIT = 1.5


def passes_disagree(slowest: float, fastest: float) -> bool:
    """Whether a level's fastest pass is more than PASS_SPREAD_LIMIT x its slowest (False when either
    is missing)."""
    if slowest is None or fastest is None or math.isnan(slowest) or math.isnan(fastest):
        return False
    return fastest > PASS_SPREAD_LIMIT * slowest


@lru_cache(maxsize=1024)
def t_quantile(confidence: float, df: float) -> float:
    """Two-sided Student t quantile; cached: scipy's costs ~0.1 ms a call, which the
    stopping rule pays after every measured pass."""
    return float(scipy_stats.t.ppf((1 + confidence) / 2, df))


def t_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Student-t interval for the mean; NaN bounds when n < 2 (no spread to judge by)."""
    values = np.asarray(values, dtype=float)
    n = len(values)
    if n < 2:
        return math.nan, math.nan
    mean = float(values.mean())
    half = t_quantile(confidence, n - 1) * float(values.std(ddof=1)) / math.sqrt(n)
    return mean - half, mean + half


def positive_interval(
    values: Sequence[float], center: float | None = None, confidence: float = CONFIDENCE
) -> tuple[float, float]:
    """Student-t interval of a quantity that cannot be negative (a time, a rate, a memory size), taken
    on the log scale: center x exp(-/+ t x sd(log values) / sqrt(n)). Both bounds are > 0 and the interval
    is as wide in ratio below `center` as above it (low x high = center^2), where a plain t interval over a
    few noisy processes reached -957,740 tok/s. `center` defaults to the geometric mean (the interval is
    then the plain t interval of the logs, exponentiated); the summary passes its estimate (the mean, or a
    process's tokens / time) so that the interval brackets the number printed beside it.
    NaN bounds when n < 2; raises ValueError for a value <= 0 (no logarithm: use t_interval)."""
    values = np.asarray(values, dtype=float)
    if (values <= 0).any():
        raise ValueError(f"a log-scale interval needs positive values, got {values.min()}")
    if len(values) < 2:
        return math.nan, math.nan
    logs = np.log(values)
    center = float(np.exp(logs.mean())) if center is None else center
    half = t_quantile(confidence, len(values) - 1) * float(logs.std(ddof=1)) / math.sqrt(len(values))
    return center * math.exp(-half), center * math.exp(half)


def ci_half_width_pct(values: Sequence[float]) -> float | None:
    """95 % CI half-width of the mean (Student t, as t_interval) as a percentage of the mean (inf where
    the spread overflows); None below two values, for a zero or non-finite mean, or where a value is
    NaN. Plain Python, not numpy: the stopping rule calls it after every measured pass, and numpy's
    ~0.2 ms there (caches cold after the pass) was ~0.3 % of a 75 ms pass of the tiny model on two
    cores (benchmarks/harness_overhead.py times it with the pass)."""
    n = len(values)
    if n < 2:
        return None
    mean = sum(values) / n  # not math.fsum, nor ** 2: they raise where floats overflow to inf
    if not math.isfinite(mean) or not mean:
        return None
    spread = math.sqrt(sum((value - mean) * (value - mean) for value in values) / (n - 1))
    half = t_quantile(CONFIDENCE, n - 1) * spread / math.sqrt(n)
    return None if math.isnan(half) else 100.0 * half / abs(mean)


def supported(percentile: float, n: int) -> bool:
    """Whether n samples support the `percentile`-th percentile: only when at least one
    sample lies above it (n x (1 - q) >= 1); otherwise "p99" of 15 samples is their maximum."""
    return n >= 1 and n * (1 - percentile / 100) >= 1 - 1e-9


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    """p50/p90/p99 of pooled samples; NaN where the sample cannot support the percentile. Support
    counts distinct values: the requests of one batch share one stamp (96 TTFTs of three batches of 32
    are three observations), so a repeated value is not another sample."""
    values = np.asarray([s for s in samples if s is not None], dtype=float)
    distinct = len(set(values.tolist()))
    out = {}
    for q in PERCENTILES:
        out[f"p{q}"] = float(np.percentile(values, q)) if supported(q, distinct) else math.nan
    return out


@dataclass(frozen=True)
class UnitStats:
    """Mean, spread and 95 % CI over replication units (each unit one mean)."""

    n: int
    mean: float
    std: float
    ci95_low: float
    ci95_high: float

    @classmethod
    def of(
        cls, unit_means: Sequence[float], positive: bool = False, estimate: float | None = None
    ) -> UnitStats:
        """Statistics of the unit means given, None and NaN dropped: std (ddof 1) and the interval are
        NaN below two units, everything NaN with n 0 when none is left. `estimate` (default: the mean of
        the units) is the figure reported as the mean. A `positive` quantity (one that cannot be
        negative) takes positive_interval around the estimate; where a unit is 0 (no logarithm) or the
        quantity may be negative, the plain t interval is moved to the estimate, and for a positive one
        cut at 0."""
        values = np.asarray([v for v in unit_means if v is not None and not math.isnan(v)], dtype=float)
        if len(values) == 0:
            return cls(0, math.nan, math.nan, math.nan, math.nan)
        mean = float(values.mean()) if estimate is None else float(estimate)
        std = float(values.std(ddof=1)) if len(values) > 1 else math.nan
        if positive and (values > 0).all() and mean > 0:
            return cls(len(values), mean, std, *positive_interval(values, center=mean))
        low, high = (bound - float(values.mean()) + mean for bound in t_interval(values))
        return cls(len(values), mean, std, max(low, 0.0) if positive and not math.isnan(low) else low, high)


def welch_p(a: UnitStats, b: UnitStats) -> float:
    """Two-sided Welch t-test p-value from the units' n, mean and std; NaN if either n < 2."""
    if min(a.n, b.n) < 2 or math.isnan(a.std) or math.isnan(b.std):
        return math.nan
    if a.std == 0 and b.std == 0:
        return 0.0 if a.mean != b.mean else 1.0
    return float(
        scipy_stats.ttest_ind_from_stats(a.mean, a.std, a.n, b.mean, b.std, b.n, equal_var=False).pvalue
    )


def ratio_ci(
    numerator: UnitStats, denominator: UnitStats, confidence: float = CONFIDENCE
) -> tuple[float, float, float]:
    """Ratio of two means with a CI from the delta method on the log ratio
    (var log m ~ (s / m)^2 / n) and Welch-Satterthwaite degrees of freedom.
    Returns (ratio, low, high); NaN bounds when either side has n < 2."""
    a, b = numerator, denominator
    if not (a.mean and b.mean) or math.isnan(a.mean) or math.isnan(b.mean):
        return math.nan, math.nan, math.nan
    ratio = a.mean / b.mean
    if min(a.n, b.n) < 2 or math.isnan(a.std) or math.isnan(b.std):
        return ratio, math.nan, math.nan
    va, vb = (a.std / a.mean) ** 2 / a.n, (b.std / b.mean) ** 2 / b.n
    if va + vb == 0:
        return ratio, ratio, ratio
    df = (va + vb) ** 2 / (va**2 / (a.n - 1) + vb**2 / (b.n - 1))
    half = scipy_stats.t.ppf((1 + confidence) / 2, df) * math.sqrt(va + vb)
    return ratio, ratio * math.exp(-half), ratio * math.exp(half)


def format_p(p: float) -> str:
    """A p-value as the report prints it: two significant digits, "< 0.001" below 0.001, "n/a" for NaN."""
    return "n/a" if math.isnan(p) else (f"{p:.2g}" if p >= 0.001 else "< 0.001")
