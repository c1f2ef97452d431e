"""The report: data gathered from results, sentences that follow the numbers,
rendered to Markdown with Jinja and to one self-contained HTML file."""

from __future__ import annotations

import base64
import datetime as dt
import math
import re
import shlex
from itertools import combinations
from pathlib import Path

import jinja2
import markdown as markdown_lib
import pandas as pd
from scipy import stats as scipy_stats

from .agreement import verdicts
from .io import read_json
from .metrics import resource_rows, samples
from .roofline import roofline_rows

SIGNIFICANCE = 0.05

STRINGS = {
    "zh": {
        "environment": "环境信息",
        "models": "模型",
        "method": "测试方法",
        "results": "测试结果",
        "analysis": "分析",
        "loop": "For循环时间测试",
        "threads": "多并发测试",
        "resources": "资源占用测试",
        "summary": "总结和不足",
        "failures": "失败的运行",
        "reproduce": "复现命令",
        "no_runs": "本节没有对应场景的运行。",
        "faster": "{fast} 比 {slow} 快 {ratio:.2f} 倍（{metric} 均值 {fast_ms:.1f} ms 对 {slow_ms:.1f} ms，"
        "Welch t 检验 p = {p}，{verdict}）。",
        "significant": "差异显著",
        "not_significant": "差异不显著，不能据此判断谁更快",
        "untestable": "重复次数不足，无法检验",
        "only_one": "只有 {backend} 成功运行，无从比较。",
        "limit_synthetic": "模型 {model} 为随机权重（预设 {preset}）：输出文本没有意义，但计算量与真实模型相同，时间有效。",
        "limit_cpu": "运行 {run} 在 CPU 上完成：数字不能代表 GPU 上的表现。",
        "limit_failed": "运行 {run} 失败：{reason}",
        "limit_invalid": "运行 {run} 无效（输出长度与要求不符）：{reason}",
        "limit_gpu_memory": "本次运行没有 GPU（{reason}）：NVML 显存与能耗不可用，资源占用只报告进程内存（RSS）。",
        "memory_intro": "torch.cuda.memory_allocated() 只看得到 torch 自己分配的显存，FastLLM 用自己的分配器，"
        "因此文章中 FastLLM 显示 0.0 MB。这里用 NVML 按进程读取显存（每 {period} 秒采样，从加载模型前到结束），"
        "对所有后端都有效；“预热后”约等于权重（FastLLM 在第一次推理时才把权重搬上 GPU，所以它“加载后”的数字很小），峰值减去预热后是运行时（KV cache、激活）的占用。单位 MiB。",
        "sweep": "**{run}**：并发从 {low} 到 {high}，吞吐从 {t_low:,.1f} 升到 {t_high:,.1f} tok/s（{ratio:.2f} 倍），每个请求的端到端延迟从 {l_low:,.1f} 变为 {l_high:,.1f} ms",
        "saturates": "；并发 {level} 时吞吐已达峰值的 90 %，在此饱和。",
        "still_rising": "；到并发 {level} 吞吐仍在增长，未饱和。",
        "roofline_title": "带宽上限（roofline）",
        "roofline_intro": "批大小为 1 时，每生成一个 token 都要把全部权重读一遍，所以解码速度不可能超过 带宽 ÷ 权重字节数。本机 {name} 实测复制带宽 {gbs:,.0f} GB/s（{device}）。比例越接近 100 %，后端越接近硬件极限。",
        "roofline_cached": "有运行超过 100 %（{runs}）：这个上限对它们不适用——要么权重小到能留在 CPU 缓存里、不必每个 token 从内存重读，要么 token 快过了计时分辨率（见“总结和不足”）。",
        "correctness": "正确性：贪心输出一致性",
        "sentence_gap": "",
        "agree": "{backend} 在 {model} / {scenario} 上计算正确：{forced:.1%} 的输出 token 正是 {dtype} 参考模型在同一前缀下的 argmax（与 argmax 的最大差距 {gap:.3f} logit）。",
        "diverged": "它与 {reference} 的输出有 {identical}/{queries} 条完全相同，最早在第 {earliest} 个 token 分歧；分歧处与 argmax 的差距都很小（见上），是舍入误差翻转了近乎平局的 token，而不是算错。",
        "disagree": "{backend} 在 {model} / {scenario} 上**计算有误**：只有 {forced:.1%} 的输出 token 是 {dtype} 参考模型在同一前缀下的 argmax（阈值 {threshold:.0%}），与 argmax 的最大差距 {gap:.2f} logit。它的速度不是同一个计算的速度。",
        "limit_flags": "运行 {run} 的有效性存疑：{flags}",
        "limit_energy": "能耗不可用：{reason}",
        "limit_remote_code": "运行 {run} 执行了模型检查点自带的 Python 代码（trust_remote_code，由配置明确开启）。",
        "limit_clock": "这些运行每个 token 的用时不到其 token 时钟分辨率（{resolution} ms）的两倍：{runs}。几个 token 会在同一次轮询中一起被记录，TTFT 偏大、TPOT/ITL 偏小（端到端时间和 tokens/s 不受影响），带宽上限的比例也因此可能超过 100 %。",
        "reference_title": "与参考结果对比",
        "reference_intro": "参考结果：`{path}`（{device}）。比值 = 本次 ÷ 参考；p 为 Welch t 检验（按各自的重复次数、均值和标准差）。只列两边都成功运行的相同模型、后端、场景和并发。",
        "reference_none": "参考结果中没有与本次相同的运行（模型、后端、场景、并发都相同）。",
        "memory_columns": [
            "运行",
            "进程峰值 RSS",
            "NVML 进程显存（加载后）",
            "NVML 进程显存（预热后）",
            "NVML 进程显存峰值",
            "NVML 整卡已用峰值",
            "torch 已分配峰值",
            "torch 保留峰值",
            "能耗 J/token",
        ],
    },
    "en": {
        "environment": "Environment",
        "models": "Models",
        "method": "How it was measured",
        "results": "Results",
        "analysis": "Analysis",
        "loop": "For-loop timing",
        "threads": "Concurrency",
        "resources": "Resource usage",
        "summary": "Summary and limitations",
        "failures": "Failed runs",
        "reproduce": "Reproduce",
        "no_runs": "No run of this kind of scenario.",
        "faster": "{fast} was {ratio:.2f}x faster than {slow} (mean {metric} {fast_ms:.1f} ms vs {slow_ms:.1f} ms, "
        "Welch t-test p = {p}, {verdict}).",
        "significant": "a significant difference",
        "not_significant": "not significant: this does not show which is faster",
        "untestable": "too few repetitions to test",
        "only_one": "Only {backend} ran successfully; nothing to compare.",
        "limit_synthetic": "Model {model} has random weights (preset {preset}): its text is meaningless, "
        "but it does the same arithmetic as a real model, so timings are valid.",
        "limit_cpu": "Run {run} ran on the CPU: its numbers say nothing about a GPU.",
        "limit_failed": "Run {run} failed: {reason}",
        "limit_invalid": "Run {run} is invalid (output lengths differ from what was asked): {reason}",
        "limit_gpu_memory": "No GPU in this run ({reason}): NVML memory and energy are unavailable; only process "
        "memory (RSS) is reported.",
        "memory_intro": "torch.cuda.memory_allocated() sees only what torch allocated; FastLLM has its own "
        "allocator, which is why the article showed 0.0 MB for it. Here NVML reads each process's GPU memory "
        "(sampled every {period} s from before the model loads to the end), which works for every backend; "
        "'after warmup' is roughly the weights (FastLLM moves its weights to the GPU on the first request, so its 'after load' is small), peak minus after-warmup is runtime memory (KV cache, activations). In MiB.",
        "sweep": "**{run}**: from concurrency {low} to {high}, throughput rose from {t_low:,.1f} to {t_high:,.1f} tok/s ({ratio:.2f}x) while each request's end-to-end latency went from {l_low:,.1f} to {l_high:,.1f} ms",
        "saturates": "; at concurrency {level} it already reaches 90 % of its peak: it saturates there.",
        "still_rising": "; throughput is still rising at concurrency {level}: not saturated.",
        "roofline_title": "Bandwidth roofline",
        "roofline_intro": "At batch size 1 every output token reads all weights once, so decoding can never beat bandwidth / weight bytes. Measured copy bandwidth of {name} here: {gbs:,.0f} GB/s ({device}). The closer the fraction to 100 %, the closer the backend runs to the hardware's limit.",
        "roofline_cached": "Some runs exceed 100 % ({runs}): the bound does not apply to them — either the weights are small enough to stay in the CPU's caches instead of being read from memory for each token, or tokens came faster than the clock that stamps them (see the limitations).",
        "correctness": "Correctness: greedy agreement",
        "sentence_gap": " ",
        "agree": "{backend} computes {model} correctly in {scenario}: {forced:.1%} of its output tokens are the {dtype} reference model's argmax given the same prefix (largest gap to the argmax {gap:.3f} logits).",
        "diverged": "Its outputs match {reference}'s in {identical}/{queries} queries, first diverging at token {earliest}; at every miss its token trails the argmax by a small gap (above): rounding flipped near-ties rather than a wrong computation.",
        "disagree": "{backend} computes {model} **wrongly** in {scenario}: only {forced:.1%} of its output tokens are the {dtype} reference model's argmax given the same prefix (threshold {threshold:.0%}; largest gap {gap:.2f} logits). Its speed is not the speed of the same computation.",
        "limit_flags": "Run {run} is doubtful: {flags}",
        "limit_energy": "Energy unavailable: {reason}",
        "limit_remote_code": "Run {run} executed the checkpoint's own Python code (trust_remote_code, switched on explicitly in the config).",
        "limit_clock": "These runs make a token in less than twice their token clock's resolution ({resolution} ms): {runs}. Several tokens are stamped by one poll, so TTFT reads high and TPOT/ITL low (end-to-end times and tokens/s are unaffected), which can also push its roofline fraction past 100 %.",
        "reference_title": "Compared with reference results",
        "reference_intro": "Reference: `{path}` ({device}). Ratio = this run / reference; p from Welch's t-test on each side's repetitions (n, mean, std). Only runs of the same model, backend, scenario and concurrency that succeeded on both sides are listed.",
        "reference_none": "The reference has no run of the same model, backend, scenario and concurrency as this one.",
        "memory_columns": [
            "run",
            "peak RSS",
            "NVML process GPU memory (after load)",
            "NVML process GPU memory (after warmup)",
            "NVML process GPU peak",
            "NVML device used peak",
            "torch max allocated",
            "torch max reserved",
            "energy J/token",
        ],
    },
}


