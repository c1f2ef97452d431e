"""The default workflow end to end on CPU, read from one finished run (never changed here)."""

import re

import pytest

from conftest import copy_workflow
from llmbench.analyze.summary import read_summary
from llmbench.record import read_record
from workflow import check_in_browser, planned_jobs, snakemake

pytestmark = pytest.mark.workflow
BACKENDS = ("hf", "fastllm", "llamacpp")
SCENARIOS = ("loop", "threads", "fixed", "sweep", "sweep-batch")


def test_every_run_reaches_the_summary_and_the_reports(finished):
    summary = read_summary(finished / "results/summary.csv")
    runs = summary.drop_duplicates(["model", "backend", "scenario"])
    assert set(zip(runs.backend, runs.scenario, strict=True)) == {(b, s) for b in BACKENDS for s in SCENARIOS}
    assert (runs.status == "ok").all(), runs[["backend", "scenario", "reason"]]
    assert (summary.device == "cpu").all()
    loop = summary[(summary.scenario == "loop") & (summary.metric == "total_ms")]
    assert (loop.replicas == 3).all() and (loop.ci_unit == "replica").all()
    assert (finished / "resources/models/tiny/fastllm-float32.flm").stat().st_size > 0
    md = (finished / "results/report.md").read_text()
    for title in (
        "结论",
        "For循环时间测试",
        "多并发测试",
        "资源占用测试",
        "总结和不足",
        "文章 (RTX 3090) vs 本次",
    ):
        assert f" {title}\n" in md, title
    assert re.search(r"代码 sha256 `[0-9a-f]{12}`", md)  # which code ran, even without git
    assert (
        "\nsnakemake --cores 1 --resources gpu=1 --configfile config/config.yaml\n" in md
    )  # its own command
    assert "data:image/png;base64," in (finished / "results/report.html").read_text()
    for log in ("acquire_model/tiny", "convert_fastllm/tiny-float32", "run_benchmark/tiny/fastllm/loop/0"):
        assert (finished / "logs" / f"{log}.log").stat().st_size > 0


def test_nothing_to_do_after_a_full_run(finished):
    assert planned_jobs(finished) == {}


def test_replicas_interleave_across_backends(finished):
    """Replica k of every run before replica k+1 of any, backends alternating (ABBA)."""
    records = [read_record(p) for p in (finished / "results/runs").rglob("*.json")]
    order = [
        (r.run.replica, r.key.scenario, r.key.backend)
        for r in sorted(records, key=lambda r: r.provenance["started_utc"])
    ]
    first_replica_1 = next(i for i, (replica, _, _) in enumerate(order) if replica == 1)
    assert all(replica == 0 for replica, _, _ in order[:first_replica_1])
    forward = ["hf", "fastllm", "llamacpp"]
    assert [b for replica, s, b in order if s == "loop"] == forward + forward[::-1] + forward


def test_every_metric_is_present_and_consistent(finished):
    summary = read_summary(finished / "results/summary.csv")
    ok = summary[(summary.status == "ok") & (summary.per != "run")]
    for (backend, scenario, _level), group in ok.groupby(
        ["backend", "scenario", "concurrency"], dropna=False
    ):
        stats = group.set_index("metric")
        for metric in (
            "total_ms",
            "output_tokens_per_s",
            "total_tokens_per_s",
            "requests_per_s",
            "e2e_ms",
            "ttft_ms",
            "tpot_ms",
            "itl_ms",
            "decode_tokens_per_s",
        ):
            row = stats.loc[metric]
            assert row["n"] > 0 and row["mean"] > 0, (backend, scenario, metric)
            assert row["ci95_low"] <= row["mean"] <= row["ci95_high"], (backend, scenario, metric)
            assert row["min"] <= row["max"]
        assert stats.loc["e2e_ms", "min"] >= stats.loc["ttft_ms", "min"]
        assert stats.loc["total_tokens_per_s", "mean"] > stats.loc["output_tokens_per_s", "mean"]
    record = read_record(finished / "results/runs/tiny/hf/fixed/0.json")
    for request in record.measurement.levels[0].passes[0].requests:
        assert request.prompt_tokens == 32 and request.output_tokens == 16


def test_snakemake_report_includes_the_html_report_and_plots(finished, tmp_path):
    snakemake(finished, "--report", str(tmp_path / "report.html"))
    text = (tmp_path / "report.html").read_text()
    assert "report.html" in text and "loop.png" in text and "threads.png" in text
    assert "resources.png" in text and "Scenarios" in text and "Resources" in text


def test_the_html_report_opens_in_a_real_browser(finished):
    check_in_browser(finished / "results/report.html", images=5 + 3, screenshots="report")


def test_a_configfile_replaces_the_default_config_instead_of_merging(tmp_path):
    """The default config is not read at all when a command names one: not merged under it, and
    not needed (a broken or absent config/config.yaml does not stop another config)."""
    workdir = copy_workflow(tmp_path)  # results/ of its own: finished's hold another config's runs
    (workdir / "config/config.yaml").write_text("models: [not, a, mapping\n")
    done = snakemake(workdir, "-n", "--cores", "1", "--configfile", "config/gpu.yaml")
    assert "model=chatglm2-6b-shape" in done.stdout and "model=tiny" not in done.stdout
    assert "config/config.yaml" not in done.stdout + done.stderr  # not "extended by" the named one
