"""ABBA block log ratios (JSON lists from probe-block-estimators.py): the mean with its Student-t CI
(llmbench.stats.t_interval, as harness_overhead's lines) beside Hodges-Lehmann with its Wilcoxon CI
(normal approximation), the median and a 10 % trimmed mean, all as % overhead.

    PYTHONPATH=src python docs/results/cpu-overhead/probe-block-estimators-compare.py FILE.json ...
"""

import json
import math
import statistics
import sys
from statistics import NormalDist

from llmbench.stats import t_interval


def hodges_lehmann(x: list[float]) -> tuple[float, float, float]:
    """The median of the Walsh averages and its 95 % CI from the signed-rank distribution."""
    n = len(x)
    walsh = sorted((x[i] + x[j]) / 2 for i in range(n) for j in range(i, n))
    k = max(
        0,
        math.floor(len(walsh) / 2 - NormalDist().inv_cdf(0.975) * math.sqrt(n * (n + 1) * (2 * n + 1) / 24)),
    )
    return statistics.median(walsh), walsh[k], walsh[len(walsh) - 1 - k]


def trimmed_mean(x: list[float], share: float = 0.1) -> float:
    x, k = sorted(x), int(len(x) * share)
    return statistics.mean(x[k : len(x) - k])


def pct(log_ratio: float) -> float:
    return 100 * (math.exp(log_ratio) - 1)


for path in sys.argv[1:]:
    x = json.loads(open(path).read())
    low, high = t_interval(x)
    hl, hl_low, hl_high = hodges_lehmann(x)
    q, n = sorted(x), len(x)
    print(
        f"{path.split('/')[-1]:24s} n={n:4d} sd {100 * statistics.stdev(x):5.2f} %  "
        f"mean {pct(statistics.mean(x)):+.2f} ({pct(low):+.2f} … {pct(high):+.2f})  "
        f"HL {pct(hl):+.2f} ({pct(hl_low):+.2f} … {pct(hl_high):+.2f})  "
        f"median {pct(statistics.median(x)):+.2f}  "
        f"10%-trimmed {pct(trimmed_mean(x)):+.2f}  p5/p95 {pct(q[n // 20]):+.1f}/{pct(q[19 * n // 20]):+.1f}"
    )