def _fmt_p(p: float) -> str:
    return "n/a" if math.isnan(p) else (f"{p:.2g}" if p >= 0.001 else "< 0.001")


def compare(name_a: str, totals_a: list[float], name_b: str, totals_b: list[float], t: dict) -> str:
    """One sentence comparing two backends' pass times, decided by the data."""
    mean_a, mean_b = sum(totals_a) / len(totals_a), sum(totals_b) / len(totals_b)
    (fast, fast_ms), (slow, slow_ms) = sorted([(name_a, mean_a), (name_b, mean_b)], key=lambda x: x[1])
    if min(len(totals_a), len(totals_b)) < 2:
        p, verdict = math.nan, t["untestable"]
    else:
        p = float(scipy_stats.ttest_ind(totals_a, totals_b, equal_var=False).pvalue)
        verdict = t["significant"] if p < SIGNIFICANCE else t["not_significant"]
    return t["faster"].format(
        fast=fast,
        slow=slow,
        ratio=slow_ms / fast_ms,
        metric="total_ms",
        fast_ms=fast_ms,
        slow_ms=slow_ms,
        p=_fmt_p(p),
        verdict=verdict,
    )


def _analysis(runs: list[dict], scenario_type: str, t: dict) -> list[str]:
    """Sentences for every (model, scenario) of a type: each pair of backends compared."""
    sentences = []
    groups: dict[tuple[str, str], dict[str, list[float]]] = {}
    for result in runs:
        spec = result["spec"]
        if spec["scenario"]["type"] != scenario_type:
            continue
        group = groups.setdefault((spec["model"], spec["scenario_name"]), {})
        if result["status"] == "ok":
            group[spec["backend"]] = samples(result)["total_ms"]
    for (model, scenario), totals in sorted(groups.items()):
        prefix = f"**{model} / {scenario}**: "
        if len(totals) < 2:
            names = ", ".join(totals) or "-"
            sentences.append(prefix + t["only_one"].format(backend=names))
        for a, b in combinations(sorted(totals), 2):
            sentences.append(prefix + compare(a, totals[a], b, totals[b], t))
    return sentences


