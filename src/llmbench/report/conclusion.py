"""The answer first, the article side by side, and 总结和不足 last: each point computed
from the numbers, none a copy of a sentence of the analysis sections.

The article's question: which backend is faster for the for-loop and under
concurrency, by how much, at what memory. The answer names every backend
against the baseline (the correctness reference, transformers `generate()`).
"""

from __future__ import annotations

import math

import pandas as pd

from ..analyze.summary import unit_stats
from ..stats import passes_disagree
from .article import Article
from .format import NONE, ci, num, ratio
from .narrative import Comparison, saturation
from .strings import Strings
from .tables import Table


def _first(comparisons: list[Comparison], kind: str) -> list[Comparison]:
    """Comparisons of the first scenario of a type (at its first level)."""
    chosen = [c for c in comparisons if c.scenario_type == kind]
    if not chosen:
        return []
    scenario, level = chosen[0].scenario, chosen[0].concurrency
    return [c for c in chosen if c.scenario == scenario and c.concurrency == level]


def _speedups(chosen: list[Comparison], t: Strings, wrong: frozenset = frozenset()) -> str:
    """ "B is 3.1× (2.9–3.3) faster than A", slower ones as slower (ratio shown ≥ 1), marked where
    the difference is not significant and where `wrong` holds (backend, scenario): computes wrongly."""
    items = []
    for c in chosen:
        faster = c.speedup >= 1
        shown = ratio(c.speedup, c.low, c.high) if faster else ratio(1 / c.speedup, 1 / c.high, 1 / c.low)
        item = t.f("answer.speedup" if faster else "answer.slowdown", other=c.other, base=c.base, ratio=shown)
        if c.within_process:
            item += t.answer.within_process
        elif not math.isnan(c.p) and not c.significant:
            item += t.answer.not_significant
        if (c.other, c.scenario) in wrong or (c.base, c.scenario) in wrong:
            item += t.f("answer.wrong", backend=c.other if (c.other, c.scenario) in wrong else c.base)
        items.append(item)
    return t.sentences.list_sep.join(items)


def _spread(row, t: Strings) -> str:
    """The pass-spread flag beside a throughput figure: its fastest pass more than 1.5 x its slowest
    (stats.passes_disagree: passes of two kinds); empty otherwise."""
    if not passes_disagree(row.min, row.max):
        return ""
    return t.f("answer.spread", ratio=f"{row.max / row.min:.1f}")


def wrong_runs(verdicts: pd.DataFrame) -> frozenset:
    """(backend, scenario) pairs whose outputs disagree with the reference model's."""
    if not len(verdicts):
        return frozenset()
    return frozenset((r.backend, r.scenario) for r in verdicts[verdicts.disagrees].itertuples())


def _mean(summary: pd.DataFrame, backend: str, scenario: str | None, metric: str) -> float:
    rows = summary[
        (summary.backend == backend) & (summary.metric == metric) & summary.status.isin(["ok", "partial"])
    ]
    if scenario is not None:
        rows = rows[rows.scenario == scenario]
    return float(rows["mean"].iloc[0]) if len(rows) else math.nan


def _peak_memory(resources: pd.DataFrame, backend: str) -> float:
    values = resources.loc[resources.backend == backend, "gpu_process_peak_mib"].dropna()
    return float(values.max()) if len(values) else math.nan


def _not_measured(summary: pd.DataFrame, t: Strings) -> str | None:
    """The answer's first line when runs failed or measured invalid output: how many of the run
    configurations, by scenario and status (failed, invalid, partly failed), so that no line below
    reads as if every run had measured."""
    runs = summary.drop_duplicates(["model", "backend", "scenario"])
    bad = runs[runs.status != "ok"]
    if bad.empty:
        return None
    items = t.sentences.list_sep.join(
        t.f(
            "answer.failed_item",
            scenario=scenario,
            backends=", ".join(group.backend),
            status=t.status[status],
        )
        for (scenario, status), group in bad.groupby(["scenario", "status"], sort=False)
    )
    return t.f("answer.failed", count=len(bad), total=len(runs), items=items)


