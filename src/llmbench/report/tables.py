"""The report's tables, shaped in Python with the language's headers; templates only print them.

Columns that would be constant (the model when there is one, the concurrency
outside a sweep) are left out, so the headline tables fit a 1280-px page;
percentiles and spreads go to a detail table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from ..analyze.summary import LevelId
from ..analyze.tables import clock_coarse
from ..record import RunRecord
from ..scenario_types import Scenario, types_where
from ..stats import passes_disagree
from .format import NONE, ci, num, pct, unresolved_pair
from .strings import Strings

MIB = 2**20
HEADLINE = ["total_ms", "output_tokens_per_s", "ttft_ms", "tpot_ms", "e2e_ms"]


@dataclass
class Table:
    """A report table: headers, each column's alignment, and rows of text cells."""

    headers: list[str]
    align: list[str]  # "l" or "r" per column
    rows: list[list[str]] = field(default_factory=list)

    @property
    def rule(self) -> str:
        """The Markdown separator row under the headers, `---:` for right-aligned columns."""
        return "|" + "|".join("---:" if a == "r" else "---" for a in self.align) + "|"

    def compact(self) -> Table:
        """Without the columns no row has a value in (nothing measured there: e.g. GPU
        memory on a CPU run): a constant column only widens the page."""
        keep = [
            i
            for i in range(len(self.headers))
            if not self.rows or any(row[i] not in (NONE, "") for row in self.rows)
        ]
        return Table(
            [self.headers[i] for i in keep],
            [self.align[i] for i in keep],
            [[row[i] for i in keep] for row in self.rows],
        )


def _cell(text) -> str:
    return str(text).replace("|", "/").replace("\n", " ")


def run_label(model: str, backend: str, scenario: str | None, single_model: bool) -> str:
    """`model / backend / scenario`, without the model when `single_model`, without the scenario when None."""
    parts = ([] if single_model else [model]) + [backend] + ([scenario] if scenario else [])
    return " / ".join(parts)


DEVICE_CLOCK_MARK = " †"


def clock_mark(token_clock) -> str:
    """The mark of a run whose token stamps are device times (summary `token_clock` "device"):
    its TTFT, ITL and TPOT are not what a caller waits for (the report's note says so)."""
    return DEVICE_CLOCK_MARK if token_clock == "device" else ""


def environment_table(provenance: dict, t: Strings) -> Table:
    """One row per GPU of the provenance: index and name, memory (MiB), driver, CUDA driver."""
    table = Table(t.tables.gpu, ["l", "r", "l", "l"])
    for gpu in provenance.get("gpus") or []:
        memory = gpu.get("memory_total_bytes")
        table.rows.append(
            [
                f"{gpu.get('index')}: {gpu.get('name')}",
                num(memory / MIB if memory else None, 0),
                _cell(gpu.get("driver") or NONE),
                _cell(gpu.get("cuda_driver") or NONE),
            ]
        )
    return table


def models_table(manifests: dict[str, dict], models: dict[str, dict], t: Strings) -> Table:
    """Every source renders: a preset for synthetic models, the folder or repo otherwise."""
    table = Table(t.tables.models, ["l", "l", "l", "r", "r", "l"])
    for name, manifest in manifests.items():
        source = manifest.get("source") or {}
        kind = source.get("source", NONE)
        where = (
            source.get("preset") or source.get("repo_id") or (manifest.get("details") or {}).get("path") or ""
        )
        facts = models.get(name) or {}
        table.rows.append(
            [
                _cell(name),
                _cell(f"{kind} ({where})" if where else kind),
                _cell(facts.get("dtype") or NONE),
                num(facts.get("parameters"), 0),
                num(manifest.get("total_bytes", 0) / MIB, 1),
                f"`{manifest.get('sha256', '')[:16]}`",
            ]
        )
    return table


