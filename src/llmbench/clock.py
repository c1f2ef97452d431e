"""The one clock of every measurement, in a leaf module that imports nothing of the package.

Backends stamp tokens with it and the pass runners time requests with it, so
both sides of a latency come from the same counter.
"""

from __future__ import annotations

import time


def now() -> float:
    """time.perf_counter(), in seconds: monotonic, the finest clock the platform has."""
    return time.perf_counter()
