"""The host's state, which drives every CPU-bound figure: a fixed canary and what the kernel says.

On the H200, hf's three loop processes spent 43.9, 30.9 and 34.6 CPU ms per token at the same
1.01 cores: the CPU itself ran at different speeds, and that was the whole ±45 % of hf's CI. A
process therefore times a fixed piece of pure-Python work before it loads anything (the canary),
and each measured window keeps the load average, the share of CPU time stolen by the hypervisor
and the cores' mean clock (where /proc shows them; None elsewhere).
"""

from __future__ import annotations

import time

CANARY_ITERATIONS = 200_000
CANARY_ROUNDS = 5


def canary_ms(iterations: int = CANARY_ITERATIONS, rounds: int = CANARY_ROUNDS) -> float:
    """The fastest of `rounds` timings of a fixed pure-Python loop, ms: the same work in every
    process, so a slower figure is a slower host (frequency, steal, a busy neighbour)."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        total = 0
        for i in range(iterations):
            total += i * i
        best = min(best, time.perf_counter() - started)
    return 1000 * best


def _read(path: str) -> str | None:
    try:
        with open(path) as file:
            return file.read()
    except OSError:
        return None


def cpu_ticks() -> tuple[int, int] | None:
    """(steal ticks, all ticks) of the host's CPUs since boot, from /proc/stat; None without it."""
    text = _read("/proc/stat")
    if not text or not text.startswith("cpu "):
        return None
    ticks = [int(v) for v in text.splitlines()[0].split()[1:]]
    return (ticks[7] if len(ticks) > 7 else 0), sum(ticks[:8])


def cpu_mhz() -> float | None:
    """The mean current clock of the host's cores (MHz, /proc/cpuinfo); None where not shown."""
    text = _read("/proc/cpuinfo") or ""
    values = [float(line.split(":")[1]) for line in text.splitlines() if line.startswith("cpu MHz")]
    return sum(values) / len(values) if values else None


def load_1m() -> float | None:
    """The one-minute load average (/proc/loadavg); None without it."""
    text = _read("/proc/loadavg")
    return float(text.split()[0]) if text else None


def snapshot() -> dict:
    """The host's state now: ticks, clock and load (see window_state)."""
    return {"ticks": cpu_ticks(), "cpu_mhz": cpu_mhz(), "load_1m": load_1m()}


def window_state(start: dict, end: dict) -> dict:
    """Over a window from `start` to `end` (snapshots): steal_pct (share of all CPU time stolen),
    cpu_mhz (mean of both ends), load_1m (at the end); each None where /proc could not say."""
    steal = None
    if start.get("ticks") and end.get("ticks"):
        stolen = end["ticks"][0] - start["ticks"][0]
        total = end["ticks"][1] - start["ticks"][1]
        steal = 100 * stolen / total if total > 0 else None
    clocks = [v for v in (start.get("cpu_mhz"), end.get("cpu_mhz")) if v is not None]
    return {
        "steal_pct": steal,
        "cpu_mhz": sum(clocks) / len(clocks) if clocks else None,
        "load_1m": end.get("load_1m"),
    }