def scenarios_table(scenarios: dict[str, Scenario], t: Strings, forms: list[str] = ()) -> Table:
    """One row per scenario: type, prompts, input and output tokens (for the queries, the `forms`
    they were wrapped in, models.prompts.FORMS), concurrency (and batching in a sweep),
    warm-up / repetitions / replicas, and the stopping rule."""
    wrapped = " / ".join(t.prompt_forms[f] for f in forms) if forms else t.chat_template
    table = Table(t.tables.scenarios, ["l", "l", "l", "r", "r", "l", "r", "l"])
    for name, s in scenarios.items():
        kind = t.scenario_types[s.type]
        prompts = (
            t.f("scenario_prompts.queries")
            if s.kind.prompts == "queries"
            else t.f("scenario_prompts.random", seed=s.seed)
        )
        levels = s.kind.levels(s)
        concurrency = ", ".join(str(s.kind.concurrent(s, lv)) for lv in levels)
        if "batching" in s.kind.keys:
            concurrency += f" ({t.batching[str(bool(s.batching)).lower()]})"
        stopping = (
            t.f("stopping.target", target=s.target_ci_pct, cap=s.max_duration_s)
            if s.target_ci_pct
            else t.stopping.none
        )
        table.rows.append(
            [
                _cell(name),
                kind,
                prompts,
                wrapped if s.input_tokens is None else str(s.input_tokens),
                str(s.output_tokens),
                concurrency,
                f"{s.warmup_passes} / {s.repetitions} / {s.replicas or 1}",
                stopping,
            ]
        )
    return table


def _stat(group: pd.DataFrame, metric: str, t: Strings, digits: int = 1) -> str:
    rows = group[group.metric == metric]
    if rows.empty:
        return NONE
    row = rows.iloc[0]
    shown = ci(
        row["mean"],
        row["ci95_low"],
        row["ci95_high"],
        digits,
        n=row["n"],
        std=row["std"],
        unresolved=t.unresolved,
    )
    if metric == "output_tokens_per_s" and passes_disagree(row["min"], row["max"]):
        shown += " " + t.f("passes_range", low=num(row["min"], digits), high=num(row["max"], digits))
    return shown


def _levels(summary: pd.DataFrame):
    """Per scenario, per (model, backend, concurrency) group of a measured level or a failed run."""
    measured = summary[(summary.per != "run") | (summary.status == "failed")]
    return measured.groupby(["scenario", "model", "backend", "concurrency"], sort=False, dropna=False)


def results_tables(summary: pd.DataFrame, t: Strings, single_model: bool) -> dict[str, Table]:
    """Per scenario: one row per run (and level) with the headline metrics, mean ± 95 % CI."""
    tables: dict[str, Table] = {}
    sweep = set(summary.loc[summary.scenario_type.isin(types_where(swept=True)), "scenario"])
    for (scenario, model, backend, concurrency), group in _levels(summary):
        with_level = scenario in sweep
        table = tables.setdefault(
            scenario,
            Table(
                [t.columns.run]
                + ([t.columns.concurrency] if with_level else [])
                + [t.columns.status]
                + [t.metric_headers[m] for m in HEADLINE],
                ["l"] + (["r"] if with_level else []) + ["l"] + ["r"] * len(HEADLINE),
            ),
        )
        status = group["status"].iloc[0]
        cells = [
            _cell(run_label(model, backend, None, single_model) + clock_mark(group["token_clock"].iloc[0]))
        ]
        cells += [NONE if pd.isna(concurrency) else str(int(concurrency))] if with_level else []
        cells += [t.status[status]] + [_stat(group, m, t, 2 if m == "tpot_ms" else 1) for m in HEADLINE]
        table.rows.append(cells)
    return tables


