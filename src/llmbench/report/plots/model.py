"""Per model: latency distributions, memory over time, and the resources figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import matplotlib.ticker
import pandas as pd
import seaborn as sns

from ...record import RunRecord
from ..strings import Strings
from . import not_measured, save, setup

MIB = 2**20


def _latency_frame(records: list[RunRecord]) -> pd.DataFrame:
    rows = []
    for record in records:
        if record.measurement is None or record.scenario.type == "sweep":
            continue  # sweeps have their own curve
        base = {"backend": record.key.runner, "scenario": record.key.scenario}
        for p in record.measurement.passes():
            for r in p.requests:
                if r.ttft_ms is not None:
                    rows.append({**base, "metric": "ttft_ms", "ms": r.ttft_ms})
                rows.append({**base, "metric": "e2e_ms", "ms": r.e2e_ms})
                rows += [{**base, "metric": "itl_ms", "ms": gap} for gap in r.itl_ms]
    return pd.DataFrame(rows, columns=["backend", "scenario", "metric", "ms"])


def plot_latency(records: list[RunRecord], path: str, t: Strings) -> None:
    """Distributions of TTFT, inter-token latency and end-to-end time, per scenario and backend."""
    setup(t.language)
    data = _latency_frame(records)
    panels = [("ttft_ms", t.plot.ttft), ("itl_ms", t.plot.itl), ("e2e_ms", t.plot.e2e)]
    scenarios = list(dict.fromkeys(data["scenario"])) or ["-"]
    fig, axes = plt.subplots(1, len(panels), figsize=(15, 0.8 * len(scenarios) + 2.2), squeeze=False)
    for ax, (metric, title) in zip(axes[0], panels, strict=True):
        subset = data[(data["metric"] == metric) & (data["ms"] > 0)]
        if not subset.empty:
            sns.boxplot(
                data=subset, x="ms", y="scenario", hue="backend", ax=ax, log_scale=True, fliersize=1.5
            )
            # Plain numbers (1000, not 10^3), at minor ticks only when the panel spans less
            # than a decade: mathtext labels at every minor tick overlapped.
            ax.xaxis.set_major_formatter(matplotlib.ticker.LogFormatter(labelOnlyBase=False))
            ax.xaxis.set_minor_formatter(
                matplotlib.ticker.LogFormatter(labelOnlyBase=False, minor_thresholds=(1, 0.4))
            )
            if ax.get_legend():
                ax.get_legend().remove()
        ax.set(title=title, xlabel=t.plot.log_ms, ylabel="")
    handles, labels = next(
        ((h, lb) for ax in axes[0] for h, lb in [ax.get_legend_handles_labels()] if h), ([], [])
    )
    if handles:  # one legend for the three panels, outside them so that no box hides under it
        fig.legend(handles, labels, title=t.plot.legend_backend, loc="upper left", bbox_to_anchor=(1.0, 0.95))
    save(fig, path)


def plot_memory(records: list[RunRecord], path: str, t: Strings) -> None:
    """Memory over time of each process: its GPU memory (NVML) where there is a GPU,
    its resident memory otherwise. Colour says the backend, line style the scenario (replicas
    share both); dotted lines mark loaded and measuring. One legend, outside the axes."""
    from matplotlib.lines import Line2D

    setup(t.language)
    fig, ax = plt.subplots(figsize=(11, 4.5))
    quantity = t.plot.memory_over_time_rss
    backends = list(dict.fromkeys(r.key.runner for r in records))
    scenarios = list(dict.fromkeys(r.key.scenario for r in records))
    colors = dict(zip(backends, sns.color_palette(n_colors=max(1, len(backends))), strict=True))
    styles = {name: STYLES[i % len(STYLES)] for i, name in enumerate(scenarios)}
    drawn: dict[str, set] = {"backend": set(), "scenario": set()}
    for record in records:
        resources = record.resources
        if resources is None:
            continue
        gpu = resources.samples.get("gpu_process_bytes") is not None and resources.peak_gpu_process_bytes
        values = resources.samples["gpu_process_bytes"] if gpu else resources.samples["rss_bytes"]
        quantity = t.plot.memory_over_time_gpu if gpu else quantity
        points = [
            (s, v / MIB) for s, v in zip(resources.samples["t_s"], values, strict=True) if v is not None
        ]
        if not points:
            continue
        color, style = colors[record.key.runner], styles[record.key.scenario]
        ax.plot(*zip(*points, strict=True), color=color, linestyle=style, linewidth=1.2, alpha=0.85)
        drawn["backend"].add(record.key.runner)
        drawn["scenario"].add(record.key.scenario)
        for event in ("load_end", "measure_start"):
            if event in resources.events_s:
                ax.axvline(resources.events_s[event], color=color, linestyle=":", linewidth=0.7, alpha=0.5)
    ax.set(xlabel=t.plot.time_axis, ylabel=t.plot.mib, title=quantity)
    if ax.lines:
        handles = [Line2D([], [], color=colors[b], label=b) for b in backends if b in drawn["backend"]]
        handles += [
            Line2D([], [], color="dimgray", linestyle=styles[s], label=s)
            for s in scenarios
            if s in drawn["scenario"]
        ]
        ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    save(fig, path)


STYLES = ["-", "--", "-.", (0, (5, 1, 1, 1, 1, 1))]


MEMORY_BARS = [
    "weights_mib",
    "rss_peak_mib",
    "gpu_process_after_warmup_mib",
    "gpu_process_peak_mib",
    "torch_max_allocated_mib",
]


def plot_resources(
    resources: pd.DataFrame, roofline: pd.DataFrame, model: str, path: str, t: Strings
) -> None:
    """Bars per run of one model: memory as NVML and torch each see it, energy per
    output token, and the fraction of the bandwidth bound reached at batch 1."""
    setup(t.language)
    fig, axes = plt.subplots(1, 3, figsize=(16, 0.4 * max(len(resources), 2) + 2.2))
    label = resources["backend"] + " / " + resources["scenario"]
    memory = pd.DataFrame(
        [
            {"run": run, t.plot.legend_measure: t.plot.measures[m], "MiB": value}
            for run, (_, row) in zip(label, resources.iterrows(), strict=True)
            for m in MEMORY_BARS
            if not pd.isna(value := row[m])
        ]
    )
    if memory.empty:
        not_measured(axes[0], t.plot.memory_bars, t.plot.no_memory)
    else:
        sns.barplot(data=memory, x="MiB", y="run", hue=t.plot.legend_measure, orient="h", ax=axes[0])
        axes[0].set(title=t.plot.memory_bars, ylabel="", xlabel=t.plot.mib)
        # below the panel: inside it the legend hides the bars of the last runs
        axes[0].legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=2)
    energy = resources.assign(run=label).dropna(subset=["energy_j_per_output_token"])
    if energy.empty:
        not_measured(axes[1], t.plot.energy, t.plot.energy_missing)
    else:
        sns.barplot(
            data=energy,
            x="energy_j_per_output_token",
            y="run",
            orient="h",
            ax=axes[1],
            color=sns.color_palette()[1],
        )
        axes[1].set(title=t.plot.energy, ylabel="", xlabel="J")
    fractions = roofline.dropna(subset=["fraction"])
    if fractions.empty:
        not_measured(axes[2], t.plot.roofline, t.plot.roofline_missing)
    else:
        level = fractions["concurrency"].map(lambda c: "" if pd.isna(c) else f" ({int(c)})")
        data = pd.DataFrame(
            {
                "run": fractions["backend"] + " / " + fractions["scenario"] + level,
                "percent": 100 * fractions["fraction"],
            }
        )
        sns.barplot(data=data, x="percent", y="run", orient="h", ax=axes[2], color=sns.color_palette()[2])
        axes[2].axvline(100, color="black", linewidth=0.8)
        axes[2].set(title=t.plot.roofline, ylabel="", xlabel=t.plot.percent)
    fig.suptitle(t.f("plot.resources_title", model=model))
    save(fig, path)