def _sweep_analysis(summary: pd.DataFrame, t: dict) -> list[str]:
    """Per sweep run: how throughput and latency grow with concurrency, and where gains stop."""
    sentences = []
    sweeps = summary[(summary["scenario_type"] == "sweep") & (summary["status"] != "failed")]
    for (model, scenario, backend), group in sweeps.groupby(["model", "scenario", "backend"], sort=False):
        levels = group[group["concurrency"].notna()]
        throughput = (
            levels[levels.metric == "output_tokens_per_s"].set_index("concurrency")["mean"].sort_index()
        )
        latency = levels[levels.metric == "e2e_ms"].set_index("concurrency")["mean"].sort_index()
        if throughput.empty:
            continue
        # Saturated: the first level within 10 % of the peak, unless that is the last level.
        saturation = int(throughput[throughput >= 0.9 * throughput.max()].index[0])
        if saturation == throughput.index[-1]:
            saturation = None
        first, peak = throughput.index[0], throughput.idxmax()
        sentences.append(
            t["sweep"].format(
                run=f"{model} / {scenario} / {backend}", low=int(first), high=int(peak),
                t_low=throughput[first], t_high=throughput[peak], ratio=throughput[peak] / throughput[first],
                l_low=latency.get(first, math.nan), l_high=latency.get(peak, math.nan),
            )
            + (t["saturates"].format(level=saturation) if saturation else t["still_rising"].format(level=int(throughput.index[-1])))
        )  # fmt: skip
    return sentences


