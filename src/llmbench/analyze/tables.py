"""Tables derived once from the summary and read by both the plots and the report.

- roofline: every batch-1 decode rate against the bandwidth bound of the GPU it ran on;
- resources: per run, memory split into what it is: the weights the backend holds on
  the device (as it reports them: torch's CUDA parameters, llama.cpp's device model
  buffers; else the parameter bytes in the run dtype, and `weights_source` says
  which), what the process holds beyond them at its NVML peak (its CUDA context,
  KV cache, activations, library workspaces, cached blocks), and beside it the memory
  a bare torch CUDA context takes (a baseline for the torch backends; FastLLM and
  llama.cpp load other libraries, so their contexts differ: measured on the H200,
  subtracting torch's 520 MiB left FastLLM's runtime at -277 MiB); energy, GPU busy
  and host CPU per token (a run of several levels, a sweep's concurrencies or an open loop's
  rates: one more row per level, its LevelId in `concurrency` / `rate_per_s`, with only these;
  the run's own row leaves both empty).
"""

from __future__ import annotations

import math

import pandas as pd

from ..backends import get_backend
from ..record import RunKey, RunRecord, placement
from .metrics import MIB, WINDOW_METRICS
from .roofline import NEAR_BOUND, bound_memory, bound_tokens_per_s, stored_bits, stored_decode_bytes
from .summary import LEVEL_COLUMNS, LevelId, run_level

ROOFLINE_COLUMNS = [
    "model",
    "backend",
    "scenario",
    *LEVEL_COLUMNS,
    "ci_unit",
    "n",
    "decode_tok_s",
    "decode_ci95_low",
    "decode_ci95_high",
    "decode_std",  # of the units (ddof 1): with n = 2 it and the CI give the two values (stats.two_units)
    "decode_bytes",
    "bound_tok_s",
    "fraction",
    "fraction_low",
    "fraction_high",
    "note",
    "token_clock",
    "bound_memory",
    "clock_coarse",
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
    "cpu_cores",
    "token_clock_ms",
]
RESOURCE_COLUMNS = [
    "model",
    "backend",
    "scenario",
    *LEVEL_COLUMNS,
    "levels",
    "device",
    "weights_mib",
    "weights_source",
    "weights_host_mib",
    "context_mib",
    "beyond_weights_mib",
    *RESOURCE_METRICS,
]


