"""Figures for the report, drawn from summary.csv so they always match its numbers."""

from __future__ import annotations

import math

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

PANELS = [("total_ms", "total time of one pass (ms)"), ("output_tokens_per_s", "output tokens / s")]


def plot_scenario(summary: pd.DataFrame, scenario: str, path: str) -> None:
    """Bars of the means with 95 % CIs; for a sweep, the throughput-latency curve."""
    sns.set_theme(style="whitegrid")
    runs = summary[summary["scenario"] == scenario].copy()
    if (runs["scenario_type"] == "sweep").all():
        return plot_sweep(runs, scenario, path)
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


def plot_sweep(runs: pd.DataFrame, scenario: str, path: str) -> None:
    """Throughput against per-request latency, one line per model x backend, points
    labelled with their concurrency; and throughput against concurrency."""
    runs = runs.assign(run=runs["model"] + " · " + runs["backend"])
    measured = runs[runs["concurrency"].notna()]
    throughput = measured[measured["metric"] == "output_tokens_per_s"].set_index(["run", "concurrency"])[
        "mean"
    ]
    latency = measured[measured["metric"] == "e2e_ms"].set_index(["run", "concurrency"])["mean"]
    curve = pd.DataFrame({"throughput": throughput, "latency_ms": latency}).reset_index()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    if not curve.empty:
        sns.lineplot(data=curve, x="latency_ms", y="throughput", hue="run", marker="o", sort=False, ax=left)
        for row in curve.itertuples():
            left.annotate(f"{int(row.concurrency)}", (row.latency_ms, row.throughput), textcoords="offset points",
                          xytext=(4, 4), fontsize=8)  # fmt: skip
        sns.lineplot(
            data=curve, x="concurrency", y="throughput", hue="run", marker="o", ax=right, legend=False
        )
        right.set_xscale("log", base=2)
        right.set_xticks(sorted(curve["concurrency"].unique()))
        right.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    failed = sorted(set(runs.loc[runs["status"] == "failed", "run"]))
    if failed:
        left.text(0.01, 0.01, "failed: " + ", ".join(failed), transform=left.transAxes, color="firebrick")
    left.set(xlabel="mean end-to-end latency per request (ms)", ylabel="output tokens / s",
             title="throughput vs latency (labels: concurrency)")  # fmt: skip
    right.set(xlabel="concurrent requests", ylabel="output tokens / s", title="throughput vs concurrency")
    fig.suptitle(f"scenario {scenario}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


LATENCY_METRICS = [("ttft_ms", "time to first token (ms)"), ("itl_ms", "inter-token latency (ms)"),
                   ("e2e_ms", "end-to-end per request (ms)")]  # fmt: skip


def _latency_frame(results: list[dict]) -> pd.DataFrame:
    rows = []
    for result in results:
        if result.get("status") == "failed" or "repetitions" not in result.get("measurement", {}):
            continue  # sweeps have their own curve
        spec = result["spec"]
        for repetition in result["measurement"]["repetitions"]:
            for request in repetition["requests"]:
                base = {"backend": spec["backend"], "scenario": spec["scenario_name"]}
                rows.append({**base, "metric": "ttft_ms", "ms": request["ttft_ms"]})
                rows.append({**base, "metric": "e2e_ms", "ms": request["e2e_ms"]})
                rows += [{**base, "metric": "itl_ms", "ms": gap} for gap in request["itl_ms"]]
    return pd.DataFrame(rows, columns=["backend", "scenario", "metric", "ms"])


def plot_latency(results: list[dict], path: str) -> None:
    """Distributions of TTFT, inter-token latency and end-to-end time, per scenario and backend."""
    sns.set_theme(style="whitegrid")
    data = _latency_frame(results)
    scenarios = list(dict.fromkeys(data["scenario"])) or ["-"]
    fig, axes = plt.subplots(1, len(LATENCY_METRICS), figsize=(15, 0.8 * len(scenarios) + 2.2), squeeze=False)
    for ax, (metric, title) in zip(axes[0], LATENCY_METRICS, strict=True):
        subset = data[data["metric"] == metric]
        if not subset.empty:
            sns.boxplot(
                data=subset, x="ms", y="scenario", hue="backend", ax=ax, log_scale=True, fliersize=1.5
            )
        ax.set(title=title, xlabel="ms (log scale)", ylabel="")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_memory(results: list[dict], path: str) -> None:
    """Memory over time of each run, from the sampler: the process's GPU memory (NVML)
    where there is a GPU, its resident memory otherwise; dotted lines mark the end
    of loading and the start of measurement."""
    sns.set_theme(style="whitegrid")
    fig, ax = plt.subplots(figsize=(11, 4.5))
    quantity = "resident memory (RSS)"
    palette = iter(sns.color_palette(n_colors=max(1, len(results))))
    for result in results:
        resources = result.get("resources")
        if not resources:
            continue
        samples = resources["samples"]
        gpu = samples.get("gpu_process_bytes") is not None and resources["peak"].get("gpu_process_bytes")
        values = samples["gpu_process_bytes"] if gpu else samples["rss_bytes"]
        quantity = "GPU memory of the process (NVML)" if gpu else quantity
        points = [(t, v / 2**20) for t, v in zip(samples["t_s"], values, strict=True) if v is not None]
        if not points:
            continue
        color = next(palette)
        ax.plot(*zip(*points, strict=True), label=result["run"], color=color, linewidth=1.2)
        for event in ("load_end", "measure_start"):
            if event in resources["events_s"]:
                ax.axvline(resources["events_s"][event], color=color, linestyle=":", linewidth=0.8)
    ax.set(xlabel="seconds since the run started (dotted: loaded, measuring)", ylabel="MiB", title=quantity)
    if ax.lines:
        ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


MEMORY_BARS = [("rss_peak_mib", "process RSS peak (host)"), ("gpu_process_after_warmup_mib", "NVML process, after warmup"),
               ("gpu_process_peak_mib", "NVML process, peak"), ("torch_max_allocated_mib", "torch max allocated")]  # fmt: skip


def _not_measured(ax, title: str, why: str) -> None:
    ax.set(title=title, xticks=[], yticks=[])
    ax.text(0.5, 0.5, why, ha="center", va="center", transform=ax.transAxes, color="dimgray", wrap=True)


def _backend_scenario(run: str) -> str:
    return run.split("/", 1)[1]  # the figure is per model: drop the model from labels


def plot_resources(resource_rows: list[dict], roofline_rows: list[dict], model: str, path: str) -> None:
    """Bars per run of one model: memory as NVML and torch each see it, energy per
    output token, and the fraction of the bandwidth bound reached at batch 1."""
    sns.set_theme(style="whitegrid")
    fig, axes = plt.subplots(1, 3, figsize=(16, 0.4 * max(len(resource_rows), 2) + 1.8))
    memory = pd.DataFrame(
        [{"run": _backend_scenario(row["run"]), "measure": label, "MiB": row[metric]}
         for row in resource_rows for metric, label in MEMORY_BARS if row.get(metric) is not None]
    )  # fmt: skip
    if memory.empty:
        _not_measured(axes[0], "memory (MiB)", "no memory figures")
    else:
        sns.barplot(data=memory, x="MiB", y="run", hue="measure", orient="h", ax=axes[0])
        axes[0].set(title="memory (MiB); torch sees nothing of FastLLM", ylabel="")
        # below the panel: inside it the legend hides the bars of the last runs
        axes[0].legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2)
    energy = pd.DataFrame(
        [{"run": _backend_scenario(row["run"]), "J": row["energy_j_per_output_token"]}
         for row in resource_rows if row.get("energy_j_per_output_token") is not None]
    )  # fmt: skip
    if energy.empty:
        _not_measured(axes[1], "energy per output token (J)", "not measured\n(no GPU energy counter)")
    else:
        sns.barplot(data=energy, x="J", y="run", orient="h", ax=axes[1], color=sns.color_palette()[1])
        axes[1].set(title="energy per output token (J, whole device)", ylabel="")
    if roofline_rows:
        fractions = pd.DataFrame(
            [{"run": _backend_scenario(r["run"]), "percent": 100 * r["fraction"]} for r in roofline_rows]
        )
        sns.barplot(
            data=fractions, x="percent", y="run", orient="h", ax=axes[2], color=sns.color_palette()[2]
        )
        axes[2].axvline(100, color="black", linewidth=0.8)
        axes[2].set(title="batch-1 decode, % of the bandwidth bound", ylabel="", xlabel="%")
    else:
        _not_measured(axes[2], "batch-1 decode, % of the bandwidth bound", "no batch-1 decode run")
    fig.suptitle(f"model {model}: resources per backend / scenario")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