REFERENCE_METRICS = ["output_tokens_per_s", "tpot_ms", "ttft_ms", "e2e_ms"]
REFERENCE_KEYS = ["model", "backend", "scenario", "concurrency", "metric"]


def reference_rows(summary: pd.DataFrame, reference: pd.DataFrame) -> list[dict]:
    """This run's headline metrics next to the same runs' in an earlier results set."""
    columns = REFERENCE_KEYS + ["n", "mean", "std", "ci95_low", "ci95_high"]

    def usable(frame: pd.DataFrame) -> pd.DataFrame:
        ok = frame[(frame["status"] == "ok") & frame["metric"].isin(REFERENCE_METRICS)]
        return ok[columns].fillna({"concurrency": 0})

    both = usable(summary).merge(usable(reference), on=REFERENCE_KEYS, suffixes=("", "_ref"))
    rows = []
    for row in both.to_dict("records"):
        if min(row["n"], row["n_ref"]) >= 2 and not (math.isnan(row["std"]) or math.isnan(row["std_ref"])):
            p = float(scipy_stats.ttest_ind_from_stats(row["mean"], row["std"], row["n"], row["mean_ref"],
                                                       row["std_ref"], row["n_ref"], equal_var=False).pvalue)  # fmt: skip
        else:
            p = math.nan
        this = {k: row[k] for k in ("mean", "ci95_low", "ci95_high")}
        ref = {k: row[f"{k}_ref"] for k in ("mean", "ci95_low", "ci95_high")}
        rows.append({**{k: row[k] for k in REFERENCE_KEYS}, "this": this, "reference": ref,
                     "ratio": row["mean"] / row["mean_ref"] if row["mean_ref"] else math.nan, "p": _fmt_p(p)})  # fmt: skip
        rows[-1]["concurrency"] = int(row["concurrency"]) or None
    return rows


