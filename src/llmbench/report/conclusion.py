"""The answer first, the article side by side, and 总结和不足 last: each point computed
from the numbers, none a copy of a sentence of the analysis sections.

The article's question: which backend is faster for the for-loop and under
concurrency, by how much, at what memory. The answer names every backend
against the baseline (the correctness reference, transformers `generate()`).
No scenario type or backend is named here: what a type shows is a field of its
entry in :mod:`llmbench.scenario_types`, the article's backend pair comes from
its figures file, and which backend is another's best use from the backends.
"""

from __future__ import annotations

import math

import pandas as pd

from ..analyze.summary import run_level, unit_stats
from ..backends import improvements_of
from ..scenario_types import SECTIONS, TYPES, types_where
from ..stats import passes_disagree
from .article import Article
from .format import NONE, ci, num, ratio, ratio_of
from .narrative import Comparison, not_significant_why, saturation
from .strings import Strings
from .tables import Table


def _first(comparisons: list[Comparison], kinds: list[str]) -> list[Comparison]:
    """Comparisons of the first scenario (at its first level) of the first of the scenario types
    `kinds` that has any, in the order given."""
    for kind in kinds:
        chosen = [c for c in comparisons if c.scenario_type == kind]
        if chosen:
            scenario, level = chosen[0].scenario, chosen[0].concurrency
            return [c for c in chosen if c.scenario == scenario and c.concurrency == level]
    return []


