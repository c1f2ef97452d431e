"""From a run's raw records to named metrics, and from all runs to one tidy table.

summary.csv is long ("tidy"): one row per run x metric, with the statistics of
that metric's samples as columns. A failed run has a single row with an empty
metric and its reason, so failures stay visible next to the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .io import read_json
from .scenarios import levels
from .stats import FIELDS, summarize_groups


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
        Metric(
            "total_tokens_per_s", "tok/s", "repetition", "prompt + output tokens of a pass / its wall time"
        ),
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


COLUMNS = RUN_COLUMNS + ["concurrency", "metric", "unit", "per", *FIELDS]


def pass_groups(repetitions: list[dict]) -> dict[str, list[list[float]]]:
    """Samples of the per-pass, per-request and per-token metrics, grouped by repetition."""
    out: dict[str, list[list[float]]] = {m: [] for m, spec in METRICS.items() if spec.per != "run"}
    for repetition in repetitions:
        seconds = repetition["total_ms"] / 1000.0
        requests = repetition["requests"]
        output_tokens = sum(r["output_tokens"] for r in requests)
        group = {
            "total_ms": [repetition["total_ms"]],
            "output_tokens_per_s": [output_tokens / seconds],
            "total_tokens_per_s": [(output_tokens + sum(r["prompt_tokens"] for r in requests)) / seconds],
            "requests_per_s": [len(requests) / seconds],
            "e2e_ms": [r["e2e_ms"] for r in requests],
            "ttft_ms": [r["ttft_ms"] for r in requests],
            "tpot_ms": [sum(r["itl_ms"]) / len(r["itl_ms"]) for r in requests if r["itl_ms"]],
            "itl_ms": [gap for r in requests for gap in r["itl_ms"]],
        }
        for name, values in group.items():
            out[name].append(values)
    return out


def run_level(result: dict) -> dict[str, list[list[float]]]:
    """The once-per-run metrics (load time, memory, energy); absent ones have no group."""
    resources = result.get("resources") or {}
    peak = resources.get("peak") or {}
    snapshots = resources.get("snapshots") or {}
    after_load = snapshots.get("load_end") or {}
    after_warmup = snapshots.get("measure_start") or {}
    memory = result.get("memory") or {}
    # Snapshots hold 0 where NVML never listed this process: a measurement only if it did.
    listed = bool(peak.get("gpu_process_bytes"))
    values = {
        "load_s": result["load_s"],
        "rss_peak_mib": _mib(memory.get("process_peak_rss_bytes") or peak.get("rss_bytes")),
        "gpu_process_after_load_mib": _mib(after_load.get("gpu_process_bytes")) if listed else None,
        "gpu_process_after_warmup_mib": _mib(after_warmup.get("gpu_process_bytes")) if listed else None,
        "gpu_process_peak_mib": _mib(peak.get("gpu_process_bytes")),
        "gpu_used_peak_mib": _mib(peak.get("gpu_used_bytes")),
        "torch_max_allocated_mib": _mib(memory.get("torch_max_allocated_bytes")),
        "torch_max_reserved_mib": _mib(memory.get("torch_max_reserved_bytes")),
        "energy_j_per_output_token": resources.get("energy_j_per_output_token"),
    }
    return {name: ([[value]] if value is not None else []) for name, value in values.items()}


def samples(result: dict) -> dict[str, list[float]]:
    """Every metric's samples from one successful run, pooled."""
    grouped = {**run_level(result), **pass_groups(result["measurement"]["repetitions"])}
    return {name: [v for group in groups for v in group] for name, groups in grouped.items()}


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
        return [{**base, "concurrency": None, "metric": "", "unit": "", "per": ""}]

    def row(name: str, groups: list[list[float]], concurrency: int | None) -> dict:
        metric = METRICS[name]
        return {**base, "concurrency": concurrency, "metric": name, "unit": metric.unit, "per": metric.per,
                **summarize_groups(groups)}  # fmt: skip

    rows = [row(name, groups, None) for name, groups in run_level(result).items()]
    for level in levels(result["measurement"]):
        rows += [
            row(name, groups, level["concurrency"])
            for name, groups in pass_groups(level["repetitions"]).items()
        ]
    return rows


def summary_table(run_paths: list[str]) -> pd.DataFrame:
    rows = [row for path in run_paths for row in run_rows(read_json(path))]
    return pd.DataFrame(rows).reindex(columns=COLUMNS)


# The run-level resource metrics, in the order METRICS lists them.
RESOURCE_METRICS = [name for name, metric in METRICS.items() if metric.per == "run" and name != "load_s"]


def resource_rows(summary: pd.DataFrame) -> list[dict]:
    """Per successful run: its memory and energy figures (None where not measured)."""
    rows = []
    for (model, backend, scenario), group in summary.groupby(["model", "backend", "scenario"], sort=False):
        if group["status"].iloc[0] == "failed":
            continue
        values = group.set_index("metric")["mean"]
        row = {
            "run": f"{model}/{backend}/{scenario}",
            "model": model,
            "backend": backend,
            "scenario": scenario,
        }
        for metric in RESOURCE_METRICS:
            value = values.get(metric)
            row[metric] = None if value is None or pd.isna(value) else float(value)
        rows.append(row)
    return rows
