"""The named metrics, and how each is read from a run record.

A metric is sampled per pass (`repetition`), per request, per output-token gap
(`token`) or once per process (`run`). Its unit is part of its definition, so
every table and figure prints the same unit for it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..record import Pass, RunRecord

MIB = 2**20


@dataclass(frozen=True)
class Metric:
    """A named metric: its unit, what one sample is (`per`), what it measures, whether higher is
    better, and whether it can be negative."""

    name: str
    unit: str
    per: str  # what one sample is: repetition (a pass), request, token or run (a process)
    description: str
    higher_is_better: bool = False
    # How a process's passes make its one value (see process_value): None, the mean of its pass means.
    of_passes: Callable[[list[Pass]], float] | None = None
    # A time, rate, size or count: never below 0, so its 95 % CI is taken on the log scale
    # (stats.positive_interval) and never reaches below 0. False: the plain t interval.
    positive: bool = True


def tokens_over_time(count: Callable[[Pass], int]) -> Callable[[list[Pass]], float]:
    """A rate over several passes as vLLM defines throughput: sum of `count` / sum of pass time, per
    second (the mean of per-pass rates weighs a fast pass like a slow one: issue 24's llama.cpp batch
    of 32 gave 1,957.9 as a mean of rates, 588.7 as tokens / time)."""
    return lambda passes: sum(map(count, passes)) / (sum(p.total_ms for p in passes) / 1000.0)


def decode_rate(passes: list[Pass]) -> float:
    """The decode rate, defined once: 1000 / the mean TPOT of the passes' requests, tok/s (NaN
    without one)."""
    tpots = [r.tpot_ms for p in passes for r in p.requests if r.tpot_ms]
    return 1000.0 / float(np.mean(tpots)) if tpots else float("nan")


METRICS = {
    m.name: m
    for m in [
        Metric(
            "total_ms",
            "ms",
            "repetition",
            "wall time of one pass over all queries (first submission to last result)",
        ),
        Metric(
            "output_tokens_per_s",
            "tok/s",
            "repetition",
            "output tokens / wall time (a process: its passes' tokens / their time)",
            True,
            tokens_over_time(lambda p: p.output_tokens),
        ),
        Metric(
            "total_tokens_per_s",
            "tok/s",
            "repetition",
            "prompt + output tokens / wall time (a process: summed over its passes)",
            True,
            tokens_over_time(lambda p: p.output_tokens + p.prompt_tokens),
        ),
        Metric(
            "requests_per_s",
            "req/s",
            "repetition",
            "requests / wall time (a process: summed over its passes)",
            True,
            tokens_over_time(lambda p: len(p.requests)),
        ),
        Metric("e2e_ms", "ms", "request", "submission to last token"),
        Metric("ttft_ms", "ms", "request", "submission to first token (queue + prefill)"),
        Metric("queue_ms", "ms", "request", "submission to the backend starting on it (locks, pool queue)"),
        Metric("tpot_ms", "ms", "request", "mean time per output token after the first (decode)"),
        Metric(
            "decode_tokens_per_s",
            "tok/s",
            "request",
            "1000 / TPOT (a process: 1000 / the mean TPOT of its requests)",
            True,
            decode_rate,
        ),
        Metric("itl_ms", "ms", "token", "gap between consecutive output tokens"),
        Metric("load_s", "s", "run", "model load time"),
        Metric("rss_peak_mib", "MiB", "run", "peak resident memory of the benchmark process (host)"),
        Metric(
            "gpu_process_after_load_mib", "MiB", "run", "NVML: this process's GPU memory when load() returned"
        ),
        Metric(
            "gpu_process_after_warmup_mib",
            "MiB",
            "run",
            "NVML: this process's GPU memory when measuring began (weights + CUDA context + caches)",
        ),
        Metric("gpu_process_peak_mib", "MiB", "run", "NVML: this process's peak GPU memory"),
        Metric("gpu_used_peak_mib", "MiB", "run", "NVML: peak used memory of the whole device"),
        Metric(
            "torch_max_allocated_mib",
            "MiB",
            "run",
            "torch.cuda.max_memory_allocated over the measured window (torch's own share only)",
        ),
        Metric(
            "torch_max_reserved_mib", "MiB", "run", "torch.cuda.max_memory_reserved over the measured window"
        ),
        Metric(
            "energy_j_per_output_token",
            "J/tok",
            "run",
            "NVML energy over the measured passes of one level / their output tokens",
        ),
        Metric(
            "gpu_busy_pct",
            "%",
            "run",
            "NVML utilization over the measured passes of one level: share of time a kernel ran "
            "(not quoted on a window shorter than NVML's averaging period)",
        ),
        Metric(
            "cpu_ms_per_output_token",
            "ms/tok",
            "run",
            "this process's CPU time (all threads) over the measured passes of one level / their output tokens",
        ),
        Metric(
            "cpu_cores",
            "cores",
            "run",
            "this process's CPU seconds / the window's wall seconds, over the measured passes of one level",
        ),
        Metric(
            "token_clock_ms",
            "ms",
            "run",
            "resolution of the backend's token stamps (FastLLM: the achieved poll)",
        ),
    ]
}
PASS_METRICS = [name for name, m in METRICS.items() if m.per != "run"]
RUN_METRICS = [name for name, m in METRICS.items() if m.per == "run"]
# Once per process *and level*: read from the level's measured window (record.Resources.window).
WINDOW_METRICS = ["energy_j_per_output_token", "gpu_busy_pct", "cpu_ms_per_output_token", "cpu_cores"]
# NVML's utilization is the share of its last sample period (1/6 s to 1 s by product) a kernel ran:
# a window shorter than a second may be all one reading.
NVML_UTILIZATION_PERIOD_S = 1.0


def pass_samples(p: Pass) -> dict[str, list[float]]:
    """Every per-pass, per-request and per-token metric's samples in one pass."""
    seconds = p.total_ms / 1000.0
    requests = p.requests
    return {
        "total_ms": [p.total_ms],
        "output_tokens_per_s": [p.output_tokens / seconds],
        "total_tokens_per_s": [(p.output_tokens + p.prompt_tokens) / seconds],
        "requests_per_s": [len(requests) / seconds],
        "e2e_ms": [r.e2e_ms for r in requests],
        "ttft_ms": [r.ttft_ms for r in requests if r.ttft_ms is not None],
        "queue_ms": [r.queue_ms for r in requests],
        "tpot_ms": [r.tpot_ms for r in requests if r.tpot_ms],
        "decode_tokens_per_s": [1000.0 / r.tpot_ms for r in requests if r.tpot_ms],
        "itl_ms": [gap for r in requests for gap in r.itl_ms],
    }


