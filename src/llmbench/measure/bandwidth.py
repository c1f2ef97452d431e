"""The memory-bandwidth probe: how fast the run's device copies memory, and its bare context.

At batch size 1 every output token reads every weight once (weights.py says
which bytes), so tokens/s can never exceed bandwidth / decode bytes. The
bandwidth is measured once per workflow run on the device the runs use (a large
device-to-device copy: each byte read once and written once), with the GPU's
UUID, so a bound is only ever drawn with the bandwidth of the GPU that ran.
The same probe records the memory a bare CUDA context takes (the baseline that
the memory table subtracts).
"""

from __future__ import annotations

import time

from . import nvml
from .device import resolve_device


def _context_bytes() -> int | None:
    """NVML's figure for this process right after torch created its CUDA context."""
    device, _ = nvml.open_device()
    if device is None:
        return None
    import os

    try:
        return nvml.compute_processes(device).get(os.getpid())
    except nvml.NvmlCallError:
        return None


def _best_copy_rate(source, target, sync, seconds: float, trials: int) -> tuple[float, int]:
    """Best of `trials` timed rounds, each copying for at least `seconds` (bytes/s, copies per round).

    One copy of a GiB takes a quarter of a millisecond on an H200: ten of them once measured
    2,942 GB/s on the same board that measured 4,167 GB/s in another session (clocks still
    ramping up), low enough for llama.cpp's decode to reach 99.6 % of that "bound"."""
    nbytes = source.numel() * source.element_size()
    best, count = 0.0, 1
    for _ in range(trials):
        copies, started = 0, time.perf_counter()
        while True:
            target.copy_(source)
            copies += 1
            if copies % 8 == 0:
                sync()
                if time.perf_counter() - started >= seconds:
                    break
        elapsed = time.perf_counter() - started
        if 2 * nbytes * copies / elapsed > best:
            best, count = 2 * nbytes * copies / elapsed, copies
    return best, count


def measure_bandwidth(
    requested: str, threads: int, gib: float | None = None, seconds: float = 1.0, trials: int = 3
) -> dict:
    """Copy bandwidth of the device `requested` resolves to, bytes/s (read + write counted):
    the best of `trials` rounds of at least `seconds` each, after a warm-up round.

    Never raises for a missing device: the result then says it is unavailable and why."""
    device = resolve_device(requested)
    try:
        import torch

        torch.set_num_threads(threads)
        if device == "cuda" and not torch.cuda.is_available():
            return {"device": device, "available": False, "reason": "torch sees no CUDA device"}
        facts = {}
        if device == "cuda":
            torch.cuda.init()
            torch.empty(1, device="cuda")  # the context exists, nothing else is allocated yet
            torch.cuda.synchronize()
            nvml_device, reason = nvml.open_device()
            facts = {
                "name": torch.cuda.get_device_name(),
                "uuid": nvml.device_facts(nvml_device)["uuid"] if nvml_device else None,
                "context_bytes": _context_bytes(),
                "context_reason": reason,
            }
        n = int((gib or (1.0 if device == "cuda" else 0.25)) * 2**30) // 4
        source = torch.empty(n, dtype=torch.float32, device=device).fill_(1.0)
        target = torch.empty_like(source)
        sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
        _best_copy_rate(source, target, sync, seconds, 1)  # warm up: clocks, caches, allocator
        rate, copies = _best_copy_rate(source, target, sync, seconds, trials)
    except Exception as error:  # the roofline is then left out, with this reason
        return {"device": device, "available": False, "reason": f"{type(error).__name__}: {error}"}
    return {
        "device": device,
        "available": True,
        "name": "cpu",
        "uuid": None,
        "context_bytes": None,
        **facts,
        "bytes_per_s": rate,
        "copy_bytes": source.numel() * source.element_size(),
        "copies_per_trial": copies,
        "trials": trials,
        "seconds_per_trial": seconds,
        "threads": torch.get_num_threads(),
    }
