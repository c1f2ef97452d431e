"""Aggregation and report rendering from fixed run records."""

import re

import pandas as pd
import pytest

from conftest import REPO
from llmbench.agreement import COLUMNS, agreement_rows
from llmbench.io import read_json, write_json_atomic
from llmbench.metrics import samples, summary_table
from llmbench.plots import plot_scenario
from llmbench.report import build_context, reference_rows, write_report


def request(index, ttft, itl, start=0.0):
    return {
        "query_index": index,
        "prompt_tokens": 10,
        "output_tokens": len(itl) + 1,
        "output_ids": list(range(len(itl) + 1)),
        "start_ms": start,
        "ttft_ms": ttft,
        "e2e_ms": ttft + sum(itl),
        "itl_ms": itl,
    }


def run_record(backend, scenario_type, totals, status="ok"):
    spec = {
        "model": "tiny",
        "backend": backend,
        "scenario_name": scenario_type,
        "scenario": {
            "type": scenario_type,
            "output_tokens": 3,
            "workers": 5,
            "warmup_requests": 1,
            "repetitions": len(totals),
            "min_duration_s": 0,
        },
        "device": "cpu",
        "dtype": "float32",
    }
    record = {
        "schema_version": 1,
        "run": f"tiny/{backend}/{scenario_type}",
        "spec": spec,
        "status": status,
        "provenance": {
            "cpu": "Test CPU",
            "gpus": [],
            "packages": {"llmbench": "0.1.0"},
            "workflow": {"commit": "abc123", "dirty": False},
            "python": "3.11",
            "platform": "Linux",
        },
    }
    if status == "failed":
        return {**record, "reason": "CUDA out of memory (simulated)"}
    reps = [
        {"total_ms": t, "requests": [request(0, 2.0, [1.0, 3.0]), request(1, 4.0, [2.0, 2.0])]}
        for t in totals
    ]
    return {
        **record,
        "device": "cpu",
        "load_s": 0.5,
        "memory": {"process_peak_rss_bytes": 100 * 2**20},
        "measurement": {
            "warmup_requests": 1,
            "measured_s": 1,
            "repetitions": reps,
            "valid": True,
            "invalid_reasons": [],
        },
    }


MANIFEST = {
    "source": {"source": "synthetic", "preset": "tiny", "dtype": "float32"},
    "details": {"parameters": 887424},
    "total_bytes": 3_600_000,
    "sha256": "f" * 64,
    "files": [
        {"path": "model.safetensors", "bytes": 3_500_000, "sha256": "e" * 64},
        {"path": "config.json", "bytes": 100_000, "sha256": "d" * 64},
    ],
}


def test_samples_split_latency_into_prefill_and_decode():
    s = samples(run_record("hf", "loop", [100.0, 110.0]))
    assert s["total_ms"] == [100.0, 110.0]
    assert s["ttft_ms"] == [2.0, 4.0, 2.0, 4.0]
    assert s["tpot_ms"] == [2.0, 2.0, 2.0, 2.0]  # mean inter-token gap, first token excluded
    assert s["itl_ms"] == [1.0, 3.0, 2.0, 2.0] * 2
    assert s["e2e_ms"] == [6.0, 8.0, 6.0, 8.0]
    assert s["output_tokens_per_s"] == pytest.approx([6 / 0.1, 6 / 0.11])
    assert s["load_s"] == [0.5]


def write_runs(tmp_path, hf_totals, fastllm_totals, failed=False):
    paths = []
    for backend, totals in (("hf", hf_totals), ("fastllm", fastllm_totals)):
        for scenario in ("loop", "threads"):
            status = "failed" if failed and backend == "fastllm" and scenario == "threads" else "ok"
            path = tmp_path / "runs" / backend / f"{scenario}.json"
            write_json_atomic(path, run_record(backend, scenario, totals, status))
            paths.append(str(path))
    return paths