def describe_reference(folder: Path) -> str:
    """The reference's device, from the provenance of its first run record."""
    for path in sorted(folder.glob("runs/**/*.json")):
        provenance = read_json(path).get("provenance") or {}
        gpus = provenance.get("gpus") or []
        return ", ".join(gpu["name"] for gpu in gpus) or provenance.get("cpu") or "cpu"
    return "device unknown"


def _plot_sections(plots: list[str], scenario_types: dict[str, str]) -> dict[str, list[str]]:
    """Which analysis section shows which figure."""
    sections: dict[str, list[str]] = {"loop": [], "threads": [], "latency": [], "resources": []}
    for plot in plots:
        name = Path(plot).stem
        if name in scenario_types:
            sections["loop" if scenario_types[name] in ("loop", "fixed") else "threads"].append(plot)
        else:
            sections["latency" if name == "latency" else "resources"].append(plot)
    return sections


def _roofline_intro(rows: list[dict], bandwidth: dict, t: dict) -> str:
    intro = t["roofline_intro"].format(
        name=bandwidth["name"], gbs=bandwidth["bytes_per_s"] / 1e9, device=bandwidth["device"]
    )
    above = [row["run"] for row in rows if row["fraction"] > 1]
    return intro + (" " + t["roofline_cached"].format(runs=", ".join(above)) if above else "")


def _clock_limits(summary: pd.DataFrame, runs: list[dict], t: dict) -> list[str]:
    """Runs whose tokens come faster than their backend can stamp them."""
    resolution = {
        r["run"]: r["backend_info"]["token_clock_resolution_ms"]
        for r in runs
        if (r.get("backend_info") or {}).get("token_clock_resolution_ms")
    }
    tpot = summary[(summary.metric == "tpot_ms") & (summary.status != "failed")]
    fastest = tpot.groupby(["model", "backend", "scenario"], sort=False)["mean"].min()
    too_fast: dict[float, list[str]] = {}
    for (model, backend, scenario), value in fastest.items():
        run = f"{model}/{backend}/{scenario}"
        if run in resolution and value < 2 * resolution[run]:
            too_fast.setdefault(resolution[run], []).append(f"{run} ({value:.3f} ms)")
    return [t["limit_clock"].format(resolution=r, runs=", ".join(names)) for r, names in too_fast.items()]


def _limitations(runs: list[dict], manifests: dict[str, dict], t: dict) -> list[str]:
    notes = [
        t["limit_synthetic"].format(model=name, preset=m["source"].get("preset"))
        for name, m in manifests.items()
        if m["source"]["source"] == "synthetic"
    ]
    for result in runs:
        if result["status"] == "failed":
            notes.append(t["limit_failed"].format(run=result["run"], reason=result["reason"]))
        elif result["status"] == "invalid":
            reasons = "; ".join(result["measurement"]["invalid_reasons"][:3])
            notes.append(t["limit_invalid"].format(run=result["run"], reason=reasons))
        if result.get("validity", {}).get("flags"):
            notes.append(
                t["limit_flags"].format(run=result["run"], flags="; ".join(result["validity"]["flags"]))
            )
    notes += [
        t["limit_remote_code"].format(run=r["run"])
        for r in runs
        if (r.get("backend_info") or {}).get("trust_remote_code")
    ]
    cpu_runs = [r["run"] for r in runs if r.get("device") == "cpu"]
    if cpu_runs:
        notes.append(t["limit_cpu"].format(run=", ".join(cpu_runs)))
    nvml_reasons = {
        r["resources"]["nvml"]["reason"]
        for r in runs
        if r.get("resources") and not r["resources"]["nvml"]["available"]
    }
    if nvml_reasons:
        notes.append(t["limit_gpu_memory"].format(reason="; ".join(sorted(nvml_reasons))))
    else:
        energy_reasons = {
            r["resources"]["energy_reason"] for r in runs if r.get("resources", {}).get("energy_reason")
        }
        notes += [t["limit_energy"].format(reason=reason) for reason in sorted(energy_reasons)]
    return notes


