"""Per scenario: bars of the means with 95 % CIs, or for a sweep the throughput curves."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import matplotlib.ticker
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D

from ...scenario_types import types_where
from ...stats import PASS_SPREAD_LIMIT, passes_disagree
from ..strings import Strings
from . import save, setup
from .rates import plot_rates


def _label(runs: pd.DataFrame) -> pd.Series:
    """The backend alone with one model; `model · backend` otherwise; marked † where its token stamps
    are device times (summary column `token_clock`), as in every table of the report."""
    backend = runs["backend"] + (runs["token_clock"] == "device").map({True: " †", False: ""})
    if runs["model"].nunique() <= 1:
        return backend
    return runs["model"] + " · " + backend


def plot_scenario(summary: pd.DataFrame, scenario: str, path: str, t: Strings) -> None:
    """Bars of the means with 95 % CIs (pass time, throughput); a sweep's curves instead."""
    setup(t.language)
    runs = summary[summary["scenario"] == scenario].copy()
    if runs["scenario_type"].isin(types_where(swept=True)).all():
        return plot_sweep(runs, scenario, path, t)
    if runs["rate_per_s"].notna().any():
        return plot_rates(runs, scenario, path, t)
    runs["run"] = _label(runs)
    labels = list(dict.fromkeys(runs["run"]))
    panels = [("total_ms", t.plot.pass_time), ("output_tokens_per_s", t.plot.throughput)]
    fig, axes = plt.subplots(
        1, len(panels), figsize=(5.5 * len(panels), 0.7 * len(labels) + 1.6), squeeze=False
    )
    clipped: list[str] = []
    for ax, (metric, title) in zip(axes[0], panels, strict=True):
        data = runs[runs["metric"] == metric].set_index("run").reindex(labels)
        means = data["mean"].fillna(0.0)
        sns.barplot(x=means.values, y=labels, ax=ax, orient="h", color=sns.color_palette()[0])
        # both panels are of quantities that cannot be negative: a summary from before their
        # log-scale intervals may hold a t interval below 0, so it is cut at 0 and the figure says so
        lows = [0.0 if math.isnan(lo) else max(lo, 0.0) for lo in data["ci95_low"]]
        clipped += [run for run, lo in zip(labels, data["ci95_low"], strict=True) if lo < 0]
        end = _axis_end(means, data["ci95_high"])
        highs = [
            m if math.isnan(hi) else min(hi, end) for m, hi in zip(means, data["ci95_high"], strict=True)
        ]
        low = [m - lo if not math.isnan(m) else 0 for m, lo in zip(data["mean"], lows, strict=True)]
        high = [hi - m for m, hi in zip(means, highs, strict=True)]
        ax.errorbar(means.values, range(len(labels)), xerr=[low, high], fmt="none", ecolor="black", capsize=4)
        _label_cut_whiskers(ax, data["ci95_high"], end)
        ax.set_xlim(0, end)
        for y, label in enumerate(labels):
            status = runs.loc[runs["run"] == label, "status"].iloc[0]
            if status not in ("ok", "partial"):
                ax.text(0, y, f"  {t.status[status]}", va="center", color="firebrick")
        ax.set(title=title, xlabel=t.plot.mean_ci, ylabel="")
    if clipped:
        fig.text(
            0.01, 0.0, t.f("plot.ci_clipped", runs=", ".join(dict.fromkeys(clipped))), va="top", fontsize=8
        )
    fig.suptitle(t.f("plot.scenario", scenario=scenario))
    save(fig, path)


# A 95 % CI over two or three noisy processes can end orders of magnitude past its mean (n = 2: a
# t quantile of 12.7 on the log scale); a panel ends this many times past its largest mean, and a
# whisker cut there is labelled with its end, so one interval no longer squeezes every bar.
AXIS_PAST_MEAN = 2.0


def _axis_end(means: pd.Series, highs: pd.Series) -> float:
    """Where a bar panel's axis ends: 5 % past its highest CI end, but at most AXIS_PAST_MEAN x its
    largest mean (1 where there is nothing to draw)."""
    top = max([float(means.max()) if len(means) else 0.0, *highs.dropna()])
    largest = float(means.max()) if len(means) else 0.0
    end = min(1.05 * top, AXIS_PAST_MEAN * largest) if largest > 0 else 1.05 * top
    return end if end > 0 else 1.0


