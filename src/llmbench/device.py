"""Which device a run uses, decided the same way for every backend."""

from __future__ import annotations

import os

from . import nvml


def resolve_device(requested: str) -> str:
    """`auto` means cuda when NVML can open the run's GPU, else cpu; explicit values are kept."""
    if requested == "auto":
        device, _ = nvml.open_device()
        return "cuda" if device is not None else "cpu"
    return requested


def default_cpu_threads() -> int:
    return len(os.sched_getaffinity(0))