def _agreement(agreement: pd.DataFrame, correctness: dict, t: dict) -> tuple[list, list[str]]:
    threshold = correctness["min_forced_agreement"]
    table = verdicts(agreement, threshold)
    sentences = []
    for row in table.itertuples():
        values = {
            "backend": row.backend, "reference": row.reference, "model": row.model, "scenario": row.scenario,
            "identical": row.identical, "queries": row.queries, "forced": row.forced_agreement,
            "gap": row.forced_max_gap, "threshold": threshold, "dtype": correctness["reference_dtype"],
            "earliest": "–" if pd.isna(row.earliest_divergence) else int(row.earliest_divergence),
        }  # fmt: skip
        sentence = t["disagree" if row.disagrees else "agree"].format(**values)
        if not row.disagrees and row.backend != row.reference and row.identical < row.queries:
            sentence += t["sentence_gap"] + t["diverged"].format(**values)
        sentences.append(sentence)
    return table.to_dict("records"), sentences


def _result_rows(summary: pd.DataFrame) -> dict[str, list[dict]]:
    """Per scenario: one row per run with the headline metrics."""
    tables: dict[str, list[dict]] = {}
    keys = ["scenario", "model", "backend", "concurrency"]
    for (scenario, model, backend, concurrency), group in summary.groupby(keys, sort=False, dropna=False):
        failed = group["status"].iloc[0] == "failed"
        if pd.isna(concurrency) and group["scenario_type"].iloc[0] == "sweep" and not failed:
            continue  # a sweep's run-level rows (memory, load): shown under resources
        by_metric = group.set_index("metric")
        row = {
            "model": model,
            "backend": backend,
            "concurrency": None if pd.isna(concurrency) else int(concurrency),
            "status": group["status"].iloc[0],
            "device": group["device"].iloc[0],
            "reason": group["reason"].iloc[0],
        }
        for metric in ("total_ms", "output_tokens_per_s", "ttft_ms", "tpot_ms", "e2e_ms"):
            row[metric] = by_metric.loc[metric].to_dict() if metric in by_metric.index else None
        tables.setdefault(scenario, []).append(row)
    return tables


def build_context(
    summary: pd.DataFrame,
    runs: list[dict],
    manifests: dict[str, dict],
    settings: dict,
    configfiles: list[str],
    plots: list[str],
    agreement: pd.DataFrame,
    correctness: dict,
    bandwidth: dict,
    reference: tuple[str, str, pd.DataFrame] | None = None,
) -> dict:
    t = STRINGS[settings["language"]]
    agreement_rows, agreement_sentences = _agreement(agreement, correctness, t)
    period = next((r["resources"]["period_s"] for r in runs if r.get("resources")), None)
    provenance = next((r["provenance"] for r in runs if r.get("provenance")), {})
    specs = {r["run"]: r["spec"] for r in runs}
    scenarios = {s["scenario_name"]: s["scenario"] for s in specs.values()}
    roofline = roofline_rows(summary, manifests, bandwidth)
    config_args = " ".join(f"--configfile {shlex.quote(c)}" for c in configfiles)
    return {
        "t": t,
        "language": settings["language"],
        "title": settings["title"],
        "generated_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "provenance": provenance,
        "manifests": manifests,
        "scenarios": scenarios,
        "backends": sorted({s["backend"] for s in specs.values()}),
        "devices": sorted({r.get("device") or r["spec"]["device"] for r in runs}),
        "backend_info": {r["spec"]["backend"]: r["backend_info"] for r in runs if r.get("backend_info")},
        "results": _result_rows(summary),
        "loop_analysis": _analysis(runs, "loop", t) + _analysis(runs, "fixed", t),
        "threads_analysis": _analysis(runs, "threads", t) + _sweep_analysis(summary, t),
        "memory": resource_rows(summary),
        "memory_intro": t["memory_intro"].format(period=period),
        "roofline_intro": _roofline_intro(roofline, bandwidth, t),
        "bandwidth": bandwidth,
        "roofline": roofline,
        "agreement": agreement_rows,
        "agreement_sentences": agreement_sentences,
        "limitations": _limitations(runs, manifests, t) + _clock_limits(summary, runs, t),
        "failures": [r for r in runs if r["status"] != "ok"],
        "plots": _plot_sections(plots, {name: s["type"] for name, s in scenarios.items()}),
        "reference": None
        if reference is None
        else {
            "intro": t["reference_intro"].format(path=reference[0], device=reference[1]),
            "rows": reference_rows(summary, reference[2]),
        },
        "reproduce": f"snakemake --cores 1 --resources gpu=1 {config_args}".strip(),
    }