def render(tmp_path, hf_totals, fastllm_totals, language="zh", failed=False):
    paths = write_runs(tmp_path, hf_totals, fastllm_totals, failed)
    summary = summary_table(paths)
    (tmp_path / "plots").mkdir(exist_ok=True)
    summary_csv = tmp_path / "summary.csv"
    summary.to_csv(summary_csv, index=False)
    plots = []
    for scenario in ("loop", "threads"):
        plots.append(str(tmp_path / "plots" / f"{scenario}.png"))
        plot_scenario(pd.read_csv(summary_csv), scenario, plots[-1])
    manifest = tmp_path / "manifest.json"
    write_json_atomic(manifest, MANIFEST)
    agreement_csv = tmp_path / "agreement.csv"
    bandwidth_json = tmp_path / "bandwidth.json"
    write_json_atomic(bandwidth_json, {"device": "cpu", "name": "cpu", "bytes_per_s": 7e9})
    pd.DataFrame(agreement_rows([read_json(p) for p in paths], [[0], [0]], "hf"), columns=COLUMNS).assign(
        forced_agreement=1.0, forced_max_gap=0.0
    ).to_csv(agreement_csv, index=False)
    write_report(
        str(summary_csv),
        [str(agreement_csv)],
        str(bandwidth_json),
        paths,
        {"tiny": str(manifest)},
        plots,
        {"language": language, "title": "T"},
        {"reference": "hf", "reference_dtype": "float32", "min_forced_agreement": 0.9},
        ["config/config.yaml"],
        str(REPO / "report/templates"),
        str(tmp_path / "report.md"),
        str(tmp_path / "report.html"),
    )
    return (tmp_path / "report.md").read_text(), (tmp_path / "report.html").read_text(), summary


def test_summary_is_tidy_with_one_row_per_run_and_metric(tmp_path):
    summary = summary_table(write_runs(tmp_path, [100, 102, 101], [50, 51, 49], failed=True))
    ok = summary[summary["status"] == "ok"]
    assert not ok.duplicated(["model", "backend", "scenario", "metric"]).any()
    assert set(ok["metric"]) >= {"total_ms", "ttft_ms", "tpot_ms", "itl_ms", "e2e_ms", "output_tokens_per_s"}
    row = ok[(ok.backend == "hf") & (ok.scenario == "loop") & (ok.metric == "total_ms")].iloc[0]
    assert row["mean"] == pytest.approx(101) and row["ci95_low"] < 101 < row["ci95_high"]
    failed = summary[summary["status"] == "failed"]
    assert len(failed) == 1 and failed.iloc[0]["reason"] == "CUDA out of memory (simulated)"
    assert failed.iloc[0]["metric"] == "" and pd.isna(failed.iloc[0]["mean"])


@pytest.mark.parametrize("language", ["zh", "en"])
def test_report_has_the_articles_sections_and_the_numbers(tmp_path, language):
    md, html, _ = render(tmp_path, [300, 310, 305], [100, 98, 102], language)
    titles = {
        "zh": ["环境信息", "测试方法", "For循环时间测试", "多并发测试", "资源占用测试", "总结和不足"],
        "en": [
            "Environment",
            "How it was measured",
            "For-loop timing",
            "Concurrency",
            "Resource usage",
            "Summary and limitations",
        ],
    }[language]
    for title in titles:
        assert title in md and title in html
    assert "305.0 ±" in md and "100.0 ±" in md  # means of the fixture's pass times
    assert "3.05" in md  # 305 / 100
    assert "![plots/loop.png](plots/loop.png)" in md
    assert "data:image/png;base64," in html and 'src="plots/loop.png"' not in html
    assert "Test CPU" in md and "abc123" in md
    # roofline: 3.5 MB of weights at 7 GB/s bound decoding at 2000 tok/s; TPOT 2 ms = 500 tok/s = 25 %
    assert "| tiny/hf/loop | 0.00 | 500.0 | 2,000.0 | 25.0 % |" in md


