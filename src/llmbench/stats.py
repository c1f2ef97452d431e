"""Summary statistics of a sample: location, spread, percentiles, 95 % CI of the mean."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats as scipy_stats

FIELDS = ("n", "mean", "std", "min", "p50", "p90", "p99", "max", "ci95_low", "ci95_high")


def t_interval(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """Student-t interval for the mean; NaN bounds when n < 2 (no spread to judge by)."""
    n = len(values)
    if n < 2:
        return math.nan, math.nan
    mean = float(values.mean())
    half = float(scipy_stats.t.ppf((1 + confidence) / 2, n - 1) * values.std(ddof=1) / math.sqrt(n))
    return mean - half, mean + half


def summarize(samples: Sequence[float]) -> dict[str, float]:
    values = np.asarray([s for s in samples if s is not None], dtype=float)
    if len(values) == 0:
        return {field: (0 if field == "n" else math.nan) for field in FIELDS}
    low, high = t_interval(values)
    p50, p90, p99 = np.percentile(values, [50, 90, 99])
    return {
        "n": len(values),
        "mean": float(values.mean()),
        "std": float(values.std(ddof=1)) if len(values) > 1 else math.nan,
        "min": float(values.min()),
        "p50": float(p50),
        "p90": float(p90),
        "p99": float(p99),
        "max": float(values.max()),
        "ci95_low": low,
        "ci95_high": high,
    }


def summarize_groups(groups: Sequence[Sequence[float | None]]) -> dict[str, float]:
    """Statistics of all samples pooled, but the confidence interval over the groups'
    means: requests of one repetition are not independent (they share the machine's
    state), repetitions are the unit of replication."""
    result = summarize([v for group in groups for v in group])
    means = [float(np.mean(present)) for group in groups if (present := [v for v in group if v is not None])]
    result["ci95_low"], result["ci95_high"] = t_interval(np.asarray(means, dtype=float))
    return result