def _environment(template_dir: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )

    def num(value, digits=1):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "–"
        return f"{value:,.{digits}f}"

    def ci(stat, digits=1):
        if not stat or math.isnan(stat.get("ci95_high", math.nan)):
            return num(stat["mean"] if stat else None, digits)
        return f"{num(stat['mean'], digits)} ± {num((stat['ci95_high'] - stat['ci95_low']) / 2, digits)}"

    def pct(fraction, digits=1):
        return "–" if fraction is None or math.isnan(fraction) else f"{fraction * 100:.{digits}f} %"

    env.filters["num"] = num
    env.filters["pct"] = pct
    env.filters["ci"] = ci
    return env


def render_markdown(context: dict, template_dir: Path) -> str:
    return _environment(template_dir).get_template("report.md.j2").render(**context)


def render_html(markdown_text: str, context: dict, template_dir: Path, base_dir: Path) -> str:
    """Self-contained HTML: the Markdown converted, every image inlined as a data URI."""
    body = markdown_lib.markdown(markdown_text, extensions=["tables", "fenced_code"])

    def inline(match: re.Match) -> str:
        src = match.group(1)
        data = base64.b64encode((base_dir / src).read_bytes()).decode()
        return f'src="data:image/png;base64,{data}"'

    body = re.sub(r'src="([^":]+\.png)"', inline, body)
    return _environment(template_dir).get_template("report.html.j2").render(body=body, **context)


def write_report(
    summary_csv: str,
    agreement_csvs: list[str],
    bandwidth_json: str,
    run_paths: list[str],
    manifest_paths: dict[str, str],
    plots: list[str],
    settings: dict,
    correctness: dict,
    configfiles: list[str],
    template_dir: str,
    md_out: str,
    html_out: str,
    reference_csvs: list[str] = (),
) -> None:
    summary = pd.read_csv(summary_csv, dtype={"reason": str, "metric": str})
    summary["reason"] = summary["reason"].fillna("")
    runs = [read_json(p) for p in run_paths]
    manifests = {name: read_json(p) for name, p in manifest_paths.items()}
    md_dir = Path(md_out).parent
    relative_plots = [str(Path(p).resolve().relative_to(md_dir.resolve())) for p in plots]
    agreement = pd.concat([pd.read_csv(p) for p in agreement_csvs], ignore_index=True)
    bandwidth = read_json(bandwidth_json)
    reference = None
    if reference_csvs:
        folder = Path(reference_csvs[0]).parent
        frame = pd.read_csv(reference_csvs[0], dtype={"reason": str, "metric": str})
        reference = (str(folder), describe_reference(folder), frame)
    context = build_context(
        summary,
        runs,
        manifests,
        settings,
        configfiles,
        relative_plots,
        agreement,
        correctness,
        bandwidth,
        reference,
    )
    markdown_text = render_markdown(context, Path(template_dir))
    Path(md_out).write_text(markdown_text, encoding="utf-8")
    Path(html_out).write_text(
        render_html(markdown_text, context, Path(template_dir), md_dir), encoding="utf-8"
    )
