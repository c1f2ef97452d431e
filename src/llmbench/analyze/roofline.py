"""The bandwidth roofline: the decode rate that memory bandwidth allows at batch size 1.

At batch size 1 every output token reads every weight once (models/weights.py says
which bytes), so tokens/s can never exceed bandwidth / decode bytes; the bandwidth
is measured by :mod:`llmbench.measure.bandwidth` on the GPU the runs use.
"""

from __future__ import annotations

DTYPE_BITS = {"float32": 32.0, "float16": 16.0, "bfloat16": 16.0}


def stored_decode_bytes(decode_bytes: float, dtype: str, bits_per_weight: float | None) -> float:
    """The bytes one decode step reads when the weights are stored at `bits_per_weight` (scales
    included) instead of `dtype` (`decode_bytes` counts them in `dtype`); None: the dtype's own."""
    if bits_per_weight is None:
        return decode_bytes
    return decode_bytes * bits_per_weight / DTYPE_BITS[dtype]


def stored_bits(record) -> float | None:
    """A run's stored bits per weight: what its backend read from the file where it says
    (llama.cpp: K-quants fall back to wider types on rows not divisible by 256), else the
    format's nominal figure (RunSpec.bits_per_weight); None for the dtype's own."""
    if record.spec is None or record.spec.weights is None:
        return None
    return record.backend_info.get("stored_bits_per_weight") or record.spec.bits_per_weight


# Decoding reads the weights at most as fast as a device copies memory: within 5 % of that
# bound (or past it) the bound itself is doubtful (copy bandwidth measured low, weights
# held in a cache, or tokens faster than their clock).
NEAR_BOUND = 0.95


# Which memory's copy bandwidth bounds a run, by the device the bandwidth was measured on: a CPU run
# reads its weights from host memory (RAM), a GPU run from its GPU's memory.
BOUND_MEMORY = {"cpu": "host", "cuda": "gpu"}


def bound_memory(bandwidth: dict) -> str:
    """Whose memory `bandwidth` (measure.bandwidth's result) was copied in: "host" or "gpu"; raises
    KeyError for a device it does not know."""
    return BOUND_MEMORY[bandwidth.get("device", "cuda")]


def bound_tokens_per_s(bandwidth_bytes_per_s: float, decode_bytes: int) -> float:
    """The batch-1 decode rate if reading the weights were the only cost."""
    return bandwidth_bytes_per_s / decode_bytes