def test_the_summary_sentence_follows_the_numbers(tmp_path):
    md_a, _, _ = render(tmp_path / "a", [300, 310, 305], [100, 98, 102], "en")
    md_b, _, _ = render(tmp_path / "b", [100, 98, 102], [300, 310, 305], "en")
    assert re.search(r"fastllm was 3\.05x faster than hf", md_a)
    assert re.search(r"hf was 3\.05x faster than fastllm", md_b)
    assert "a significant difference" in md_a


def test_overlapping_results_are_not_called_a_win(tmp_path):
    md, _, _ = render(tmp_path, [100, 120, 90, 110], [105, 95, 118, 101], "en")
    assert "not significant" in md


def test_a_failed_run_still_renders_with_its_reason(tmp_path):
    md, html, _ = render(tmp_path, [300, 310, 305], [100, 98, 102], "en", failed=True)
    assert "tiny/fastllm/threads failed: CUDA out of memory (simulated)" in md
    assert "Only hf ran successfully" in md
    assert "CUDA out of memory" in html


def test_nan_free_ci_filter_for_single_repetition(tmp_path):
    md, _, summary = render(tmp_path, [300], [100], "en")
    assert summary[summary.metric == "total_ms"]["ci95_low"].isna().all()
    assert "too few repetitions to test" in md


def test_the_agreement_sentence_follows_the_verdict():
    from llmbench.report import STRINGS, _agreement

    rows = [
        {"model": "m", "scenario": "loop", "backend": b, "reference": "hf", "query_index": q, "tokens": 4,
         "first_divergence": d, "prefix_agreement": p, "token_agreement": p, "forced_agreement": f,
         "forced_first_miss": None, "forced_max_gap": g, "forced_top12_median": 0.2}
        for b, d, p, f, g in [("hf", None, None, 1.0, 0.0), ("fastllm", 2, 0.5, 0.97, 0.03), ("broken", 1, 0.25, 0.3, 4.0)]
        for q in (0, 1)
    ]  # fmt: skip
    correctness = {"reference": "hf", "reference_dtype": "float32", "min_forced_agreement": 0.9}
    table, sentences = _agreement(pd.DataFrame(rows), correctness, STRINGS["en"])
    by_backend = dict(zip([r["backend"] for r in table], sentences, strict=True))
    assert by_backend["hf"].startswith("hf computes m correctly") and "diverg" not in by_backend["hf"]
    assert "rounding flipped near-ties" in by_backend["fastllm"] and "0/2 queries" in by_backend["fastllm"]
    assert "**wrongly**" in by_backend["broken"] and "only 30.0%" in by_backend["broken"]


def test_latency_and_memory_figures_are_drawn_from_the_raw_records(tmp_path):
    from PIL import Image

    from llmbench.plots import plot_latency, plot_memory

    results = [read_json(p) for p in write_runs(tmp_path, [300, 310], [100, 98], failed=True)]
    results[0]["resources"] = {
        "samples": {"t_s": [0.0, 0.5, 1.0], "rss_bytes": [1 * 2**20, 50 * 2**20, 60 * 2**20],
                    "gpu_process_bytes": None, "gpu_used_bytes": None},
        "peak": {"gpu_process_bytes": None}, "events_s": {"load_end": 0.4, "measure_start": 0.6},
    }  # fmt: skip
    plot_latency(results, str(tmp_path / "latency.png"))
    plot_memory(results, str(tmp_path / "memory.png"))
    for name in ("latency.png", "memory.png"):
        with Image.open(tmp_path / name) as image:
            assert image.size[0] > 800 and image.getextrema()[0][0] < 100  # drawn, not blank


