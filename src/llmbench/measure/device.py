"""Which device a run uses, decided the same way for every backend."""

from __future__ import annotations

import os

from . import nvml


def resolve_device(requested: str) -> str:
    """`auto` is cuda when a GPU is visible to CUDA here (NVML opens it, and
    CUDA_VISIBLE_DEVICES does not hide it), else cpu; explicit values are kept."""
    if requested == "auto":
        return "cuda" if nvml.gpu_visible()[0] else "cpu"
    return requested


def default_cpu_threads() -> int:
    """Cores this process may run on (its affinity), not the machine's count."""
    return len(os.sched_getaffinity(0))
