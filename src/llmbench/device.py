"""Which device a run uses, decided the same way for every backend."""

from __future__ import annotations

import os


def nvml_gpu_count() -> int:
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            return pynvml.nvmlDeviceGetCount()
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # no library, no driver, no GPU: all mean "no CUDA device"
        return 0


def resolve_device(requested: str) -> str:
    """`auto` means cuda when NVML sees a GPU, else cpu; explicit values are kept."""
    if requested == "auto":
        return "cuda" if nvml_gpu_count() > 0 else "cpu"
    return requested


def default_cpu_threads() -> int:
    return len(os.sched_getaffinity(0))
