"""From a run's raw records to named metrics, and from all runs to one tidy table.

summary.csv is long ("tidy"): one row per run x metric, with the statistics of
that metric's samples as columns. A failed run has a single row with an empty
metric and its reason, so failures stay visible next to the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .io import read_json
from .stats import FIELDS, summarize


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    per: str  # what one sample is: repetition, request, token or run
    description: str


METRICS = {
    m.name: m
    for m in [
        Metric("total_ms", "ms", "repetition", "wall time of one pass over all queries"),
        Metric("output_tokens_per_s", "tok/s", "repetition", "output tokens of a pass / its wall time"),
        Metric("requests_per_s", "req/s", "repetition", "requests of a pass / its wall time"),
        Metric("e2e_ms", "ms", "request", "submit to last token"),
        Metric("ttft_ms", "ms", "request", "submit to first token (prefill)"),
        Metric("tpot_ms", "ms", "request", "mean time per output token after the first (decode)"),
        Metric("itl_ms", "ms", "token", "gap between consecutive output tokens"),
        Metric("load_s", "s", "run", "model load time"),
        Metric("rss_peak_mib", "MiB", "run", "peak resident memory of the benchmark process"),
        Metric(
            "gpu_process_after_load_mib", "MiB", "run", "NVML: this process's GPU memory when load() returned"
        ),
        Metric(
            "gpu_process_after_warmup_mib",
            "MiB",
            "run",
            "NVML: this process's GPU memory after warmup (≈ weights)",
        ),
        Metric("gpu_process_peak_mib", "MiB", "run", "NVML: this process's peak GPU memory"),
        Metric("gpu_used_peak_mib", "MiB", "run", "NVML: peak used memory of the whole device"),
        Metric(
            "torch_max_allocated_mib",
            "MiB",
            "run",
            "torch.cuda.max_memory_allocated (torch's own share only)",
        ),
        Metric("torch_max_reserved_mib", "MiB", "run", "torch.cuda.max_memory_reserved"),
        Metric(
            "energy_j_per_output_token",
            "J/tok",
            "run",
            "NVML energy over the measured window / output tokens",
        ),
    ]
}

RUN_COLUMNS = [
    "model",
    "backend",
    "scenario",
    "scenario_type",
    "status",
    "device",
    "dtype",
    "reason",
    "flags",
]
MIB = 2**20


def _mib(value: int | None) -> float | None:
    return None if value is None else value / MIB


COLUMNS = RUN_COLUMNS + ["metric", "unit", "per", *FIELDS]


def samples(result: dict) -> dict[str, list[float]]:
    """Every metric's samples from one successful run."""
    out: dict[str, list[float]] = {name: [] for name in METRICS}
    out["load_s"].append(result["load_s"])
    resources = result.get("resources") or {}
    peak = resources.get("peak") or {}
    snapshots = resources.get("snapshots") or {}
    after_load = snapshots.get("load_end") or {}
    after_warmup = snapshots.get("measure_start") or {}
    memory = result.get("memory") or {}
    # Snapshots hold 0 where NVML never listed this process: a measurement only if it did.
    listed = bool(peak.get("gpu_process_bytes"))
    run_level = {
        "rss_peak_mib": _mib(memory.get("process_peak_rss_bytes") or peak.get("rss_bytes")),
        "gpu_process_after_load_mib": _mib(after_load.get("gpu_process_bytes")) if listed else None,
        "gpu_process_after_warmup_mib": _mib(after_warmup.get("gpu_process_bytes")) if listed else None,
        "gpu_process_peak_mib": _mib(peak.get("gpu_process_bytes")),
        "gpu_used_peak_mib": _mib(peak.get("gpu_used_bytes")),
        "torch_max_allocated_mib": _mib(memory.get("torch_max_allocated_bytes")),
        "torch_max_reserved_mib": _mib(memory.get("torch_max_reserved_bytes")),
        "energy_j_per_output_token": resources.get("energy_j_per_output_token"),
    }
    for name, value in run_level.items():
        if value is not None:
            out[name].append(value)
    for repetition in result["measurement"]["repetitions"]:
        seconds = repetition["total_ms"] / 1000.0
        requests = repetition["requests"]
        out["total_ms"].append(repetition["total_ms"])
        out["output_tokens_per_s"].append(sum(r["output_tokens"] for r in requests) / seconds)
        out["requests_per_s"].append(len(requests) / seconds)
        for request in requests:
            out["e2e_ms"].append(request["e2e_ms"])
            out["ttft_ms"].append(request["ttft_ms"])
            if request["itl_ms"]:
                out["tpot_ms"].append(sum(request["itl_ms"]) / len(request["itl_ms"]))
            out["itl_ms"].extend(request["itl_ms"])
    return out


def run_rows(result: dict) -> list[dict]:
    spec = result["spec"]
    base = {
        "model": spec["model"],
        "backend": spec["backend"],
        "scenario": spec["scenario_name"],
        "scenario_type": spec["scenario"]["type"],
        "status": result["status"],
        "device": result.get("device", spec["device"]),
        "dtype": spec["dtype"],
        "reason": result.get("reason") or "; ".join(result.get("measurement", {}).get("invalid_reasons", [])),
        "flags": "; ".join(result.get("validity", {}).get("flags", [])),
    }
    if result["status"] == "failed":
        return [{**base, "metric": "", "unit": "", "per": ""}]
    rows = []
    for name, values in samples(result).items():
        metric = METRICS[name]
        rows.append({**base, "metric": name, "unit": metric.unit, "per": metric.per, **summarize(values)})
    return rows


def summary_table(run_paths: list[str]) -> pd.DataFrame:
    rows = [row for path in run_paths for row in run_rows(read_json(path))]
    return pd.DataFrame(rows).reindex(columns=COLUMNS)