def process_value(name: str, passes: list[Pass]) -> float:
    """One process's value of per-pass metric `name` over its `passes`: the metric's own rule (rates:
    sums over passes), else the mean of the per-pass means; NaN when no pass has a sample."""
    rule = METRICS[name].of_passes
    if rule is not None:
        return rule(passes)
    means = [float(np.mean(s)) for s in (pass_samples(p)[name] for p in passes) if s]
    return float(np.mean(means)) if means else float("nan")


def _mib(value: int | None) -> float | None:
    return None if value is None else value / MIB


RUN_VALUES: dict[str, Callable[[RunRecord], float | None]] = {
    "load_s": lambda r: r.load_s,
    "rss_peak_mib": lambda r: _mib(
        r.memory.get("process_peak_rss_bytes") or (r.resources and r.resources.peak_rss_bytes)
    ),
    # Snapshots hold 0 where NVML never listed this process: a measurement only if it did.
    "gpu_process_after_load_mib": lambda r: _gpu_snapshot(r, "load_end"),
    "gpu_process_after_warmup_mib": lambda r: _gpu_snapshot(r, "measure_start"),
    "gpu_process_peak_mib": lambda r: _mib(r.resources and r.resources.peak_gpu_process_bytes),
    "gpu_used_peak_mib": lambda r: _mib(r.resources and r.resources.peak_gpu_used_bytes),
    "torch_max_allocated_mib": lambda r: _mib(r.memory.get("torch_max_allocated_bytes")),
    "torch_max_reserved_mib": lambda r: _mib(r.memory.get("torch_max_reserved_bytes")),
    **{name: (lambda r, name=name: _whole_window(r, name)) for name in WINDOW_METRICS},
    "token_clock_ms": lambda r: r.backend_info.get("token_clock_resolution_ms"),
}
assert set(RUN_VALUES) == set(RUN_METRICS)


def window_values(window: dict | None, output_tokens: int) -> dict[str, float | None]:
    """WINDOW_METRICS of one measured window (record.Resources.window) that produced
    `output_tokens`; None where the window or its figure is missing, and GPU busy where the
    window (or one of the visits it combines, `shortest_s`) is shorter than NVML's averaging period."""
    window = window or {}
    window_s, cpu_s, energy_j = window.get("window_s"), window.get("cpu_s"), window.get("energy_j")
    busy = window.get("gpu_busy_fraction")
    if busy is not None and (window.get("shortest_s", window_s) or 0) < NVML_UTILIZATION_PERIOD_S:
        busy = None
    per_token = output_tokens or math.nan
    return {
        "energy_j_per_output_token": _finite(energy_j, lambda v: v / per_token),
        "gpu_busy_pct": _finite(busy, lambda v: 100 * v),
        "cpu_ms_per_output_token": _finite(cpu_s, lambda v: 1000 * v / per_token),
        "cpu_cores": _finite(cpu_s, lambda v: v / (window_s or math.nan)),
    }


def _finite(value: float | None, derive) -> float | None:
    """derive(value), or None where value is None or the result is not finite."""
    if value is None:
        return None
    result = derive(value)
    return result if math.isfinite(result) else None


def level_window_values(record: RunRecord, index: int) -> dict[str, float | None]:
    """WINDOW_METRICS of level `index` of a measured record (all None where not kept per level)."""
    levels = record.measurement.levels
    window = record.resources.window(index, len(levels)) if record.resources else None
    return window_values(window, sum(p.output_tokens for p in levels[index].passes))


def _whole_window(record: RunRecord, name: str) -> float | None:
    """A window metric over the whole run: only for a run of one level (a sweep's levels differ, and
    their mixture means no level: it is reported per level)."""
    if record.measurement is None or len(record.measurement.levels) != 1:
        return None
    return level_window_values(record, 0)[name]


def _gpu_snapshot(record: RunRecord, event: str) -> float | None:
    resources = record.resources
    if resources is None or resources.peak_gpu_process_bytes is None:
        return None
    return _mib(resources.snapshot(event, "gpu_process_bytes"))


def run_values(record: RunRecord) -> dict[str, float | None]:
    """The once-per-process metrics of one record (None where not measured)."""
    return {name: read(record) for name, read in RUN_VALUES.items()}
