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
    ]
}

RUN_COLUMNS = ["model", "backend", "scenario", "scenario_type", "status", "device", "dtype", "reason"]
COLUMNS = RUN_COLUMNS + ["metric", "unit", "per", *FIELDS]


def samples(result: dict) -> dict[str, list[float]]:
    """Every metric's samples from one successful run."""
    out: dict[str, list[float]] = {name: [] for name in METRICS}
    out["load_s"].append(result["load_s"])
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