def detail_table(summary: pd.DataFrame, stop_reasons: dict, t: Strings, single_model: bool) -> Table:
    """Spread and percentiles of the latency metrics, and what ended the passes."""
    table = Table(t.tables.detail, ["l", "l", "r", "l", "r", "r", "r", "r", "r", "r", "r", "l"])
    rows = summary[summary.metric.isin(["output_tokens_per_s", "ttft_ms", "tpot_ms", "e2e_ms"])]
    for row in rows.itertuples():
        level = NONE if pd.isna(row.concurrency) else str(int(row.concurrency))
        stop = stop_reasons.get(
            (
                row.model,
                row.backend,
                row.scenario,
                None if pd.isna(row.concurrency) else int(row.concurrency),
            ),
            "",
        )
        table.rows.append(
            [
                _cell(
                    run_label(row.model, row.backend, row.scenario, single_model)
                    + clock_mark(row.token_clock)
                ),
                t.metric_headers[row.metric],
                level,
                t.units[row.ci_unit] if row.ci_unit else NONE,
                num(row.n, 0),
                num(row.std, 2),
                num(row.within_std, 2),
                num(row.samples, 0),
                num(row.p50, 2),
                num(row.p90, 2),
                num(row.p99, 2),
                _cell(stop),
            ]
        )
    return table


def memory_table(resources: pd.DataFrame, t: Strings, single_model: bool) -> Table:
    """Per run, in MiB: the weights on the device and where that figure comes from, the process's GPU
    memory after warm-up and at its peak, beyond the weights, context, torch's peak allocation and
    peak RSS; columns without a value left out."""
    from ..analyze.tables import run_rows

    columns = [
        "weights_mib",
        "weights_source",
        "gpu_process_after_warmup_mib",
        "gpu_process_peak_mib",
        "beyond_weights_mib",
        "context_mib",
        "torch_max_allocated_mib",
        "rss_peak_mib",
    ]
    table = Table(
        [t.columns.run] + [t.resource_headers[c] for c in columns],
        ["l", "r", "l"] + ["r"] * (len(columns) - 2),
    )
    for row in run_rows(resources).itertuples():
        label = run_label(row.model, row.backend, row.scenario, single_model)
        source = t.weights_sources[row.weights_source] if isinstance(row.weights_source, str) else NONE
        if isinstance(row.weights_source, str) and not pd.isna(row.weights_host_mib) and row.weights_host_mib:
            source += t.f("weights_on_host", mib=num(row.weights_host_mib, 0))
        cells = [num(getattr(row, c), 0) if c != "weights_source" else source for c in columns]
        table.rows.append([_cell(label)] + cells)
    return table.compact()


def cost_table(resources: pd.DataFrame, diagnosis: dict, t: Strings, single_model: bool) -> Table:
    """Per run, and per level of a run of several (a sweep's concurrency, an open loop's rate): energy,
    GPU busy and host CPU per output token, the CPU cores (CPU s / window s), and the verdict on what
    limits it."""
    from ..analyze.tables import cost_rows

    columns = ["energy_j_per_output_token", "gpu_busy_pct", "cpu_ms_per_output_token", "cpu_cores"]
    rates = "rate_per_s" in resources and resources["rate_per_s"].notna().any()
    table = Table(
        [t.columns.run, t.columns.level if rates else t.columns.concurrency]
        + [t.resource_headers[c] for c in columns]
        + [t.columns.limited_by],
        ["l", "r", "r", "r", "r", "r", "l"],
    )
    for row in cost_rows(resources).itertuples():
        label = run_label(row.model, row.backend, row.scenario, single_model)
        level = LevelId.of_row(row)
        verdict = diagnosis.get((row.model, row.backend, row.scenario, level), NONE)
        table.rows.append(
            [
                _cell(label),
                level.text() or NONE,
                num(row.energy_j_per_output_token, 3),
                num(row.gpu_busy_pct, 0),
                num(row.cpu_ms_per_output_token, 2),
                num(row.cpu_cores, 2),
                verdict,
            ]
        )
    return table.compact()


def _mib(n_bytes: float) -> str:
    """Bytes in MiB: whole MiB from 100 up, two decimals below (a tiny model's weights are not 0)."""
    mib = n_bytes / 2**20
    return num(mib, 0 if mib >= 100 else 2)


def _level_suffix(level: LevelId, t: Strings) -> str:
    """A run label's level: " (concurrency 4)", " (0.5/s)", or "" for the run itself."""
    if level.concurrency is not None:
        return f" ({t.columns.concurrency} {level.concurrency})"
    return f" ({level.text()})" if level.rate_per_s is not None else ""