def _swept(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary rows of scenario types measured at several concurrency levels."""
    return summary[summary.scenario_type.isin(types_where(swept=True))]


def _speedups(chosen: list[Comparison], t: Strings, wrong: frozenset = frozenset()) -> str:
    """ "B is 3.1× (2.9–3.3) faster than A", slower ones as slower (ratio shown ≥ 1), marked where
    the difference is not significant and where `wrong` holds (backend, scenario): computes wrongly."""
    items = []
    for c in chosen:
        faster = c.speedup >= 1
        n, words = min(c.base_stats.n, c.other_stats.n), t.unresolved_ratio
        shown = (
            ratio(c.speedup, c.low, c.high, n=n, unresolved=words)
            if faster
            else ratio(1 / c.speedup, 1 / c.high, 1 / c.low, n=n, unresolved=words)
        )
        item = t.f("answer.speedup" if faster else "answer.slowdown", other=c.other, base=c.base, ratio=shown)
        if c.within_process:
            item += t.answer.within_process
        elif not math.isnan(c.p) and not c.significant:
            item += t.f("answer.not_significant", why=not_significant_why(c, t))
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


def memory_scenario(resources: pd.DataFrame, column: str) -> str | None:
    """The scenario whose runs compare memory like for like: the one where most backends measured
    `column`, the first of them on a tie; None where none did. Peaks of different scenarios (a loop,
    a batch of 32) are not compared."""
    from ..analyze.tables import run_rows

    measured = run_rows(resources).dropna(subset=[column])
    if measured.empty:
        return None
    counts = measured.groupby("scenario", sort=False)["backend"].nunique()
    return str(counts.idxmax())


def _memory_in(resources: pd.DataFrame, scenario: str, column: str) -> list[tuple[str, float]]:
    """(backend, mean over the scenario's models of `column`) for the backends that measured it."""
    from ..analyze.tables import run_rows

    rows = run_rows(resources)
    rows = rows[(rows.scenario == scenario)].dropna(subset=[column])
    return [(str(b), float(v)) for b, v in rows.groupby("backend", sort=True)[column].max().items()]


def _not_measured(summary: pd.DataFrame, t: Strings) -> str | None:
    """The answer's first line when runs failed or measured invalid output: how many of the run
    configurations, by scenario and status (failed, invalid, partly failed), so that no line below
    reads as if every run had measured; and how many of all runs (processes, every replica: what
    the console's closing line counts) failed."""
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
    return t.f(
        "answer.failed",
        count=len(bad),
        total=len(runs),
        items=items,
        failed=int((bad.replicas - bad.replicas_measured).sum()),
        processes=int(runs.replicas.sum()),
    )


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
    loop = _first(comparisons, types_where(section="loop"))
    if loop:
        lines.append(t.f("answer.loop", scenario=loop[0].scenario, speedups=_speedups(loop, t, wrong)))
    threads = _first(comparisons, types_where(section="threads"))
    sweeps = _swept(summary)
    sweeps = sweeps[(sweeps.metric == "output_tokens_per_s") & (sweeps.n > 0)]
    best = ""
    if not sweeps.empty:
        top = sweeps.loc[sweeps.groupby("backend")["mean"].idxmax()]
        best = t.f(
            "answer.best",
            items=t.sentences.list_sep.join(
                t.f(
                    "answer.best_item",
                    backend=r.backend,
                    value=ci(r.mean, r.ci95_low, r.ci95_high, n=r.n, std=r.std, unresolved=t.unresolved),
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
    for column, key in (("gpu_process_peak_mib", "answer.memory"), ("rss_peak_mib", "answer.memory_host")):
        scenario = memory_scenario(resources, column)
        if scenario is None:
            continue
        items = t.sentences.list_sep.join(
            t.f("answer.memory_item", backend=b, mib=num(v, 0))
            for b, v in _memory_in(resources, scenario, column)
        )
        lines.append(t.f(key, items=items, scenario=scenario))
        break
    return lines


def article_table(article: Article, summary: pd.DataFrame, resources: pd.DataFrame, t: Strings) -> Table:
    """The article's figures next to this run's equivalents, with both speedups."""
    pair = article.pair
    headers = [header.format(base=pair[0], other=pair[1]) for header in t.tables.article]
    table = Table(headers, ["l", "r", "r", "r", "r", "r", "r"])
    first = {
        measurement: next(
            iter(summary.loc[summary.scenario_type.isin(types_where(article=measurement)), "scenario"]), None
        )
        for measurement in SECTIONS
    }

    def speedup(base: float, other: float) -> str:
        return (
            ratio(base / other) if base and other and not math.isnan(base) and not math.isnan(other) else NONE
        )

    def timed(measurement: str) -> list[str]:
        facts = article.total_ms(measurement)
        base, other = (_stats(summary, b, first[measurement]) for b in pair)
        return [
            t.article[measurement],
            *(num(facts.get(b)) for b in pair),
            speedup(*(facts.get(b) for b in pair)),
            *(num(s.mean if s else None) for s in (base, other)),
            ratio_of(base, other, t.unresolved_ratio) if base and other else NONE,
        ]

    table.rows += [timed(measurement) for measurement in SECTIONS]
    # The article read memory after its for-loop: "current" is the loop scenario's after warm-up,
    # "peak" the same scenario's peak (a peak of another scenario would compare unlike work).
    loop = first[SECTIONS[0]]
    loop_rows = resources.scenario == loop if loop else resources.scenario.notna()
    loop_rows &= run_level(resources)
    for what, column, rows in (
        ("current", "gpu_process_after_warmup_mib", loop_rows),
        ("peak", "gpu_process_peak_mib", loop_rows),
    ):
        ours = {b: resources.loc[rows & (resources.backend == b), column].max() for b in pair}
        table.rows.append(
            [
                t.article[f"memory_{what}"],
                *(num(article.torch_memory_mb.get(b, {}).get(what)) for b in pair),
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
    sweeps = _swept(summary)
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
    swept_sections = {TYPES[kind].section for kind in types_where(swept=True)}
    for measurement in SECTIONS:
        chosen = _first(comparisons, types_where(article=measurement))
        if not chosen:
            continue
        speedups = _speedups(chosen, t, wrong_runs(verdicts))
        points.append(
            t.f(f"points.{measurement}", speedups=speedups, vs_article=_vs_article(article, measurement, t))
        )
        if measurement in swept_sections and scaling:  # concurrency is one point: the pool, then the sweeps
            points[-1] += t.sentences.sentence_sep + scaling
            scaling = None
    if scaling:
        points.append(scaling)
    if point := memory_point(resources, t):
        points.append(point)
    if len(verdicts):
        points.append(correctness_point(verdicts, t))
    if point := energy_point(resources, t):
        points.append(point)
    if point := best_of_point(comparisons, summary, article, t):
        points.append(point)
    return points[:6]


def correctness_point(verdicts: pd.DataFrame, t: Strings) -> str:
    """总结's correctness point, worded as what was shown: runs that compute wrongly; runs whose
    misses exceed the reference backend's own in the run dtype (not shown to compute the same,
    not shown wrong); else every run within that null."""

    def runs(rows: pd.DataFrame) -> str:
        return t.sentences.list_sep.join(f"{r.backend} ({r.scenario})" for r in rows.itertuples())

    wrong, beyond = verdicts[verdicts.disagrees], verdicts[verdicts.beyond_null]
    parts = []
    if len(wrong):
        parts.append(t.f("points.correct_some", runs=runs(wrong)))
    if len(beyond):
        parts.append(
            t.f(
                "points.beyond_null",
                runs=runs(beyond),
                gap=num(beyond.forced_max_gap.max(), 3),
                null=num(beyond.null_max_gap.max(), 3),
                reference=beyond.reference.iloc[0],
            )
        )
    if not parts:
        null = verdicts.null_max_gap.max()
        return t.f("points.correct_all", n=len(verdicts), null=num(null, 3))
    return t.sentences.sentence_sep.join(parts)


def like_for_like(summary: pd.DataFrame, a: str, b: str, metric: str) -> tuple | None:
    """(scenario, concurrency, stats of a, stats of b) of the first scenario level where both
    backends measured `metric` (status ok or partial); None where they share none."""
    rows = summary[(summary.metric == metric) & summary.status.isin(["ok", "partial"]) & (summary.n > 0)]
    for (scenario, level), group in rows.groupby(["scenario", "concurrency"], sort=False, dropna=False):
        by_backend = group.set_index("backend")
        if a in by_backend.index and b in by_backend.index:
            return (
                scenario,
                None if pd.isna(level) else int(level),
                unit_stats(by_backend.loc[a]),
                unit_stats(by_backend.loc[b]),
            )
    return None


def memory_point(resources: pd.DataFrame, t: Strings) -> str | None:
    """总结's memory point: each backend's GPU peak, torch's view and host peak, all in the one scenario
    memory_scenario picks (named); host memory only where no GPU figure exists. None without runs."""
    from ..analyze.tables import run_rows

    gpu = resources.gpu_process_peak_mib.notna().any()
    scenario = memory_scenario(resources, "gpu_process_peak_mib" if gpu else "rss_peak_mib")
    if scenario is None:
        return None
    rows = run_rows(resources)
    rows = rows[rows.scenario == scenario]
    several = rows.model.nunique() > 1  # then each backend's figures per model
    items = []
    for (model, backend), group in rows.groupby(["model", "backend"]):
        backend = f"{backend} ({model})" if several else backend
        host = num(group.rss_peak_mib.max(), 0)
        items.append(
            t.f(
                "points.memory_item",
                backend=backend,
                gpu=num(group.gpu_process_peak_mib.max(), 0),
                torch=num(group.torch_max_allocated_mib.max(), 0),
                host=host,
            )
            if gpu
            else t.f("points.memory_host_item", backend=backend, host=host)
        )
    key = "points.memory" if gpu else "points.memory_host"
    return t.f(key, items=t.sentences.list_sep.join(items), scenario=scenario)


def _vs_article(article: Article | None, measurement: str, t: Strings) -> str:
    """ "; on the article's GPU the speedup was …" for the article's `measurement`, or ""."""
    if article is None:
        return ""
    facts = article.total_ms(measurement)
    base, other = (facts.get(b) for b in article.pair)
    if not (base and other):
        return ""
    return t.f(
        "points.vs_article",
        gpu=article.gpu,
        ratio=ratio(base / other),
        base_ms=num(base, 0),
        other_ms=num(other, 0),
    )


def best_of_point(
    comparisons: list[Comparison], summary: pd.DataFrame, article: Article | None, t: Strings
) -> str | None:
    """The article's baseline at its best: the decode rate (tok/s) of a backend that improves on
    it (`Backend.improves_on`) against the article's other backend, both in the same scenario and
    level (like_for_like), with the ratio's 95 % CI, where the improving one was compared; None
    otherwise (or without the article's figures)."""
    if article is None:
        return None
    base, other = article.pair
    for best in improvements_of(base):
        if not any(best in (c.base, c.other) for c in comparisons):
            continue
        found = like_for_like(summary, best, other, "decode_tokens_per_s")
        if found is None:
            continue
        scenario, level, best_stats, other_stats = found
        return t.f(
            "points.best_of",
            base=base,
            best=best,
            other=other,
            best_value=num(best_stats.mean),
            other_value=num(other_stats.mean),
            ratio=ratio_of(best_stats, other_stats, t.unresolved_ratio),
            scenario=scenario + ("" if level is None else f", {t.columns.concurrency} {level}"),
        )
    return None


def energy_point(resources: pd.DataFrame, t: Strings) -> str | None:
    """Each backend's energy per output token (J, whole device) in one scenario (and level of a
    sweep): the one where most backends measured it, the first on a tie, named. Scenarios differ
    (a batch of 32 costs less a token than a loop), so figures of different ones compare unlike
    work. None where no run measured energy."""
    from ..analyze.tables import cost_rows

    measured = cost_rows(resources).dropna(subset=["energy_j_per_output_token"])
    if measured.empty:
        return None
    where = measured.assign(level=measured.concurrency.fillna(-1))
    counts = where.groupby(["scenario", "level"], sort=False)["backend"].nunique()
    scenario, level = counts.idxmax()
    chosen = where[(where.scenario == scenario) & (where.level == level)]
    several = chosen.model.nunique() > 1  # then each figure names its model too
    items = [
        t.f(
            "points.energy_item",
            backend=f"{r.backend} ({r.model})" if several else r.backend,
            value=num(r.energy_j_per_output_token, 3),
        )
        for r in chosen.sort_values(["model", "backend"]).itertuples()
    ]
    label = scenario + ("" if level < 0 else f", {t.columns.concurrency} {int(level)}")
    return t.f("points.energy", items=t.sentences.list_sep.join(items), scenario=label)
