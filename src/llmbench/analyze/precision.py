"""The precision trade-off: per backend, its run in the model dtype (the floor) and each run on
quantized weights, with speed, memory and quality cost, each with its 95 % CI.

- speed: batch-1 decode rate (1000 / TPOT, tok/s) of the first non-sweep scenario every run of
  the backend measured; CI over its replication units (summary.csv);
- memory: the process's NVML peak on cuda, its peak RSS on cpu (MiB), CI over replicas;
- quality: teacher-forced against the float32 reference on the run's own outputs (agreement
  table): top-1 agreement (how often its token is the reference argmax; CI over distinct
  outputs) and, where the backend gives logits, the KL divergence of the next-token
  distribution (mean and p99 over the positions of its distinct outputs; p99 left empty below
  100 positions). A quantized run is judged by this cost, never as
  "computing wrongly"; one whose top-1 agreement lies below, with disjoint CIs, that of a run of
  the same backend of a smaller kind (fewer bits per value: int8 below int4) is flagged
  (`cost_above_kind`): more bits costing more is a fault, not quantization.
"""

from __future__ import annotations

import math

import pandas as pd

from ..backends import get_backend
from ..models.precision import value_bits
from ..record import split_runner
from ..stats import UnitStats, percentiles, ratio_ci
from .roofline import stored_bits
from .summary import run_level

COLUMNS = [
    "model",
    "backend",
    "runner",
    "weights",
    "value_bits",
    "bits_per_weight",
    "device",
    "scenario",
    "decode_tok_s",
    "decode_ci95_low",
    "decode_ci95_high",
    "decode_std",
    "decode_n",
    "memory_metric",
    "memory_mib",
    "memory_ci95_low",
    "memory_ci95_high",
    "memory_std",
    "memory_n",
    "top1",
    "top1_ci95_low",
    "top1_ci95_high",
    "kl_mean",
    "kl_p99",
    "cost_above_kind",
]
SPEED_METRIC = "decode_tokens_per_s"


def _quantized_backends(runners: list[str]) -> dict[str, list[str]]:
    """backend -> its runners (floor first), for backends with at least one quantized run."""
    by_backend: dict[str, list[str]] = {}
    for runner in runners:
        by_backend.setdefault(split_runner(runner)[0], []).append(runner)
    return {
        b: sorted(rs, key=lambda r: split_runner(r)[1] is not None)
        for b, rs in by_backend.items()
        if any(split_runner(r)[1] for r in rs)
    }


def _speed_scenario(summary: pd.DataFrame, model: str, runners: list[str]) -> str | None:
    """The first non-sweep scenario with a decode rate for every runner."""
    rows = summary[
        (summary.model == model)
        & (summary.metric == SPEED_METRIC)
        & run_level(summary)
        & summary["mean"].notna()
    ]
    for scenario in dict.fromkeys(rows.scenario):
        if set(runners) <= set(rows.loc[rows.scenario == scenario, "backend"]):
            return scenario
    return None


def _stat(summary: pd.DataFrame, model: str, runner: str, scenario: str | None, metric: str) -> dict:
    rows = summary[
        (summary.model == model)
        & (summary.backend == runner)
        & (summary.metric == metric)
        & run_level(summary)
    ]
    if scenario is not None:
        rows = rows[rows.scenario == scenario]
    rows = rows[rows["mean"].notna()]
    if rows.empty:
        return {"mean": math.nan, "low": math.nan, "high": math.nan, "std": math.nan, "n": 0}
    if scenario is None:  # a run metric: the largest over scenarios (the peak the backend needs)
        rows = rows.loc[[rows["mean"].idxmax()]]
    row = rows.iloc[0]
    return {"mean": row["mean"], "low": row.ci95_low, "high": row.ci95_high, "std": row["std"], "n": row.n}


def _quality(agreement: pd.DataFrame, model: str, runner: str) -> dict:
    rows = agreement[(agreement.model == model) & (agreement.backend == runner)]
    rows = rows[rows.forced_agreement.notna()] if "forced_agreement" in rows else rows.iloc[0:0]
    top1 = UnitStats.of(list(rows.forced_agreement)) if len(rows) else UnitStats.of([])
    quality = {  # a fraction: its interval stops at 0 and 1
        "top1": top1.mean,
        "top1_ci95_low": max(top1.ci95_low, 0.0) if not math.isnan(top1.ci95_low) else math.nan,
        "top1_ci95_high": min(top1.ci95_high, 1.0) if not math.isnan(top1.ci95_high) else math.nan,
    }
    kl = [float(v) for text in rows.get("kl", pd.Series(dtype=str)).dropna() for v in str(text).split(";")]
    quality["kl_mean"] = sum(kl) / len(kl) if kl else math.nan
    quality["kl_p99"] = percentiles(kl)["p99"] if kl else math.nan  # NaN below 100 positions
    return quality


