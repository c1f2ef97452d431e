"""The bandwidth roofline: the decode rate that memory bandwidth allows at batch size 1.

At batch size 1 every output token reads every weight once (models/weights.py says
which bytes), so tokens/s can never exceed bandwidth / decode bytes; the bandwidth
is measured by :mod:`llmbench.measure.bandwidth` on the GPU the runs use.
"""

from __future__ import annotations


def bound_tokens_per_s(bandwidth_bytes_per_s: float, decode_bytes: int) -> float:
    """The batch-1 decode rate if reading the weights were the only cost."""
    return bandwidth_bytes_per_s / decode_bytes