def _batch1_levels(records: list[RunRecord]) -> dict[RunKey, set[LevelId]]:
    """Run key -> the levels at which one request is in flight at a time (a run of one level: LevelId())."""
    levels: dict[RunKey, set[LevelId]] = {}
    for record in records:
        if record.scenario is None:
            continue
        s = record.scenario
        levels[record.key] = {
            LevelId(**{"concurrency": None, **s.kind.level_fields(s, lv)})
            for lv in s.kind.levels(s)
            if s.kind.concurrent(s, lv) == 1
        }
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
    run's weights are stored in (RunSpec.bits_per_weight, scales included). `bound_memory` says whose
    memory bounds the row ("host" for a CPU run, "gpu"; empty without a bound), `clock_coarse` whether
    its decode rate comes from a token clock too coarse for it (coarse_clock_runs: a clock artefact)."""
    batch1, gpus, coarse = _batch1_levels(records), _gpus(records), coarse_clock_runs(summary)
    stored = {r.key: (r.spec.dtype, stored_bits(r)) for r in records if r.spec is not None}
    measured_on = "cpu" if bandwidth.get("device") == "cpu" else bandwidth.get("uuid")
    # only runs whose every replica measured valid lengths: an invalid or partial run is no rate
    decode = summary[(summary.metric == "decode_tokens_per_s") & (summary.status == "ok")]
    rows = []
    for row in decode.itertuples():
        key = RunKey.of_runner(row.model, row.backend, row.scenario)
        level = LevelId.of_row(row)
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
                **level.columns(),
                "ci_unit": row.ci_unit,
                "n": row.n,
                "decode_tok_s": row.mean,
                "decode_ci95_low": row.ci95_low,
                "decode_ci95_high": row.ci95_high,
                "decode_std": row.std,
                "decode_bytes": decode_bytes,
                "bound_tok_s": bound,
                # shown as low–high; the rate's interval is on the log scale, so never below 0
                "fraction": row.mean / bound,
                "fraction_low": row.ci95_low / bound,
                "fraction_high": row.ci95_high / bound,
                "note": note,
                "token_clock": row.token_clock,
                "bound_memory": "" if math.isnan(bound) else bound_memory(bandwidth),
                "clock_coarse": (row.model, row.backend, row.scenario) in coarse,
            }
        )
    return pd.DataFrame(rows, columns=ROOFLINE_COLUMNS)


# A run without a GPU holds its weights in host memory: its parameter bytes, no assumption about a
# device (a CPU run's memory table said "assumed all on the GPU"). Here, not in record.placement:
# that module is code of every benchmark run (a change there reruns them).
SOURCE_HOST_RUN = "host_run"


def _parameter_weights(record: RunRecord, models: dict[str, dict]) -> dict:
    """The fallback: the model's parameter bytes in the precision the run's weights are stored in
    (RunSpec.bits_per_weight; the run dtype's own without a spec); its source says whether the run
    had no GPU (`host_run`: all in host memory), the backend reports none (`parameter_bytes`: all
    assumed on the device) or the code that wrote the record predates its report (`not_recorded`:
    the backend's reports_placement, on cuda)."""
    dtype, bits = (record.spec.dtype, stored_bits(record)) if record.spec else ("float32", None)
    stored = stored_decode_bytes(models[record.key.model]["parameter_bytes"], dtype, bits)
    if record.device != "cuda":
        source = SOURCE_HOST_RUN
    elif get_backend(record.key.backend).reports_placement:
        source = placement.SOURCE_NOT_RECORDED
    else:
        source = placement.SOURCE_PARAMETERS
    return {"weights_mib": stored / MIB, "weights_host_mib": math.nan, "weights_source": source}


def weights_on_device(records: list[RunRecord], models: dict[str, dict]) -> dict[RunKey, dict]:
    """Run key -> {weights_mib, weights_host_mib, weights_source}: what the key's replicas report
    (record.placement), else what another scenario of the same model and runner reported (the
    weights load the same way), else the parameter bytes in the stored precision with source
    `parameter_bytes`."""
    by_key: dict[RunKey, dict] = {}
    by_runner: dict[tuple, dict] = {}
    for record in records:
        found = placement.reported(record.backend_info) if record.device == "cuda" else {}
        if found:
            by_key.setdefault(record.key, found)
            by_runner.setdefault((record.key.model, record.key.runner), found)
    out = {}
    for record in records:
        key = record.key
        found = by_key.get(key) or by_runner.get((key.model, key.runner))
        if found:
            host = found.get(placement.HOST_WEIGHTS_BYTES_KEY)
            out[key] = {
                "weights_mib": found[placement.WEIGHTS_BYTES_KEY] / MIB,
                "weights_host_mib": math.nan if host is None else host / MIB,
                "weights_source": found[placement.WEIGHTS_SOURCE_KEY],
            }
        else:
            out.setdefault(key, _parameter_weights(record, models))
    return out


def _values(group: pd.DataFrame, metrics: list[str]) -> dict:
    """metric -> mean of the rows of one run and level; raises ValueError where a metric has two rows
    (rows of two levels read as one: a level's identity was lost on the way)."""
    values = group.set_index("metric")["mean"]
    if not values.index.is_unique:
        twice = sorted(set(values.index[values.index.duplicated()]))
        raise ValueError(
            f"metrics {twice} have several rows at one level: rows of two levels share {LEVEL_COLUMNS}"
        )
    return {m: (float(values[m]) if m in values and not pd.isna(values[m]) else math.nan) for m in metrics}


def resources_table(
    summary: pd.DataFrame, models: dict[str, dict], bandwidth: dict, records: list[RunRecord]
) -> pd.DataFrame:
    """One row per run that measured something (the means over its replicas; LEVEL_COLUMNS empty),
    then, for a run of several levels, one row per level (its LevelId) with only its WINDOW_METRICS. Weights
    as weights_on_device gives them (parameter bytes in the stored precision where no record
    of the run is given)."""
    weights = weights_on_device(records, models)
    rows = []
    for (model, backend, scenario), group in summary.groupby(["model", "backend", "scenario"], sort=False):
        own = group[(group.per == "run") & run_level(group)]
        if own.empty:
            continue
        key = RunKey.of_runner(model, backend, scenario)
        device = own["device"].iloc[0]
        levels = group.loc[~run_level(group), LEVEL_COLUMNS].drop_duplicates()
        row = {"model": model, "backend": backend, "scenario": scenario, **LevelId().columns()}
        row |= {"levels": max(len(levels), 1), "device": device}
        row |= _values(own, RESOURCE_METRICS)
        row |= weights.get(key) or {"weights_mib": models[model]["parameter_bytes"] / MIB}
        context = bandwidth.get("context_bytes")
        row["context_mib"] = context / MIB if device == "cuda" and context else math.nan
        row["beyond_weights_mib"] = row["gpu_process_peak_mib"] - row["weights_mib"]
        rows.append(row)
        per_run = group[(group.per == "run") & ~run_level(group)]
        for _, per_level in per_run.groupby(LEVEL_COLUMNS, sort=True, dropna=False):
            rows.append(
                {"model": model, "backend": backend, "scenario": scenario}
                | LevelId.of_row(per_level.iloc[0]).columns()
                | {"levels": row["levels"], "device": device, **_values(per_level, WINDOW_METRICS)}
            )
    return pd.DataFrame(rows, columns=RESOURCE_COLUMNS)


def coarse_clock_runs(summary: pd.DataFrame) -> dict[tuple[str, str, str], float]:
    """(model, backend, scenario) -> its shortest time per token (ms), for each run that makes a token
    in less than twice its token clock's resolution: several tokens are stamped by one poll, so
    its TTFT reads high and its TPOT and inter-token gaps low (e2e and throughput unaffected). A
    token's time is read from the mean TPOT and from the mean decode rate (1000 / tok/s) alike: the
    rate is averaged as a rate, so one replica stamped too fast lifts it while the mean TPOT stays
    above the clock (a newcomer's fastllm batch-1 row: 1,885 tok/s, 0.53 ms a token, against a clock
    of 0.635 ms, with a mean TPOT of 5.5 ms, was drawn as a valid bar)."""
    keys = ["model", "backend", "scenario"]
    clock = summary[summary.metric == "token_clock_ms"].set_index(keys)["mean"]
    measured = summary[summary.n > 0]
    tpot = measured[measured.metric == "tpot_ms"].groupby(keys)["mean"].min()
    rate = measured[measured.metric == "decode_tokens_per_s"].groupby(keys)["mean"].max()
    per_token = pd.concat([tpot, 1000.0 / rate[rate > 0]]).groupby(level=[0, 1, 2]).min()
    return {k: float(v) for k, v in per_token.items() if k in clock.index and v < 2 * clock[k]}


def clock_coarse(roofline: pd.DataFrame) -> pd.Series:
    """Per row of the roofline table: whether its decode rate is a clock artefact (column
    `clock_coarse`; False in a table written before it had one)."""
    column = (
        roofline["clock_coarse"] if "clock_coarse" in roofline else pd.Series(False, index=roofline.index)
    )
    return column.fillna(False).astype(bool)


def near_bound(roofline: pd.DataFrame) -> pd.Series:
    """Per row of the roofline table: whether its decode rate reaches `NEAR_BOUND` of the
    bound or passes it, where the bound itself is doubtful (False without a bound)."""
    return roofline["fraction"].fillna(0.0) > NEAR_BOUND


def run_rows(resources: pd.DataFrame) -> pd.DataFrame:
    """The resources table's one row per run (memory; costs of a run of one level)."""
    return resources[run_level(resources)]


def cost_rows(resources: pd.DataFrame) -> pd.DataFrame:
    """The rows whose energy, GPU busy and CPU time describe one level: a run of one level's own row,
    a run of several levels' level rows, and such a run's own row where its record kept no level (all
    its costs empty)."""
    own = run_level(resources)
    with_levels = set(
        resources.loc[~own, ["model", "backend", "scenario"]].itertuples(index=False, name=None)
    )
    keep = pd.Series(
        [
            not is_run or (r.model, r.backend, r.scenario) not in with_levels
            for r, is_run in zip(resources.itertuples(), own, strict=True)
        ],
        index=resources.index,
        dtype=bool,
    )
    return resources[keep]  # a mask, not a list: an empty list would select no columns
