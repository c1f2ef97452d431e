"""Figures for the report, drawn from summary.csv so they always match its numbers."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

PANELS = [("total_ms", "total time of one pass (ms)"), ("output_tokens_per_s", "output tokens / s")]


def plot_scenario(summary: pd.DataFrame, scenario: str, path: str) -> None:
    """Mean per model x backend with its 95 % CI as error bar; failed runs are labelled."""
    sns.set_theme(style="whitegrid")
    runs = summary[summary["scenario"] == scenario].copy()
    runs["run"] = runs["model"] + " · " + runs["backend"]
    labels = list(dict.fromkeys(runs["run"]))
    fig, axes = plt.subplots(
        1, len(PANELS), figsize=(5.5 * len(PANELS), 0.7 * len(labels) + 1.6), squeeze=False
    )
    for ax, (metric, title) in zip(axes[0], PANELS, strict=True):
        data = runs[runs["metric"] == metric].set_index("run").reindex(labels)
        means = data["mean"].fillna(0.0)
        sns.barplot(x=means.values, y=labels, ax=ax, orient="h", color=sns.color_palette()[0])
        errors = [
            [
                m - lo if not math.isnan(lo) else 0
                for m, lo in zip(data["mean"], data["ci95_low"], strict=True)
            ],
            [
                hi - m if not math.isnan(hi) else 0
                for m, hi in zip(data["mean"], data["ci95_high"], strict=True)
            ],
        ]
        ax.errorbar(means.values, range(len(labels)), xerr=errors, fmt="none", ecolor="black", capsize=4)
        for y, label in enumerate(labels):
            status = runs.loc[runs["run"] == label, "status"].iloc[0]
            if status != "ok":
                ax.text(0, y, f"  {status}", va="center", color="firebrick")
        ax.set_title(title)
        ax.set_xlabel(
            f"mean, 95 % CI ({data['unit'].dropna().iloc[0] if data['unit'].notna().any() else ''})"
        )
    fig.suptitle(f"scenario {scenario}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