def answer(
    comparisons: list[Comparison],
    summary: pd.DataFrame,
    resources: pd.DataFrame,
    t: Strings,
    verdicts: pd.DataFrame | None = None,
) -> list[str]:
    """At most four lines: the runs that did not measure (when any), the loop, concurrency,
    memory; a backend that computes wrongly (per `verdicts`, agreement.verdicts's table) is
    marked where its speed is quoted."""
    lines = [line for line in [_not_measured(summary, t)] if line]
    wrong = wrong_runs(verdicts) if verdicts is not None else frozenset()
    loop = _first(comparisons, "loop") or _first(comparisons, "fixed")
    if loop:
        lines.append(t.f("answer.loop", scenario=loop[0].scenario, speedups=_speedups(loop, t, wrong)))
    threads = _first(comparisons, "threads") or _first(comparisons, "sweep")
    sweeps = summary[
        (summary.scenario_type == "sweep") & (summary.metric == "output_tokens_per_s") & (summary.n > 0)
    ]
    best = ""
    if not sweeps.empty:
        top = sweeps.loc[sweeps.groupby("backend")["mean"].idxmax()]
        best = t.f(
            "answer.best",
            items=t.sentences.list_sep.join(
                t.f(
                    "answer.best_item",
                    backend=r.backend,
                    value=ci(r.mean, r.ci95_low, r.ci95_high),
                    n=t.f(f"units_count.{r.ci_unit}", n=int(r.n)),
                    median=num(r.p50),
                    low=num(r.min),
                    high=num(r.max),
                    scenario=r.scenario,
                    level=int(r.concurrency),
                )
                + _spread(r, t)
                + (t.f("answer.wrong", backend=r.backend) if (r.backend, r.scenario) in wrong else "")
                for r in top.itertuples()
            ),
        )
    if threads or best:
        lines.append(
            t.f(
                "answer.concurrency",
                scenario=threads[0].scenario if threads else NONE,
                speedups=_speedups(threads, t, wrong) if threads else NONE,
                best=best,
            )
        )
    memory = [(b, _peak_memory(resources, b)) for b in sorted(set(resources.backend))]
    if any(not math.isnan(v) for _, v in memory):
        items = t.sentences.list_sep.join(
            t.f("answer.memory_item", backend=b, mib=num(v, 0)) for b, v in memory
        )
        lines.append(t.f("answer.memory", items=items))
    elif len(resources):  # the peak over scenarios, as on a GPU and in 总结
        peaks = resources.groupby("backend", sort=True)["rss_peak_mib"].max()
        items = t.sentences.list_sep.join(
            t.f("answer.memory_item", backend=b, mib=num(v, 0)) for b, v in peaks.items()
        )
        lines.append(t.f("answer.memory_host", items=items))
    return lines


def article_table(article: Article, summary: pd.DataFrame, resources: pd.DataFrame, t: Strings) -> Table:
    """The article's figures next to this run's equivalents, with both speedups."""
    table = Table(t.tables.article, ["l", "r", "r", "r", "r", "r", "r"])
    first = {
        kind: next(iter(summary.loc[summary.scenario_type == kind, "scenario"]), None)
        for kind in ("loop", "threads")
    }

    def speedup(base: float, other: float) -> str:
        return (
            ratio(base / other) if base and other and not math.isnan(base) and not math.isnan(other) else NONE
        )

    def timed(label: str, facts: dict, kind: str) -> list[str]:
        scenario = first[kind]
        ours = {b: _stats(summary, b, scenario) for b in ("hf", "fastllm")}
        from ..stats import ratio_ci

        run_ratio = ratio(*ratio_ci(ours["hf"], ours["fastllm"])) if ours["hf"] and ours["fastllm"] else NONE
        return [
            label,
            num(facts.get("hf")),
            num(facts.get("fastllm")),
            speedup(facts.get("hf"), facts.get("fastllm")),
            num(ours["hf"].mean if ours["hf"] else None),
            num(ours["fastllm"].mean if ours["fastllm"] else None),
            run_ratio,
        ]

    table.rows.append(timed(t.article.loop, article.loop_total_ms, "loop"))
    table.rows.append(timed(t.article.threads, article.threads_total_ms, "threads"))
    # The article read memory after its for-loop: "current" is the loop scenario's after warm-up,
    # "peak" the highest over every scenario (as the answer and 总结 quote it).
    loop_rows = resources.scenario == first["loop"] if first["loop"] else resources.scenario.notna()
    for what, column, rows in (
        ("current", "gpu_process_after_warmup_mib", loop_rows),
        ("peak", "gpu_process_peak_mib", resources.scenario.notna()),
    ):
        ours = {b: resources.loc[rows & (resources.backend == b), column].max() for b in ("hf", "fastllm")}
        table.rows.append(
            [
                t.article[f"memory_{what}"],
                *(num(article.torch_memory_mb.get(b, {}).get(what)) for b in ("hf", "fastllm")),
                NONE,
                *(num(None if pd.isna(v) else v, 0) for v in ours.values()),
                NONE,
            ]
        )
    return table


def _stats(summary: pd.DataFrame, backend: str, scenario: str | None):
    rows = summary[
        (summary.backend == backend)
        & (summary.scenario == scenario)
        & (summary.metric == "total_ms")
        & (summary.n > 0)
    ]
    return unit_stats(rows.iloc[0]) if len(rows) else None


