"""Tables derived once from the summary and read by both the plots and the report.

- roofline: every batch-1 decode rate against the bandwidth bound of the GPU it ran on;
- resources: per run, memory split into what it is: weights (parameter bytes in the
  run dtype), what the process holds beyond them at its NVML peak (its CUDA context,
  KV cache, activations, library workspaces, cached blocks), and beside it the memory
  a bare torch CUDA context takes (a baseline for the torch backends; FastLLM and
  llama.cpp load other libraries, so their contexts differ: measured on the H200,
  subtracting torch's 520 MiB left FastLLM's runtime at -277 MiB); energy, GPU busy
  and host CPU per token.
"""

from __future__ import annotations

import math

import pandas as pd

from ..record import RunKey, RunRecord
from .metrics import MIB
from .roofline import NEAR_BOUND, bound_tokens_per_s, stored_bits, stored_decode_bytes

ROOFLINE_COLUMNS = [
    "model",
    "backend",
    "scenario",
    "concurrency",
    "ci_unit",
    "n",
    "decode_tok_s",
    "decode_ci95_low",
    "decode_ci95_high",
    "decode_bytes",
    "bound_tok_s",
    "fraction",
    "fraction_low",
    "fraction_high",
    "note",
]
RESOURCE_METRICS = [
    "gpu_process_after_load_mib",
    "gpu_process_after_warmup_mib",
    "gpu_process_peak_mib",
    "gpu_used_peak_mib",
    "rss_peak_mib",
    "torch_max_allocated_mib",
    "torch_max_reserved_mib",
    "energy_j_per_output_token",
    "gpu_busy_pct",
    "cpu_ms_per_output_token",
    "token_clock_ms",
]
RESOURCE_COLUMNS = [
    "model",
    "backend",
    "scenario",
    "device",
    "weights_mib",
    "context_mib",
    "beyond_weights_mib",
    *RESOURCE_METRICS,
]


def _batch1_levels(records: list[RunRecord]) -> dict[RunKey, set]:
    """Run key -> the levels at which one request is in flight at a time."""
    levels: dict[RunKey, set] = {}
    for record in records:
        if record.scenario is None:
            continue
        s = record.scenario
        levels[record.key] = {lv for lv in s.kind.levels(s) if s.kind.concurrent(s, lv) == 1}
    return levels


def _gpus(records: list[RunRecord]) -> dict[RunKey, set]:
    gpus: dict[RunKey, set] = {}
    for record in records:
        if record.measurement is not None:
            gpus.setdefault(record.key, set()).add(
                (record.gpu or {}).get("uuid") if record.device == "cuda" else "cpu"
            )
    return gpus


def roofline_table(
    summary: pd.DataFrame, records: list[RunRecord], models: dict[str, dict], bandwidth: dict
) -> pd.DataFrame:
    """One row per batch-1 decode figure; `fraction` empty (with a note) where the
    bandwidth was not measured on the device that ran. Decode bytes are in the precision the
    run's weights are stored in (RunSpec.bits_per_weight, scales included)."""
    batch1, gpus = _batch1_levels(records), _gpus(records)
    stored = {r.key: (r.spec.dtype, stored_bits(r)) for r in records if r.spec is not None}
    measured_on = "cpu" if bandwidth.get("device") == "cpu" else bandwidth.get("uuid")
    decode = summary[(summary.metric == "decode_tokens_per_s") & (summary.status != "failed")]
    rows = []
    for row in decode.itertuples():
        key = RunKey.of_runner(row.model, row.backend, row.scenario)
        level = None if pd.isna(row.concurrency) else int(row.concurrency)
        if level not in batch1.get(key, set()):
            continue
        decode_bytes = stored_decode_bytes(
            models[row.model]["decode_bytes"], *stored.get(key, ("float32", None))
        )
        bound, note = math.nan, ""
        if not bandwidth.get("available", True):
            note = f"bandwidth not measured: {bandwidth.get('reason')}"
        elif gpus.get(key) != {measured_on}:
            note = "bandwidth measured on another device than this run's"
        else:
            bound = bound_tokens_per_s(bandwidth["bytes_per_s"], decode_bytes)
        rows.append(
            {
                "model": row.model,
                "backend": row.backend,
                "scenario": row.scenario,
                "concurrency": level,
                "ci_unit": row.ci_unit,
                "n": row.n,
                "decode_tok_s": row.mean,
                "decode_ci95_low": row.ci95_low,
                "decode_ci95_high": row.ci95_high,
                "decode_bytes": decode_bytes,
                "bound_tok_s": bound,
                # shown as low–high: not below 0, where a t interval over few noisy units can reach
                "fraction": row.mean / bound,
                "fraction_low": max(row.ci95_low, 0.0) / bound,
                "fraction_high": row.ci95_high / bound,
                "note": note,
            }
        )
    return pd.DataFrame(rows, columns=ROOFLINE_COLUMNS)


def stored_precision(records: list[RunRecord]) -> dict[tuple[str, str], tuple[str, float | None]]:
    """(model, runner) -> (dtype, stored bits per weight or None for the dtype's own)."""
    return {(r.key.model, r.key.runner): (r.spec.dtype, stored_bits(r)) for r in records if r.spec}


def resources_table(
    summary: pd.DataFrame, models: dict[str, dict], bandwidth: dict, stored: dict | None = None
) -> pd.DataFrame:
    """One row per run that measured something: the means over its replicas. `stored`
    (stored_precision) puts weights_mib in the precision the run's weights are stored in."""
    run_level = summary[(summary.per == "run") & summary.concurrency.isna()]
    rows = []
    for (model, backend, scenario), group in run_level.groupby(["model", "backend", "scenario"], sort=False):
        values = group.set_index("metric")["mean"]
        row = {"model": model, "backend": backend, "scenario": scenario, "device": group["device"].iloc[0]}
        row |= {
            m: (float(values[m]) if m in values and not pd.isna(values[m]) else math.nan)
            for m in RESOURCE_METRICS
        }
        dtype, bits = (stored or {}).get((model, backend), ("float32", None))
        row["weights_mib"] = stored_decode_bytes(models[model]["parameter_bytes"], dtype, bits) / MIB
        context = bandwidth.get("context_bytes")
        row["context_mib"] = context / MIB if row["device"] == "cuda" and context else math.nan
        row["beyond_weights_mib"] = row["gpu_process_peak_mib"] - row["weights_mib"]
        rows.append(row)
    return pd.DataFrame(rows, columns=RESOURCE_COLUMNS)


def coarse_clock_runs(summary: pd.DataFrame) -> dict[tuple[str, str, str], float]:
    """(model, backend, scenario) -> its smallest mean TPOT (ms), for each run that makes a token
    in less than twice its token clock's resolution: several tokens are stamped by one poll, so
    its TTFT reads high and its TPOT and inter-token gaps low (e2e and throughput unaffected)."""
    clock = summary[summary.metric == "token_clock_ms"].set_index(["model", "backend", "scenario"])["mean"]
    tpot = (
        summary[(summary.metric == "tpot_ms") & (summary.n > 0)]
        .groupby(["model", "backend", "scenario"])["mean"]
        .min()
    )
    return {k: float(v) for k, v in tpot.items() if k in clock.index and v < 2 * clock[k]}


def near_bound(roofline: pd.DataFrame) -> pd.Series:
    """Per row of the roofline table: whether its decode rate reaches `NEAR_BOUND` of the
    bound or passes it, where the bound itself is doubtful (False without a bound)."""
    return roofline["fraction"].fillna(0.0) > NEAR_BOUND
