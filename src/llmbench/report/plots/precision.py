"""The precision trade-off in one picture: batch-1 decode rate against peak memory, one point per
run (floor and quantized), its 95 % CIs as bars, coloured by top-1 agreement, labelled by run."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from ..strings import Strings
from . import DPI, setup


def plot_precision(table: pd.DataFrame, path: str, t: Strings) -> None:
    """Draw `table` (llmbench.analyze.precision) to `path` (PNG); an empty table draws a note."""
    setup(t.language)
    fig, ax = plt.subplots(figsize=(8, 5))
    drawn = table.dropna(subset=["decode_tok_s", "memory_mib"])
    if drawn.empty:
        ax.text(0.5, 0.5, t.no_runs, ha="center", va="center", transform=ax.transAxes)
    else:
        xerr = [drawn.memory_mib - drawn.memory_ci95_low, drawn.memory_ci95_high - drawn.memory_mib]
        yerr = [drawn.decode_tok_s - drawn.decode_ci95_low, drawn.decode_ci95_high - drawn.decode_tok_s]
        ax.errorbar(
            drawn.memory_mib,
            drawn.decode_tok_s,
            xerr=_bars(xerr),
            yerr=_bars(yerr),
            fmt="none",
            ecolor="grey",
            elinewidth=1,
            capsize=3,
        )
        points = ax.scatter(
            drawn.memory_mib,
            drawn.decode_tok_s,
            c=drawn.top1,
            cmap="viridis_r",
            vmin=0,
            vmax=1,
            s=60,
            zorder=3,
        )
        for r in drawn.itertuples():
            label = r.runner if drawn.model.nunique() <= 1 else f"{r.model} · {r.runner}"
            ax.annotate(
                label, (r.memory_mib, r.decode_tok_s), textcoords="offset points", xytext=(6, 4), fontsize=8
            )
        fig.colorbar(points, ax=ax, label=t.precision.plot_quality)
    ax.set_xlabel(t.precision.plot_x)
    ax.set_ylabel(t.precision.plot_y)
    ax.set_title(t.precision.plot_title)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def _bars(errors: list) -> list:
    """Error bar lengths with missing CIs drawn as none."""
    return [e.fillna(0).clip(lower=0) for e in errors]