def _scaling_point(summary: pd.DataFrame, t: Strings) -> str | None:
    """How each backend's throughput scales in each sweep, and where it saturates."""
    sweeps = summary[summary.scenario_type == "sweep"]
    scaling = []
    for backend in sorted(set(sweeps.backend)):
        for scenario in sorted(set(sweeps.loc[sweeps.backend == backend, "scenario"])):
            level = saturation(summary, summary.model.iloc[0], scenario, backend)
            scaling.append(
                t.f(
                    "points.saturates" if level else "points.rising",
                    backend=backend,
                    scenario=scenario,
                    level=level,
                )
            )
    return t.f("points.scaling", items=t.sentences.list_sep.join(scaling)) if scaling else None


def summary_points(
    comparisons: list[Comparison],
    summary: pd.DataFrame,
    resources: pd.DataFrame,
    verdicts: pd.DataFrame,
    article: Article | None,
    t: Strings,
) -> list[str]:
    """总结: at most six points, in the article's order, each present only where measured."""
    points = []
    scaling = _scaling_point(summary, t)
    for kind, facts in (
        ("loop", article.loop_total_ms if article else {}),
        ("threads", article.threads_total_ms if article else {}),
    ):
        chosen = _first(comparisons, kind)
        if not chosen:
            continue
        vs_article = ""
        if facts.get("hf") and facts.get("fastllm"):
            vs_article = t.f(
                "points.vs_article",
                ratio=ratio(facts["hf"] / facts["fastllm"]),
                hf=num(facts["hf"], 0),
                fastllm=num(facts["fastllm"], 0),
            )
        points.append(
            t.f(f"points.{kind}", speedups=_speedups(chosen, t, wrong_runs(verdicts)), vs_article=vs_article)
        )
        if kind == "threads" and scaling:  # concurrency is one point: the pool, then the sweeps
            points[-1] += t.sentences.sentence_sep + scaling
            scaling = None
    if scaling:
        points.append(scaling)
    if len(resources):
        gpu = resources.gpu_process_peak_mib.notna().any()
        items = []
        several = resources.model.nunique() > 1  # then each backend's figures per model
        for (model, backend), rows in resources.groupby(["model", "backend"]):
            backend = f"{backend} ({model})" if several else backend
            host = num(rows.rss_peak_mib.max(), 0)
            items.append(
                t.f(
                    "points.memory_item",
                    backend=backend,
                    gpu=num(rows.gpu_process_peak_mib.max(), 0),
                    torch=num(rows.torch_max_allocated_mib.max(), 0),
                    host=host,
                )
                if gpu
                else t.f("points.memory_host_item", backend=backend, host=host)
            )
        points.append(
            t.f("points.memory" if gpu else "points.memory_host", items=t.sentences.list_sep.join(items))
        )
    if len(verdicts):
        wrong = verdicts[verdicts.disagrees]
        points.append(
            t.f("points.correct_all", n=len(verdicts))
            if wrong.empty
            else t.f(
                "points.correct_some",
                runs=t.sentences.list_sep.join(f"{r.backend} ({r.scenario})" for r in wrong.itertuples()),
            )
        )
    if point := energy_point(resources, t):
        points.append(point)
    best = [c for c in comparisons if c.other == "hf-compile" or c.base == "hf-compile"]
    decode = {b: _mean(summary, b, None, "decode_tokens_per_s") for b in ("hf-compile", "fastllm")}
    if best and not any(math.isnan(v) for v in decode.values()):
        points.append(
            t.f(
                "points.hf_best",
                compile=num(decode["hf-compile"]),
                fastllm=num(decode["fastllm"]),
                ratio=ratio(decode["hf-compile"] / decode["fastllm"]),
            )
        )
    return points[:6]


def energy_point(resources: pd.DataFrame, t: Strings) -> str | None:
    """Each backend's lowest energy per output token (J, whole device) and the scenario it came
    from: the scenarios differ (a batch of 32 costs less a token than a loop), so a bare number
    per backend would compare unlike work. None where no run measured energy."""
    measured = resources.dropna(subset=["energy_j_per_output_token"])
    if measured.empty:
        return None
    several = measured.model.nunique() > 1  # then each figure names its model too
    lowest = measured.loc[measured.groupby(["model", "backend"])["energy_j_per_output_token"].idxmin()]
    items = [
        t.f(
            "points.energy_item",
            backend=r.backend,
            value=num(r.energy_j_per_output_token, 3),
            scenario=f"{r.model} / {r.scenario}" if several else r.scenario,
        )
        for r in lowest.itertuples()
    ]
    return t.f("points.energy", items=t.sentences.list_sep.join(items))
