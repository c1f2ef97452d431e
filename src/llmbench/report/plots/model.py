"""Per model: latency distributions, memory over time, and the resources figure."""

from __future__ import annotations

import unicodedata

import matplotlib.pyplot as plt
import matplotlib.ticker
import pandas as pd
import seaborn as sns

from ...analyze.summary import LevelId, run_level
from ...analyze.tables import clock_coarse, coarse_clock_runs, near_bound
from ...record import RunRecord
from ...record.placement import device_clock
from ..strings import Strings
from . import not_measured, save, setup

MIB = 2**20


def _latency_frame(records: list[RunRecord], coarse: set) -> pd.DataFrame:
    """Tidy latencies (backend, scenario, metric, ms); runs in `coarse` (their token clock too
    coarse for their TPOT) keep only e2e: their TTFT and inter-token gaps are clock artefacts."""
    rows = []
    for record in records:
        if record.measurement is None or record.scenario.kind.swept:
            continue  # sweeps have their own curve
        mark = " †" if device_clock(record.backend_info) else ""  # device times, as the tables mark them
        base = {"backend": record.key.runner + mark, "scenario": record.key.scenario}
        clocked = (record.key.model, record.key.runner, record.key.scenario) not in coarse
        for p in record.measurement.passes():
            for r in p.requests:
                if r.ttft_ms is not None and clocked:
                    rows.append({**base, "metric": "ttft_ms", "ms": r.ttft_ms})
                rows.append({**base, "metric": "e2e_ms", "ms": r.e2e_ms})
                rows += [{**base, "metric": "itl_ms", "ms": gap} for gap in r.itl_ms if clocked]
    return pd.DataFrame(rows, columns=["backend", "scenario", "metric", "ms"])


def plot_latency(records: list[RunRecord], summary: pd.DataFrame, path: str, t: Strings) -> None:
    """Distributions of TTFT, inter-token latency and end-to-end time, per scenario and backend.
    Runs whose token clock is too coarse for their TPOT (`coarse_clock_runs` of `summary`, the
    report's limits say the same) are left out of the TTFT and ITL panels, which name them."""
    setup(t.language)
    coarse = set(coarse_clock_runs(summary))
    data = _latency_frame(records, coarse)
    left_out = ", ".join(
        dict.fromkeys(f"{b}/{s}" for m, b, s in coarse if any(r.key.model == m for r in records))
    )
    panels = [("ttft_ms", t.plot.ttft), ("itl_ms", t.plot.itl), ("e2e_ms", t.plot.e2e)]
    scenarios = list(dict.fromkeys(data["scenario"])) or ["-"]
    # One colour per backend in every panel: a backend left out of TTFT and ITL would otherwise
    # hand its colour to the next one, which the shared legend then names wrongly.
    backends = list(dict.fromkeys(data["backend"]))
    palette = dict(zip(backends, sns.color_palette(n_colors=len(backends)) if backends else [], strict=True))
    fig, axes = plt.subplots(1, len(panels), figsize=(15, 0.8 * len(scenarios) + 2.2), squeeze=False)
    for ax, (metric, title) in zip(axes[0], panels, strict=True):
        subset = data[(data["metric"] == metric) & (data["ms"] > 0)]
        if not subset.empty:
            sns.boxplot(
                data=subset,
                x="ms",
                y="scenario",
                hue="backend",
                hue_order=[b for b in backends if b in set(subset["backend"])],
                palette=palette,
                ax=ax,
                log_scale=True,
                fliersize=1.5,
            )
            # Plain numbers (1000, not 10^3), at minor ticks only when the panel spans less
            # than a decade: mathtext labels at every minor tick overlapped.
            ax.xaxis.set_major_formatter(matplotlib.ticker.LogFormatter(labelOnlyBase=False))
            ax.xaxis.set_minor_formatter(
                matplotlib.ticker.LogFormatter(labelOnlyBase=False, minor_thresholds=(1, 0.4))
            )
            if ax.get_legend():
                ax.get_legend().remove()
        xlabel = t.plot.log_ms
        if left_out and metric != "e2e_ms":  # under the axis label, where it hides no box
            xlabel += "\n" + wrap_label(t.f("plot.clock_left_out", runs=left_out), LABEL_WIDTH)
        ax.set(title=title, xlabel=xlabel, ylabel="")
    # the panel naming the most backends: a backend left out of TTFT and ITL still has e2e
    handles, labels = max((ax.get_legend_handles_labels() for ax in axes[0]), key=lambda hl: len(hl[1]))
    if handles:  # one legend for the three panels, outside them so that no box hides under it
        fig.legend(handles, labels, title=t.plot.legend_backend, loc="upper left", bbox_to_anchor=(1.0, 0.95))
    save(fig, path)


LABEL_WIDTH = 56  # display columns under one of latency.png's three 5-inch panels