def test_a_reference_run_is_compared_metric_by_metric(tmp_path):
    current = summary_table(write_runs(tmp_path / "now", [100, 102, 101], [50, 51, 49]))
    earlier = summary_table(write_runs(tmp_path / "then", [100, 102, 101], [50, 51, 49]))
    # the reference's FastLLM made every token twice as slowly; its hf/threads run is missing
    slower = (earlier.backend == "fastllm") & earlier.metric.isin(["tpot_ms", "e2e_ms", "ttft_ms"])
    earlier.loc[slower, ["mean", "std", "ci95_low", "ci95_high"]] *= 2
    earlier = earlier[~((earlier.backend == "hf") & (earlier.scenario == "threads"))]
    rows = {(r["backend"], r["scenario"], r["metric"]): r for r in reference_rows(current, earlier)}
    assert {(b, s) for b, s, _ in rows} == {("hf", "loop"), ("fastllm", "loop"), ("fastllm", "threads")}
    assert rows[("fastllm", "loop", "tpot_ms")]["ratio"] == pytest.approx(0.5)
    assert rows[("hf", "loop", "tpot_ms")]["ratio"] == pytest.approx(1.0)
    assert rows[("fastllm", "loop", "e2e_ms")]["p"] == "< 0.001"  # 12 requests each, no overlap
    assert rows[("hf", "loop", "output_tokens_per_s")]["p"] == "1"


def test_tokens_faster_than_the_token_clock_are_named_as_a_limitation(tmp_path):
    paths = write_runs(tmp_path, [100, 102], [50, 51])
    runs = [read_json(p) for p in paths]
    summary = summary_table(paths)
    bandwidth = {"device": "cpu", "name": "cpu", "bytes_per_s": 7e9}
    correctness = {"reference": "hf", "reference_dtype": "float32", "min_forced_agreement": 0.9}

    def limitations(resolution_ms):
        for run in runs:
            run["backend_info"] = {"token_clock_resolution_ms": resolution_ms}
        context = build_context(summary, runs, {"tiny": MANIFEST}, {"language": "en", "title": "T"}, [], [],
                                pd.DataFrame(columns=COLUMNS), correctness, bandwidth)  # fmt: skip
        return [note for note in context["limitations"] if "token clock" in note]

    assert limitations(0.5) == []  # the fixture's tokens come every 2 ms
    (note,) = limitations(1.5)
    assert "tiny/hf/loop (2.000 ms)" in note and "tiny/fastllm/threads (2.000 ms)" in note


@pytest.mark.parametrize("gpu", [False, True])
def test_the_resources_figure_is_drawn_with_or_without_gpu_figures(tmp_path, gpu):
    from PIL import Image

    from llmbench.plots import plot_resources

    rows = [{"run": f"tiny/{b}/loop", "rss_peak_mib": 300.0, "gpu_process_peak_mib": 900.0 if gpu else None,
             "gpu_process_after_warmup_mib": 800.0 if gpu else None,
             "torch_max_allocated_mib": (700.0 if b == "hf" else 0.0) if gpu else None,
             "energy_j_per_output_token": 3.2 if gpu else None} for b in ("hf", "fastllm")]  # fmt: skip
    roofline = [{"run": "tiny/hf/loop", "fraction": 0.4}] if gpu else []
    plot_resources(rows, roofline, "tiny", str(tmp_path / "resources.png"))
    with Image.open(tmp_path / "resources.png") as image:
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
    import seaborn as sns

    def pixels(colour):  # pixels of one palette colour, give or take antialiasing
        target = [round(255 * c) for c in colour]
        return sum(n for n, rgb in colours if max(abs(a - b) for a, b in zip(rgb, target, strict=True)) < 6)

    # RSS in blue always; NVML and torch bars (memory), energy and roofline bars in the
    # palette's next colours only when measured
    blue, orange, green, red = (pixels(c) for c in sns.color_palette(desat=0.75)[:4])  # barplot desaturates
    assert blue > 2000
    assert (orange > 2000, green > 2000, red > 500) == (gpu, gpu, gpu)
