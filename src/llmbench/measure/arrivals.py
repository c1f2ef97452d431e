"""When each request of an open-loop pass is sent: Poisson or gamma arrivals at a rate.

Open loop means the schedule is drawn before the pass and does not wait for
completions: a slow engine makes requests pile up, it does not slow the
arrivals. Inter-arrival gaps are gamma-distributed with shape `burstiness` and
mean 1/`rate_per_s` (burstiness 1 is a Poisson process; below 1 burstier, above
1 more even), as `vllm bench serve --request-rate R --burstiness B` draws them.
"""

from __future__ import annotations

import math
import random


def arrival_offsets_s(count: int, rate_per_s: float, burstiness: float = 1.0, seed: int = 0) -> list[float]:
    """`count` send times in seconds after the pass starts, non-decreasing, the first at 0.

    Gaps ~ Gamma(shape=burstiness, scale=1/(rate_per_s * burstiness)), so their mean is
    1/rate_per_s whatever the burstiness. `rate_per_s` math.inf sends everything at 0.
    Raises ValueError for count < 1, a rate or burstiness that is not positive."""
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    if not rate_per_s > 0:
        raise ValueError(f"rate_per_s must be positive, got {rate_per_s}")
    if not burstiness > 0:
        raise ValueError(f"burstiness must be positive, got {burstiness}")
    if math.isinf(rate_per_s):
        return [0.0] * count
    rng = random.Random(seed)
    scale = 1.0 / (rate_per_s * burstiness)
    offsets, t = [0.0], 0.0
    for _ in range(count - 1):
        t += rng.gammavariate(burstiness, scale)
        offsets.append(t)
    return offsets


def intended_rate_per_s(offsets_s: list[float]) -> float | None:
    """The rate a schedule actually draws: (n - 1) gaps over its span, 1/s (None when it has no span)."""
    span = offsets_s[-1] - offsets_s[0] if offsets_s else 0.0
    return (len(offsets_s) - 1) / span if span > 0 else None
