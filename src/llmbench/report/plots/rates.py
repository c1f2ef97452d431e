"""An open-loop rate sweep: what was completed against what was sent, and latency percentiles against rate."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from ..strings import Strings
from . import save, setup


def plot_rates(runs: pd.DataFrame, scenario: str, path: str, t: Strings) -> None:
    """Left: completed requests/s against the intended rate, one line per backend, the diagonal where the
    engine keeps up. Right: TTFT and TPOT p50 and p90 against the intended rate (ms, log scale)."""
    setup(t.language)
    label = runs["backend"] if runs["model"].nunique() <= 1 else runs["model"] + " · " + runs["backend"]
    measured = runs.assign(run=label)[runs["rate_per_s"].notna()]
    done = measured[measured["metric"] == "requests_per_s"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    if not done.empty:
        sns.lineplot(data=done, x="rate_per_s", y="mean", hue="run", marker="o", ax=left)
        top = float(done["rate_per_s"].max())
        left.plot([0, top], [0, top], color="grey", linestyle=":", label=t.plot.rates_intended)
        left.legend(title=t.plot.legend_backend)
    rows = []
    for metric in ("ttft_ms", "tpot_ms"):
        for q in ("p50", "p90"):
            part = measured[measured["metric"] == metric]
            rows.append(
                part.assign(value=part[q], curve=part["run"] + f" {metric.split('_')[0].upper()} {q}")
            )
    latency = pd.concat(rows).dropna(subset=["value"]) if rows else pd.DataFrame()
    if not latency.empty:
        sns.lineplot(data=latency, x="rate_per_s", y="value", hue="curve", marker="o", ax=right)
        right.set_yscale("log")
        right.legend(fontsize=7)
    left.set(xlabel=t.plot.rate_axis, ylabel=t.plot.rates_done, title=t.plot.rates_throughput)
    right.set(xlabel=t.plot.rate_axis, ylabel="ms", title=t.plot.rates_latency)
    fig.suptitle(t.f("plot.scenario", scenario=scenario))
    save(fig, path)