def run_bits(records) -> tuple[dict[tuple, float], dict[tuple, int]]:
    """precision_table's `bits` and `kinds` from run records: (model, runner) -> stored bits per
    weight (llama.cpp's own figure where it gives one, else the format's nominal one; the dtype's
    own when the run is not quantized), and (model, runner) -> bits of each value of a quantized run."""
    bits, kinds = {}, {}
    for record in records:
        if record.spec is not None:
            run = (record.key.model, record.key.runner)
            bits[run] = stored_bits(record) or record.spec.bits_per_weight
            if record.spec.weights:
                kinds[run] = value_bits(get_backend(record.key.backend).artifact_kind, record.spec.weights)
    return bits, kinds


def precision_table(
    summary: pd.DataFrame, agreement: pd.DataFrame, bits: dict[tuple, float], kinds: dict[tuple, int]
) -> pd.DataFrame:
    """One row per run of each backend that has quantized runs (its floor first). `bits`:
    (model, runner) -> stored bits per weight (scales included); `kinds`: (model, runner) -> bits of
    one quantized value (models.precision.value_bits; absent for the floor)."""
    rows = []
    measured = summary[summary.status.isin(["ok", "partial"])]
    for model in dict.fromkeys(measured.model):
        runners = list(dict.fromkeys(measured.loc[measured.model == model, "backend"]))
        for backend, group in _quantized_backends(runners).items():
            scenario = _speed_scenario(measured, model, group)
            for runner in group:
                device = measured.loc[
                    (measured.model == model) & (measured.backend == runner), "device"
                ].iloc[0]
                memory_metric = "gpu_process_peak_mib" if device == "cuda" else "rss_peak_mib"
                speed = _stat(measured, model, runner, scenario, SPEED_METRIC)
                memory = _stat(measured, model, runner, None, memory_metric)
                rows.append(
                    {
                        "model": model,
                        "backend": backend,
                        "runner": runner,
                        "weights": split_runner(runner)[1] or "",
                        "value_bits": kinds.get((model, runner), math.nan),
                        "bits_per_weight": bits.get((model, runner), math.nan),
                        "device": device,
                        "scenario": scenario,
                        "decode_tok_s": speed["mean"],
                        "decode_ci95_low": speed["low"],
                        "decode_ci95_high": speed["high"],
                        "decode_std": speed["std"],
                        "decode_n": speed["n"],
                        "memory_metric": memory_metric,
                        "memory_mib": memory["mean"],
                        "memory_ci95_low": memory["low"],
                        "memory_ci95_high": memory["high"],
                        "memory_std": memory["std"],
                        "memory_n": memory["n"],
                        **_quality(agreement, model, runner),
                    }
                )
    table = pd.DataFrame(rows, columns=COLUMNS)
    table["cost_above_kind"] = _cost_above_kind(table)
    return table


def _cost_above_kind(table: pd.DataFrame) -> pd.Series:
    """True for a quantized run whose top-1 agreement's CI lies wholly below that of a run of the
    same backend and model of a smaller kind (fewer bits per quantized value: int8 below int4)."""
    flags = pd.Series(False, index=table.index)
    for _, group in table[table.weights.fillna("") != ""].groupby(["model", "backend"]):
        for i, row in group.iterrows():
            fewer = group[group.value_bits < row.value_bits]
            flags[i] = bool((row.top1_ci95_high < fewer.top1_ci95_low).any())
    return flags


def tradeoffs(table: pd.DataFrame) -> list[dict]:
    """Per (model, backend): its fewest-bits run against its floor - speed and memory ratios
    (floor / quantized for memory: "m x smaller") with 95 % CIs, and the quality cost."""
    out = []
    for (model, backend), group in table.groupby(["model", "backend"], sort=False):
        weights = group.weights.fillna("")  # read back from CSV, the floor's "" is NaN
        floor = group[weights == ""]
        quantized = group[weights != ""].sort_values(["value_bits", "bits_per_weight"], kind="stable")
        if floor.empty or quantized.empty:
            continue
        f, q = floor.iloc[0], quantized.iloc[0]
        out.append(
            {
                "model": model,
                "backend": backend,
                "weights": q.weights,
                "speedup": ratio_ci(_units(q, "decode"), _units(f, "decode")),
                "smaller": ratio_ci(_units(f, "memory"), _units(q, "memory")),
                "top1": q.top1,
                "top1_floor": f.top1,
                "kl_mean": q.kl_mean,
            }
        )
    return out


def _units(row, prefix: str) -> UnitStats:
    mean = row[f"{prefix}_tok_s"] if prefix == "decode" else row[f"{prefix}_mib"]
    return UnitStats(
        int(row[f"{prefix}_n"]),
        mean,
        row[f"{prefix}_std"],
        row[f"{prefix}_ci95_low"],
        row[f"{prefix}_ci95_high"],
    )