def roofline_rows_table(roofline: pd.DataFrame, t: Strings, single_model: bool) -> Table:
    """Per run (and level): decode bytes (MiB, as every memory figure), decode tok/s ± 95 % CI, the bound (tok/s), the
    fraction of it reached with its CI, and a note (why no bound; a decode rate from a token clock too coarse for it);
    columns without a value left out."""
    table = Table(t.tables.roofline, ["l", "r", "r", "r", "r", "l"])
    coarse = clock_coarse(roofline)
    for row, artefact in zip(roofline.itertuples(), coarse, strict=True):
        notes = [row.note] if isinstance(row.note, str) and row.note else []
        notes += [t.roofline_clock_coarse] if artefact else []
        level = _level_suffix(LevelId.of_row(row), t)
        std = getattr(row, "decode_std", math.nan)  # a roofline.csv written before it had the column
        decode = ci(
            row.decode_tok_s,
            row.decode_ci95_low,
            row.decode_ci95_high,
            n=row.n,
            std=std,
            unresolved=t.unresolved,
        )
        fraction = pct(row.fraction) if not pd.isna(row.fraction) else NONE
        pair = unresolved_pair(row.decode_tok_s, row.decode_ci95_low, row.decode_ci95_high, row.n, std)
        if pair is not None and not pd.isna(row.fraction):
            values = ", ".join(pct(value / row.bound_tok_s) for value in pair)
            fraction += f" {t.f('unresolved', n=int(row.n), values=values)}"
        elif not pd.isna(row.fraction_low):
            fraction += f" ({pct(row.fraction_low)}–{pct(row.fraction_high)})"  # "0.8 % (1 %–1 %)" hid it
        table.rows.append(
            [
                _cell(run_label(row.model, row.backend, row.scenario, single_model) + level)
                + clock_mark(getattr(row, "token_clock", "")),
                _mib(row.decode_bytes),
                decode,
                num(row.bound_tok_s),
                fraction,
                _cell("; ".join(notes)),
            ]
        )
    return table.compact()


def agreement_rows_table(verdicts: pd.DataFrame, t: Strings) -> Table:
    """Per scenario and backend: identical outputs ("–" for the reference itself, and where no output of the
    reference backend was there to compare with: a config without it printed "0/12"), prefix and forced
    agreement, the largest gap to the argmax with its median and 90th percentile over outputs, the
    null (the reference backend's largest gap), the earliest divergence and the verdict."""
    table = Table(t.tables.agreement, ["l", "l", "r", "r", "r", "r", "r", "r", "l"])
    for row in verdicts.itertuples():
        compared = row.backend != row.reference and not pd.isna(row.prefix_agreement)
        identical = f"{int(row.identical)}/{int(row.outputs)}" if compared else NONE
        if row.disagrees:
            verdict = f"**{t.verdict.disagrees}**"
        elif row.beyond_null:
            verdict = f"**{t.verdict.beyond_null}**"
        else:
            verdict = t.verdict.near_ties if row.near_ties else t.verdict.ok
        table.rows.append(
            [
                _cell(row.scenario),
                _cell(row.backend),
                identical,
                pct(row.prefix_agreement),
                pct(row.forced_agreement),
                f"{num(row.forced_max_gap, 3)} / {num(row.gap_p50, 3)} / {num(row.gap_p90, 3)}",
                num(row.null_max_gap, 3),
                num(row.earliest_divergence, 0),
                verdict,
            ]
        )
    return table


def failures_table(records: list[RunRecord], t: Strings) -> Table:
    """One row per run that is not ok: its id, status and reason (else its first three invalid reasons)."""
    table = Table(t.tables.failures, ["l", "l", "l"])
    for record in records:
        if record.status == "ok":
            continue
        reason = record.reason or "; ".join(
            record.measurement.invalid_reasons[:3] if record.measurement else []
        )
        table.rows.append([_cell(record.run), t.status[record.status], _cell(reason)])
    return table