def wrap_label(text: str, width: int) -> str:
    """`text` broken at spaces into lines of at most `width` display columns (a CJK character
    takes two), so that a note under one panel does not run under the next; a word longer
    than `width` keeps a line of its own."""
    lines: list[str] = []
    for word in text.split(" "):
        if lines and _columns(lines[-1]) + 1 + _columns(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "\n".join(lines)


def _columns(text: str) -> int:
    """Display columns of `text`: two for wide and full-width characters, one otherwise."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


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
    kinds = {r.key.scenario: r.scenario.type if r.scenario else None for r in records}
    styles = scenario_styles({name: kinds[name] for name in scenarios})
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
        ax.plot(
            *zip(*points, strict=True), color=color, linestyle=style, linewidth=MEMORY_LINE_WIDTH, alpha=0.85
        )
        drawn["backend"].add(record.key.runner)
        drawn["scenario"].add(record.key.scenario)
        for event in ("load_end", "measure_start"):
            if event in resources.events_s:
                ax.axvline(resources.events_s[event], color=color, linestyle=":", linewidth=0.7, alpha=0.5)
    ax.set(xlabel=t.plot.time_axis, ylabel=t.plot.mib, title=quantity)
    if ax.lines:
        handles = [Line2D([], [], color=colors[b], label=b) for b in backends if b in drawn["backend"]]
        handles += [
            Line2D([], [], color="dimgray", linestyle=styles[s], linewidth=MEMORY_LINE_WIDTH, label=s)
            for s in scenarios
            if s in drawn["scenario"]
        ]
        ax.legend(
            handles=handles,
            fontsize=8,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            handlelength=LEGEND_LINE_LENGTH,
        )
    save(fig, path)


# memory.png's line dashes per scenario type (the keys of scenario_types.TYPES, a test holds them to
# it): on/off lengths in line widths, () solid; one period fits a legend entry (LEGEND_LINE_LENGTH). Here, not a field of ScenarioType: that table is code of every
# benchmark run, which a change there reruns. No entry ends in MORE_OF_A_TYPE, so that the dots a further
# scenario of one type adds (sweep-batch beside sweep) never make another type's pattern.
TYPE_DASHES: dict[str, tuple[float, ...]] = {
    "loop": (),
    "threads": (4.0, 1.5),
    "fixed": (2.0, 1.5),
    "sweep": (6.0, 1.5, 2.0, 1.5),
    "open-loop": (8.0, 3.0),
}
UNTYPED_DASHES = (1.5, 3.0)  # a record without its spec (it failed before one was made)
MORE_OF_A_TYPE = (1.0, 1.5)  # a dot per further scenario of one type, after the type's dashes
SOLID_AS_DASH = (12.0, 1.5)  # a solid type's dashes where dots follow (dots after a solid line are lost)
LEGEND_LINE_LENGTH = 4.0  # legend handle length, in font sizes: long enough to show a scenario's dashes
MEMORY_LINE_WIDTH = 1.2


def scenario_styles(kinds: dict[str, str | None]) -> dict[str, str | tuple]:
    """Per scenario (name -> its type, None when unknown), in order, its matplotlib line style: its
    type's TYPE_DASHES, and for the k-th further scenario of the same type k dots after them, so that no
    two scenarios share a style however many there are (four styles by turns gave loop's to sweep-batch).
    Raises KeyError for a type TYPE_DASHES lacks."""
    styles: dict[str, str | tuple] = {}
    seen: dict[str | None, int] = {}
    for name, kind in kinds.items():
        base = UNTYPED_DASHES if kind is None else TYPE_DASHES[kind]
        k = seen[kind] = seen.get(kind, -1) + 1
        dashes = base if k == 0 else (base or SOLID_AS_DASH) + MORE_OF_A_TYPE * k
        styles[name] = (0, dashes) if dashes else "-"
    return styles


MEMORY_LOG_SPREAD = 10.0


MEMORY_BARS = [
    "weights_mib",
    "rss_peak_mib",
    "gpu_process_after_warmup_mib",
    "gpu_process_peak_mib",
    "torch_max_allocated_mib",
]


def _levels(frame: pd.DataFrame) -> pd.Series:
    """Per row of a table with LEVEL_COLUMNS, its level as a label suffix: " (4)", " (0.5/s)" or ""."""
    texts = [LevelId.of_row(row).text() for _, row in frame.iterrows()]
    return pd.Series([f" ({x})" if x else "" for x in texts], index=frame.index, dtype=object)


def plot_resources(
    resources: pd.DataFrame, roofline: pd.DataFrame, model: str, path: str, t: Strings
) -> None:
    """Bars per run of one model: memory as NVML and torch each see it, energy per
    output token (per level of a sweep), and the fraction of the bandwidth bound reached at batch 1."""
    setup(t.language)
    fig, axes = plt.subplots(
        1, 3, figsize=(18, 0.4 * max(len(resources), 2) + 2.2), gridspec_kw={"wspace": 0.9}
    )
    label = resources["backend"] + " / " + resources["scenario"] + _levels(resources)
    runs = run_level(resources)
    memory = pd.DataFrame(
        [
            {"run": run, t.plot.legend_measure: t.plot.measures[m], "MiB": value}
            for run, (_, row) in zip(label[runs], resources[runs].iterrows(), strict=True)
            for m in MEMORY_BARS
            if not pd.isna(value := row[m])
        ]
    )
    if memory.empty:
        not_measured(axes[0], t.plot.memory_bars, t.plot.no_memory)
    else:
        # a log axis where the measures span more than a decade: 3 MiB of weights beside
        # 300 MiB of RSS was a bar nobody could see
        spread = memory["MiB"].max() / max(memory["MiB"].min(), 1e-9) > MEMORY_LOG_SPREAD
        sns.barplot(data=memory, x="MiB", y="run", hue=t.plot.legend_measure, orient="h", ax=axes[0])
        if spread:
            axes[0].set_xscale("log")
            axes[0].set_xlim(memory["MiB"].min() / 2, memory["MiB"].max() * 1.5)
        axes[0].set(title=t.plot.memory_bars, ylabel="", xlabel=t.plot.mib_log if spread else t.plot.mib)
        # beside the panel: inside it the legend hides the bars of the last runs
        axes[0].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
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
    _roofline_bars(axes[2], roofline, t)
    fig.suptitle(t.f("plot.resources_title", model=model))
    save(fig, path)


# How a roofline bar the report calls unreliable is drawn: hatch, and the legend entry and bar label
# (plot strings) that say why. A decode rate from a coarse clock is the stronger reason: it comes first.
UNRELIABLE_BARS = {
    "clock_coarse": ("xx", "plot.legend_clock_coarse", "plot.clock_coarse_bar"),
    "doubtful_bound": ("//", "plot.legend_doubtful_bound", "plot.doubtful_bound"),
}


def _unreliable(fractions: pd.DataFrame) -> list[str | None]:
    """Per roofline row, the UNRELIABLE_BARS key of why the report calls its bar unreliable, or None."""
    reasons = {"clock_coarse": clock_coarse(fractions), "doubtful_bound": near_bound(fractions)}
    return [next((k for k in UNRELIABLE_BARS if reasons[k].iloc[i]), None) for i in range(len(fractions))]


def _roofline_title(fractions: pd.DataFrame, t: Strings) -> str:
    """The panel's title, naming whose memory bounds its bars (column `bound_memory`: host or gpu)
    where they share one."""
    memories = set(fractions.get("bound_memory", pd.Series(dtype=object)).dropna()) - {""}
    return t.f(f"plot.roofline_bound.{memories.pop()}") if len(memories) == 1 else t.plot.roofline


def _roofline_bars(ax, roofline: pd.DataFrame, t: Strings) -> None:
    """Batch-1 decode as % of the bound of the memory named in the title. Bars the report calls
    unreliable (a decode rate from a token clock too coarse for it; at or past `NEAR_BOUND`, where the
    bound is doubtful) are grey and hatched, with a legend entry saying why, and left out of the axis
    length: one past it is cut at the axis end and labelled with its value, so one of 3,000 % no longer
    squeezes the others to slivers."""
    from matplotlib.patches import Patch

    fractions = roofline.dropna(subset=["fraction"])
    if fractions.empty:
        return not_measured(ax, t.plot.roofline, t.plot.roofline_missing)
    runs = list(fractions["backend"] + " / " + fractions["scenario"] + _levels(fractions))
    percent, why = list(100 * fractions["fraction"]), _unreliable(fractions)
    end = 1.25 * max([100.0, *(p for p, w in zip(percent, why, strict=True) if w is None)])
    color = sns.color_palette()[2]
    for y, (p, w) in enumerate(zip(percent, why, strict=True)):
        hatch = UNRELIABLE_BARS[w][0] if w else None
        ax.barh(y, min(p, end), color="lightgray" if w else color, hatch=hatch, edgecolor="dimgray")
        if w == "doubtful_bound" or (w and p > end):
            ax.text(0.02 * end, y, t.f(UNRELIABLE_BARS[w][2], pct=f"{p:,.0f}"), va="center", fontsize=8)
    ax.set_yticks(range(len(runs)), runs)
    ax.invert_yaxis()
    ax.set_xlim(0, end)
    ax.axvline(100, color="black", linewidth=0.8)
    ax.set(title=_roofline_title(fractions, t), ylabel="", xlabel=t.plot.percent)
    shown = [k for k in UNRELIABLE_BARS if k in why]
    if shown:  # under the panel: beside it the figure's right edge would cut it
        handles = [
            Patch(
                facecolor="lightgray",
                edgecolor="dimgray",
                hatch=UNRELIABLE_BARS[k][0],
                label=t.f(UNRELIABLE_BARS[k][1]),
            )
            for k in shown
        ]
        ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.08))
