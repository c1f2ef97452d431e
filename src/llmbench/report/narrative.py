"""Sentences of the analysis sections, each computed from the numbers.

Comparisons use the replication unit of summary.csv (replicas where there are
several): the ratio of means with its 95 % CI (delta method on the log ratio)
and Welch's t-test; a difference is called only when the CI excludes 1 and
p < 0.05.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from ..analyze.summary import unit_stats
from ..scenario_types import TYPES, types_where
from ..stats import UnitStats, format_p, ratio_ci, welch_p
from .format import missing, num, ratio, ratio_of, too_wide
from .strings import Strings

SIGNIFICANCE = 0.05


@dataclass(frozen=True)
class Comparison:
    """`other` against `base` on one scenario level; `speedup` > 1 means `other` is faster."""

    model: str
    scenario: str
    scenario_type: str
    concurrency: int | None
    metric: str
    base: str
    other: str
    base_stats: UnitStats
    other_stats: UnitStats
    speedup: float
    low: float
    high: float
    p: float
    unit: str  # the replication unit of both sides' statistics: "replica" or "pass"

    @property
    def within_process(self) -> bool:
        """Whether both sides rest on passes of one process each: their CI says how steady a process
        was, not what another process of the same backend would give (issue 24: a second H200 run
        missed the first run's within-process CIs)."""
        return self.unit == "pass"

    @property
    def significant(self) -> bool:
        """Whether the difference is called: p < 0.05 and the ratio's 95 % CI excludes 1, between
        processes only (never on passes of one process)."""
        return not self.within_process and self.p < SIGNIFICANCE and not (self.low <= 1 <= self.high)


def comparisons(summary: pd.DataFrame, baseline: str) -> list[Comparison]:
    """Every backend against the baseline (the correctness reference, else the slowest) per scenario level."""
    out = []
    ok = summary[summary.status.isin(["ok", "partial"]) & (summary.n > 0)]
    for (model, scenario, level), group in ok.groupby(
        ["model", "scenario", "concurrency"], sort=False, dropna=False
    ):
        kind = group["scenario_type"].iloc[0]
        metric = TYPES[kind].compares
        rows = group[group.metric == metric].set_index("backend")
        if len(rows) < 2:
            continue
        stats = {b: unit_stats(r) for b, r in rows.iterrows()}
        faster_is_lower = metric == "total_ms"
        base = (
            baseline
            if baseline in stats
            else (max if faster_is_lower else min)(stats, key=lambda b: stats[b].mean)
        )
        for other, s in stats.items():
            if other == base:
                continue
            speedup, low, high = ratio_ci(stats[base], s) if faster_is_lower else ratio_ci(s, stats[base])
            level = None if pd.isna(level) else int(level)
            out.append(
                Comparison(
                    model,
                    scenario,
                    kind,
                    level,
                    metric,
                    base,
                    other,
                    stats[base],
                    s,
                    speedup,
                    low,
                    high,
                    welch_p(stats[base], s),
                    rows.loc[other, "ci_unit"],
                )
            )
    return out


def units(stats: UnitStats, unit: str, t: Strings) -> str:
    """How many replication units `stats` rests on, in words (strings `units_count.<unit>`)."""
    return t.f(f"units_count.{unit}", n=stats.n)


def p_phrase(p: float) -> str:
    """`p` as a sentence says it: "p = 0.031", "p < 0.001", "p n/a"."""
    shown = format_p(p)
    return f"p {shown}" if shown.startswith("<") or shown == "n/a" else f"p = {shown}"


def not_significant_why(c: Comparison, t: Strings) -> str:
    """Which criterion a comparison failed: its ratio's CI includes 1, its p >= SIGNIFICANCE, or both
    (a CI that excludes 1 beside "not significant" reads as a contradiction without it)."""
    failed = [
        t.verdicts[key]
        for key, fails in (("ci_includes_one", c.low <= 1 <= c.high), ("p_large", c.p >= SIGNIFICANCE))
        if fails
    ]
    return t.sentences.list_sep.join(failed)


def comparison_sentence(c: Comparison, t: Strings) -> str:
    """`c` in one sentence: faster or slower by what ratio (shown >= 1) with its 95 % CI, both
    means, p and the verdict (untestable when p is NaN)."""
    faster = c.speedup >= 1
    shown = c.speedup if faster else 1 / c.speedup
    low, high = (c.low, c.high) if faster else (1 / c.high, 1 / c.low)
    if c.within_process:
        verdict = t.verdicts.within_process
    elif math.isnan(c.p):
        verdict = t.verdicts.untestable
    elif c.significant:
        verdict = t.verdicts.significant
    else:
        verdict = t.f("verdicts.not_significant", why=not_significant_why(c, t))
    where = c.scenario + ("" if c.concurrency is None else f" ({t.columns.concurrency} {c.concurrency})")
    fewer = min(c.base_stats.n, c.other_stats.n)  # "95 % CI" only beside an interval it printed
    return t.f(
        "sentences.faster" if faster else "sentences.slower",
        where=where,
        other=c.other,
        base=c.base,
        ratio=ratio(shown, low, high, n=fewer, unresolved=t.unresolved_ratio),
        ci="" if missing(low) or missing(high) or (fewer == 2 and too_wide(low, high)) else t.sentences.ci,
        metric=t.metric_headers[c.metric],
        other_value=num(c.other_stats.mean),
        base_value=num(c.base_stats.mean),
        p=p_phrase(c.p),
        verdict=verdict,
        n=units(c.other_stats, c.unit, t),
    )


def sweep_sentences(summary: pd.DataFrame, t: Strings, single_model: bool) -> list[str]:
    """Per sweep run whose every replica is valid (status ok): how throughput and latency grow with
    concurrency, and where gains stop."""
    sentences = []
    sweeps = summary[
        summary.scenario_type.isin(types_where(swept=True))
        & (summary.status == "ok")
        & summary.concurrency.notna()
    ]
    for (model, scenario, backend), group in sweeps.groupby(["model", "scenario", "backend"], sort=False):
        throughput = (
            group[group.metric == "output_tokens_per_s"]
            .set_index("concurrency")["mean"]
            .dropna()
            .sort_index()
        )
        latency = group[group.metric == "e2e_ms"].set_index("concurrency")["mean"]
        if throughput.empty:
            continue
        first, last, peak = int(throughput.index[0]), int(throughput.index[-1]), int(throughput.idxmax())
        run = " / ".join(([] if single_model else [model]) + [scenario, backend])
        if peak == first:  # "from 1 to 1, 1.00×" says nothing: say that concurrency did not help
            sentences.append(
                t.f(
                    "sentences.sweep_single" if first == last else "sentences.sweep_flat",
                    run=run,
                    low=first,
                    t_low=num(throughput.loc[first]),
                    high=last,
                    t_high=num(throughput.loc[last]),
                    l_low=num(latency.get(first)),
                    l_high=num(latency.get(last)),
                )
                + t.sentences.end
            )
            continue
        sentence = t.f(
            "sentences.sweep",
            run=run,
            low=first,
            high=peak,
            t_low=num(throughput.loc[first]),
            t_high=num(throughput.loc[peak]),
            ratio=ratio(throughput.loc[peak] / throughput.loc[first]),
            l_low=num(latency.get(first)),
            l_high=num(latency.get(peak)),
        )
        # Saturated: the first level within 10 % of the peak, unless that is the last level.
        saturation = int(throughput[throughput >= 0.9 * throughput.max()].index[0])
        if len(throughput) > 1 and saturation != last:
            sentence += t.f("sentences.saturates", level=saturation)
        elif len(throughput) > 1:
            sentence += t.f("sentences.still_rising", level=last)
        sentences.append(sentence + t.sentences.end)
    return sentences


def saturation(summary: pd.DataFrame, model: str, scenario: str, backend: str) -> int | None:
    """The first concurrency level within 10 % of the backend's peak throughput (None: still rising)."""
    rows = summary[
        (summary.model == model)
        & (summary.scenario == scenario)
        & (summary.backend == backend)
        & (summary.metric == "output_tokens_per_s")
        & summary.concurrency.notna()
    ]
    throughput = rows.set_index("concurrency")["mean"].dropna().sort_index()
    if len(throughput) < 2:
        return None
    level = int(throughput[throughput >= 0.9 * throughput.max()].index[0])
    return None if level == int(throughput.index[-1]) else level


def diagnosis(resources: pd.DataFrame, t: Strings) -> dict[tuple, str]:
    """(model, backend, scenario, LevelId) -> what limits that run or level, from GPU busy
    alone: the GPU (busy >= 80 % of the window) or the host (busy < 60 %: the GPU waited on this
    process), else both. CPU time cannot tell them apart: CUDA's spin-wait bills a host waiting on
    the GPU as CPU time, so every synchronous backend shows about one core either way; the cores
    are printed beside the verdict, never used for it. A sweep's run whose record kept no level
    gets `limited.not_per_level`."""
    from ..analyze.summary import LevelId
    from ..analyze.tables import cost_rows

    verdicts = {}
    for row in cost_rows(resources).itertuples():
        level = LevelId.of_row(row)
        key = (row.model, row.backend, row.scenario, level)
        cores = num(row.cpu_cores, 2)
        if row.device != "cuda":
            verdicts[key] = t.limited.cpu_device
        elif level.is_run and row.levels > 1:
            verdicts[key] = t.limited.not_per_level
        elif pd.isna(row.gpu_busy_pct):
            verdicts[key] = t.limited.unknown
        elif row.gpu_busy_pct < 60:
            verdicts[key] = t.f("limited.cpu", idle=num(100 - row.gpu_busy_pct, 0), cores=cores)
        elif row.gpu_busy_pct >= 80:
            verdicts[key] = t.f("limited.gpu", busy=num(row.gpu_busy_pct, 0), cores=cores)
        else:
            verdicts[key] = t.f("limited.mixed", busy=num(row.gpu_busy_pct, 0), cores=cores)
    return verdicts


def agreement_sentences(verdicts: pd.DataFrame, correctness: dict, t: Strings) -> list[str]:
    """One sentence per run that computes wrongly, misses beyond the reference backend's own
    misses in the run dtype (the null), or misses often but by near-ties only (the table shows
    the rest)."""
    from .format import pct

    threshold = f"{correctness['min_forced_agreement']:.0%}"
    sentences = []
    for r in verdicts.itertuples():
        if not (r.disagrees or r.beyond_null or r.near_ties):
            continue
        key = (
            "sentences.disagree"
            if r.disagrees
            else "sentences.beyond_null"
            if r.beyond_null
            else "sentences.near_ties"
        )
        sentences.append(
            t.f(
                key,
                backend=r.backend,
                reference=r.reference,
                scenario=r.scenario,
                forced=pct(r.forced_agreement),
                threshold=threshold,
                gap=num(r.forced_max_gap, 3),
                p50=num(r.gap_p50, 3),
                p90=num(r.gap_p90, 3),
                null=num(r.null_max_gap, 3),
                tie=num(correctness["near_tie_ratio"], 1),
            )
        )
    return sentences


REFERENCE_METRICS = ["output_tokens_per_s", "tpot_ms", "ttft_ms", "e2e_ms"]
REFERENCE_KEYS = ["model", "backend", "scenario", "concurrency", "metric"]


def reference_rows(summary: pd.DataFrame, reference: pd.DataFrame, t: Strings) -> list[list[str]]:
    """This run's headline metrics next to the same runs' in an earlier results set, on each side's unit."""
    from ..stats import format_p as fmt_p
    from .format import ci

    def usable(frame: pd.DataFrame) -> pd.DataFrame:
        ok = frame[
            frame.status.isin(["ok", "partial"]) & frame.metric.isin(REFERENCE_METRICS) & (frame.n > 0)
        ]
        return ok.assign(concurrency=ok.concurrency.fillna(0))

    both = usable(summary).merge(usable(reference), on=REFERENCE_KEYS, suffixes=("", "_ref"))
    rows = []
    for row in both.to_dict("records"):
        this = unit_stats(row)
        ref = unit_stats({k.removesuffix("_ref"): v for k, v in row.items() if k.endswith("_ref")})
        rows.append(
            [
                row["backend"],
                row["scenario"],
                str(int(row["concurrency"])) if row["concurrency"] else "–",
                t.metric_headers[row["metric"]],
                *(
                    ci(s.mean, s.ci95_low, s.ci95_high, 2, n=s.n, std=s.std, unresolved=t.unresolved)
                    for s in (this, ref)
                ),
                ratio_of(this, ref, t.unresolved_ratio),
                fmt_p(welch_p(this, ref)),
            ]
        )
    return rows