def _label_cut_whiskers(ax, highs: pd.Series, end: float) -> None:
    """The upper end of each interval past `end`, written at the axis end: its whisker is cut there."""
    for y, high in enumerate(highs):
        if not math.isnan(high) and high > end:
            shown = f"{high:,.0f}" if high < 1e6 else f"{high:.1e}"
            ax.text(end, y, f"→ {shown}", ha="right", va="bottom", fontsize=8)


SPREAD_COLOR = "firebrick"  # _mark_spread's ring and bar, and their legend entries


def spread_handles(t: Strings) -> list[Line2D]:
    """The legend entries of _mark_spread's marks: the red ring (passes disagree, with the limit
    stats.PASS_SPREAD_LIMIT) and the red bar (the range of the level's passes)."""
    ring = t.f("plot.legend_passes_disagree", limit=f"{PASS_SPREAD_LIMIT:g}")
    return [
        Line2D([], [], linestyle="none", marker="o", mfc="none", mec=SPREAD_COLOR, ms=9, label=ring),
        Line2D([], [], color=SPREAD_COLOR, linewidth=1, label=t.plot.legend_pass_range),
    ]


def _mark_spread(ax, measured: pd.DataFrame, t: Strings) -> None:
    """Levels whose passes disagree (fastest > PASS_SPREAD_LIMIT x slowest): their passes' range drawn as
    a red bar and the point ringed in red, so no curve passes a bimodal level off as one figure; a
    legend under the panel says what ring and bar mean where any is drawn."""
    rows = measured[measured["metric"] == "output_tokens_per_s"]
    marked = False
    for row in rows.itertuples():
        if passes_disagree(row.min, row.max):
            ax.vlines(row.concurrency, row.min, row.max, colors=SPREAD_COLOR, linewidth=1)
            ax.plot(row.concurrency, row.mean, "o", mfc="none", mec=SPREAD_COLOR, ms=12)
            marked = True
    if marked:  # under the axis label: inside the panel it hid the tops of the bars
        ax.legend(handles=spread_handles(t), fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.25))


def plot_sweep(runs: pd.DataFrame, scenario: str, path: str, t: Strings) -> None:
    """Throughput against per-request latency, one line per backend (points labelled with
    their concurrency), and throughput against concurrency."""
    setup(t.language)
    runs = runs.assign(run=_label(runs))
    measured = runs[runs["concurrency"].notna()]
    index = ["run", "concurrency"]
    throughput = measured[measured["metric"] == "output_tokens_per_s"].set_index(index)["mean"]
    latency = measured[measured["metric"] == "e2e_ms"].set_index(index)["mean"]
    curve = pd.DataFrame({"throughput": throughput, "latency_ms": latency}).reset_index().dropna()
    curve["concurrency"] = curve["concurrency"].astype(int)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    if not curve.empty:
        sns.lineplot(data=curve, x="latency_ms", y="throughput", hue="run", marker="o", sort=False, ax=left)
        for row in curve.itertuples():
            left.annotate(
                str(row.concurrency),
                (row.latency_ms, row.throughput),
                textcoords="offset points",
                xytext=(4, 4),
                fontsize=8,
            )
        sns.lineplot(
            data=curve, x="concurrency", y="throughput", hue="run", marker="o", ax=right, legend=False
        )
        _mark_spread(right, measured, t)
        right.set_xscale("log", base=2)
        right.set_xticks(sorted(curve["concurrency"].unique()))
        right.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        if left.get_legend():
            left.get_legend().set_title(t.plot.legend_backend)
    failed = sorted(set(runs.loc[runs["status"] == "failed", "run"]))
    if failed:
        left.text(
            0.01, 0.01, f"{t.plot.failed}: " + ", ".join(failed), transform=left.transAxes, color="firebrick"
        )
    left.set(xlabel=t.plot.latency_axis, ylabel=t.plot.throughput, title=t.plot.latency_throughput)
    right.set(xlabel=t.plot.concurrency_axis, ylabel=t.plot.throughput, title=t.plot.throughput_concurrency)
    fig.suptitle(t.f("plot.scenario", scenario=scenario))
    save(fig, path)
