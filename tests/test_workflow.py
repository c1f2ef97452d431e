"""The workflow end to end, in a temporary copy of the repository, on CPU."""

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import REPO, copy_workflow

pytestmark = pytest.mark.workflow
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def snakemake(workdir, *args, check=True, timeout=900):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAKEMAKE")}
    done = subprocess.run(
        [*SNAKEMAKE, *args], cwd=workdir, capture_output=True, text=True, env=env, timeout=timeout
    )
    if check and done.returncode != 0:
        pytest.fail(f"snakemake {' '.join(args)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    return done


def planned_jobs(workdir, *args):
    """Rule -> job count of a dry run ({} when there is nothing to do)."""
    done = snakemake(workdir, "-n", "--cores", "1", "--resources", "gpu=1", *args)
    text = done.stdout + done.stderr
    if "Nothing to be done" in text:
        return {}
    table = text.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m[1] != "total"}


def digests(folder):
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A copy of the workflow after one full default run."""
    workdir = copy_workflow(tmp_path_factory.mktemp("workflow"))
    snakemake(workdir, "--cores", "1", "--resources", "gpu=1")
    return workdir


def test_full_run_produces_summary_and_reports(finished):
    summary = pd.read_csv(finished / "results/summary.csv")
    runs = summary.drop_duplicates(["model", "backend", "scenario"])
    assert set(zip(runs.backend, runs.scenario, strict=True)) == {
        (b, s) for b in ("hf", "fastllm") for s in ("loop", "threads", "fixed", "sweep", "sweep-batch")
    }
    assert (runs.status == "ok").all(), runs[["backend", "scenario", "reason"]]
    assert (summary.device == "cpu").all()
    assert (finished / "resources/models/tiny/fastllm-float32.flm").stat().st_size > 0
    md = (finished / "results/report.md").read_text()
    for title in ("For循环时间测试", "多并发测试", "资源占用测试", "总结和不足"):
        assert title in md
    assert re.search(r"code sha256 `[0-9a-f]{12}`", md)  # which code ran, even without git
    assert "data:image/png;base64," in (finished / "results/report.html").read_text()
    for log in ("acquire_model/tiny", "convert_fastllm/tiny-float32", "run_benchmark/tiny/fastllm/loop"):
        assert (finished / "logs" / f"{log}.log").stat().st_size > 0


def test_nothing_to_do_after_a_full_run(finished):
    assert planned_jobs(finished) == {}


def test_a_template_change_reruns_only_the_report(finished):
    template = finished / "report/templates/report.md.j2"
    original = template.read_text()
    template.write_text(original + "\nchanged\n")
    try:
        assert planned_jobs(finished) == {"render_report": 1, "all": 1}
    finally:
        template.write_text(original)
    assert planned_jobs(finished) == {}  # same content again: nothing stale


def test_the_same_config_with_keys_in_another_order_reruns_nothing(finished):
    path = finished / "config/config.yaml"
    original = path.read_text()
    path.write_text(yaml.safe_dump(yaml.safe_load(original), sort_keys=True, allow_unicode=True))
    try:
        assert planned_jobs(finished) == {}
    finally:
        path.write_text(original)


def test_leaving_a_backend_out_of_a_scenario_reruns_no_benchmark(finished):
    config = yaml.safe_load((finished / "config/config.yaml").read_text())
    config["scenarios"]["sweep-batch"]["backends"] = ["fastllm"]
    (finished / "fewer.yaml").write_text(yaml.safe_dump(config, allow_unicode=True))
    jobs = planned_jobs(finished, "--configfile", "fewer.yaml")
    # one run record fewer goes into the summary; no run is repeated
    assert "run_benchmark" not in jobs and jobs["collect_results"] == 1 and jobs["render_report"] == 1


def test_a_benchmark_parameter_change_reruns_runs_and_downstream_only(finished):
    config = finished / "config/config.yaml"
    original = config.read_text()
    config.write_text(
        original.replace(
            "output_tokens: 16\n    warmup_requests: 2\n    repetitions: 3\n  threads",
            "output_tokens: 12\n    warmup_requests: 2\n    repetitions: 3\n  threads",
        )
    )
    try:
        jobs = planned_jobs(finished)
    finally:
        config.write_text(original)
    assert jobs == {
        "run_benchmark": 2,
        "collect_results": 1,
        "check_agreement": 1,
        "plot_scenario": 5,
        "plot_model": 1,
        "render_report": 1,
        "all": 1,
    }


def test_snakemake_report_includes_the_html_report_and_plots(finished):
    snakemake(finished, "--report", "report.html")
    text = (finished / "report.html").read_text()
    assert "report.html" in text and "loop.png" in text and "threads.png" in text
    assert "resources.png" in text and "Scenarios" in text and "Resources" in text


# Whether two strings leave different pixels in the page's font: a missing glyph
# is drawn as the same box whatever the character (private-use ones never have one).
DRAWS_DIFFERENTLY = """
const draw = (text) => {
  const canvas = document.createElement("canvas");
  canvas.width = 200; canvas.height = 40;
  const context = canvas.getContext("2d");
  context.font = "24px " + getComputedStyle(document.body).fontFamily;
  context.fillText(text, 0, 30);
  return canvas.toDataURL();
};
return draw(arguments[0]) !== draw(arguments[1]);
"""


def test_the_html_report_opens_in_a_real_browser(finished):
    """Chromium, headless: no console error, every image decoded, readable at phone width."""
    from browser import open_page

    out = REPO / "test-output"
    out.mkdir(exist_ok=True)
    with open_page(finished / "results/report.html") as page:
        images = page.execute_script(
            "return Array.from(document.images).map(i => [i.alt, i.complete && i.naturalWidth > 0])"
        )
        assert len(images) == 5 + 3 and all(loaded for _, loaded in images), images
        assert page.find_element("tag name", "h1").text.startswith("ChatGLM2")
        assert page.execute_script(DRAWS_DIFFERENTLY, "环境信息", "\ue000\ue001\ue002\ue003"), (
            "Chinese text renders as missing-glyph boxes: no CJK font"
        )
        errors = [entry for entry in page.get_log("browser") if entry["level"] == "SEVERE"]
        assert errors == []
        height = page.execute_script("return document.body.scrollHeight")
        page.set_window_size(1280, height)
        assert page.save_screenshot(str(out / "report-desktop.png"))
        page.set_window_size(390, 844)  # a phone: the text wraps, wide tables scroll inside themselves
        overflow = page.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, overflow
        assert page.save_screenshot(str(out / "report-phone.png"))


def test_a_reference_results_folder_is_set_side_by_side(finished, tmp_path):
    """An earlier run's results (here: a copy of this one) as report.reference: only the report reruns."""
    reference = tmp_path / "earlier-results"
    reference.mkdir()
    (reference / "summary.csv").write_bytes((finished / "results/summary.csv").read_bytes())
    config = yaml.safe_load((finished / "config/config.yaml").read_text())
    config["report"]["reference"] = str(reference)
    (finished / "with-reference.yaml").write_text(yaml.safe_dump(config, allow_unicode=True))
    args = ["--configfile", "with-reference.yaml"]
    assert planned_jobs(finished, *args) == {"render_report": 1, "all": 1}
    snakemake(finished, "--cores", "1", "--resources", "gpu=1", *args)
    md = (finished / "results/report.md").read_text()
    section = md.split("### 与参考结果对比", 1)[1].split("## 总结和不足", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| tiny |")]
    # every ok run x concurrency level x 4 metrics, each compared with itself: ratio 1.00
    assert len(rows) == 2 * (3 + 3 + 3) * 4 and all("| 1.00 |" in row for row in rows), rows[:3]
    snakemake(finished, "--cores", "1", "--resources", "gpu=1")  # back to the default report


def _set(path, value):
    def change(config):
        *parents, key = path
        for parent in parents:
            config = config[parent]
        config[key] = value

    return change


BAD_INPUTS = {
    "unknown backend": (_set(["backends"], ["hf", "vllm-typo"]), "unknown backend 'vllm-typo'"),
    "unknown preset": (
        _set(["models", "tiny", "preset"], "huge"),
        "models.tiny.preset: unknown preset 'huge'",
    ),
    "missing local folder": (
        _set(["models", "tiny"], {"source": "local", "path": "/nonexistent/model"}),
        "models.tiny.path: local model folder /nonexistent/model does not exist",
    ),
    "negative length": (
        _set(["scenarios", "loop", "output_tokens"], -5),
        "scenarios.loop.output_tokens: -5 is less than the minimum of 1",
    ),
    "empty prompts file": (
        _set(["prompts"], "config/empty.txt"),
        "prompts file config/empty.txt holds no query",
    ),
    "YAML type error": (
        _set(["scenarios", "loop", "repetitions"], "three"),
        "scenarios.loop.repetitions: 'three' is not of type integer",
    ),
    "scenario backend not run": (
        _set(["scenarios", "loop", "backends"], ["hf", "vllm"]),
        "scenarios.loop.backends: 'vllm' is not among backends: ['hf', 'fastllm']",
    ),
    "zero concurrency": (
        _set(["scenarios", "sweep", "concurrency"], [1, 0]),
        "scenarios.sweep.concurrency.1: 0 is less than the minimum of 1",
    ),
    "prompts file not UTF-8": (
        _set(["prompts"], "config/latin1.txt"),
        "prompts: prompts file config/latin1.txt is not UTF-8 text (invalid continuation byte at byte 0)",
    ),
    "local folder that is not a model": (
        _set(["models", "tiny"], {"source": "local", "path": "config"}),
        "models.tiny.path: local model folder config is not a model: it has no config.json",
    ),
    "dtype no backend runs": (
        _set(["models", "tiny", "dtype"], "int8"),
        "models.tiny.dtype: 'int8' is not one of ['float32', 'float16', 'bfloat16']",
    ),
    "typo in a key": (
        lambda config: config.update(backend=config.pop("backends")),
        "(top level): Additional properties are not allowed ('backend' was unexpected)",
    ),
    "reference without results": (
        _set(["report", "reference"], "config"),
        "report.reference: config has no summary.csv (expected a results folder)",
    ),
    # Snakemake parses --configfile before the workflow runs: its own message, without file or line.
    "YAML syntax error": ("scenarios: [loop\n", "Config file is not valid JSON or YAML"),
}


@pytest.mark.bad_input
@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_named_and_nothing_computed_is_lost(finished, case):
    change, expected = BAD_INPUTS[case]
    (finished / "config/empty.txt").write_text("\n")
    (finished / "config/latin1.txt").write_bytes("政策问答\n".encode("gb18030"))
    if isinstance(change, str):
        text = change
    else:
        config = yaml.safe_load((finished / "config/config.yaml").read_text())
        change(config)
        text = yaml.safe_dump(config, allow_unicode=True)
    (finished / "bad.yaml").write_text(text)
    before = digests(finished / "results")
    done = snakemake(
        finished, "--cores", "1", "--resources", "gpu=1", "--configfile", "bad.yaml", check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert expected in output, output[-3000:]
    assert "Traceback" not in output
    assert digests(finished / "results") == before


def test_a_configfile_replaces_the_default_config_instead_of_merging(finished):
    jobs = snakemake(finished, "-n", "--cores", "1", "--configfile", "config/h100.yaml").stdout
    assert "model=chatglm2-6b-shape" in jobs and "model=tiny" not in jobs


def test_lint_and_format_are_clean():
    lint = snakemake(REPO, "--lint", check=False)
    assert lint.returncode == 0 and "Congratulations" in lint.stdout + lint.stderr, lint.stdout + lint.stderr
    fmt = subprocess.run(
        [Path(sys.executable).parent / "snakefmt", "--check", "Snakefile", "rules"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr
    ruff = Path(sys.executable).parent / "ruff"
    for command in (["check"], ["format", "--check"]):
        done = subprocess.run(
            [ruff, *command, "src", "scripts", "tests", "benchmarks"],
            cwd=REPO,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout + done.stderr


def test_every_metric_is_present_and_consistent(finished):
    summary = pd.read_csv(finished / "results/summary.csv")
    ok = summary[summary.status == "ok"]
    for (backend, scenario, concurrency), group in ok.groupby(
        ["backend", "scenario", "concurrency"], dropna=False
    ):
        if pd.isna(concurrency) and scenario.startswith("sweep"):
            continue  # a sweep's run-level rows
        stats = group.set_index("metric")
        for metric in ("total_ms", "output_tokens_per_s", "total_tokens_per_s", "requests_per_s", "e2e_ms",
                       "ttft_ms", "tpot_ms", "itl_ms"):  # fmt: skip
            row = stats.loc[metric]
            assert row["n"] > 0 and row["mean"] > 0, (backend, scenario, metric)
            assert row["ci95_low"] <= row["mean"] <= row["ci95_high"], (backend, scenario, metric)
            assert row["p50"] <= row["p90"] <= row["p99"] <= row["max"]
        assert stats.loc["e2e_ms", "min"] >= stats.loc["ttft_ms", "min"]
        assert stats.loc["total_tokens_per_s", "mean"] > stats.loc["output_tokens_per_s", "mean"]
    loads = ok[ok.metric == "load_s"]
    assert (loads["mean"] > 0).all() and len(loads) == 10
    fixed = json.loads((finished / "results/runs/tiny/hf/fixed.json").read_text())
    for request in fixed["measurement"]["repetitions"][0]["requests"]:
        assert request["prompt_tokens"] == 32 and request["output_tokens"] == 16 == len(request["output_ids"])


def test_the_articles_model_format_runs_and_fastllms_cpu_bug_is_caught(tmp_path):
    """chatglm2-tiny (ChatGLM2's format and ids): hf through the GLM port, FastLLM from
    the checkpoint. ftllm 1.9.0's CPU library applies ChatGLM2's rotary embedding to
    the wrong width: the teacher-forced check must flag it, and the report say so."""
    workdir = copy_workflow(tmp_path)
    snakemake(workdir, "--cores", "1", "--resources", "gpu=1", "--configfile", "config/chatglm2-tiny.yaml")
    glm = json.loads((workdir / "resources/models/chatglm2-tiny/hf/config.json").read_text())
    assert glm["architectures"] == ["GlmForCausalLM"]
    prompts = json.loads((workdir / "results/prompts/chatglm2-tiny.json").read_text())
    assert all(ids[:2] == [64790, 64792] for ids in prompts["prompt_ids"])
    fastllm = json.loads((workdir / "results/runs/chatglm2-tiny/fastllm/loop.json").read_text())
    assert fastllm["status"] == "ok" and fastllm["backend_info"]["model_type"] == "chatglm"
    agreement = pd.read_csv(workdir / "results/agreement/chatglm2-tiny.csv")
    forced = agreement.groupby(["backend", "scenario"])["forced_agreement"].mean()
    assert (forced["hf"] == 1.0).all()
    assert (forced["fastllm"] < 0.9).all(), forced
    md = (workdir / "results/report.md").read_text()
    assert "fastllm 在 chatglm2-tiny / loop 上**计算有误**" in md
    assert "fastllm 在 chatglm2-tiny / threads 上**计算有误**" in md
    rows = [line for line in md.splitlines() if line.startswith("| chatglm2-tiny |") and "fastllm" in line]
    assert sum("**disagrees**" in line for line in rows) == 2


@pytest.mark.fault
def test_an_interrupted_workflow_reruns_only_what_was_cut_off(finished):
    """Ctrl-C (SIGINT to Snakemake's process group) while the second of two benchmark
    runs is going; the restart runs that one again and leaves the finished run's
    record as it was."""
    config = yaml.safe_load((finished / "config/config.yaml").read_text())
    config["scenarios"]["loop"].update(output_tokens=48, repetitions=6)
    (finished / "interrupt.yaml").write_text(yaml.safe_dump(config, allow_unicode=True))
    args = ["--cores", "1", "--resources", "gpu=1", "--configfile", "interrupt.yaml"]
    runs = {b: finished / f"results/runs/tiny/{b}/loop.json" for b in ("hf", "fastllm")}
    logs = {b: finished / f"logs/run_benchmark/tiny/{b}/loop.log" for b in runs}
    before = {b: p.stat().st_mtime_ns for b, p in runs.items()}
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAKEMAKE")}
    # As from a terminal: a test runner started in the background (`cmd &` in a script)
    # passes SIGINT on as ignored, and Python then never raises KeyboardInterrupt.
    proc = subprocess.Popen([*SNAKEMAKE, *args], cwd=finished, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    deadline = time.monotonic() + 300
    while not (done := [b for b, p in runs.items() if p.exists() and p.stat().st_mtime_ns != before[b]]):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    (first,) = done
    (cut,) = set(runs) - {first}
    # the second run has started: Snakemake removed its old record, its worker writes a new log
    while runs[cut].exists() or not (logs[cut].exists() and logs[cut].stat().st_size > 0):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    # What Ctrl-C in a terminal does, pressed until Snakemake stops: a single SIGINT
    # that lands while Snakemake is between two of its own steps can go unnoticed.
    while proc.poll() is None:
        assert time.monotonic() < deadline
        os.killpg(proc.pid, signal.SIGINT)
        time.sleep(0.2)
    assert proc.returncode != 0
    kept = hashlib.sha256(runs[first].read_bytes()).hexdigest()
    assert not runs[cut].exists()  # no record of the cut run: not a partial one, not a failure
    assert planned_jobs(finished, "--configfile", "interrupt.yaml")["run_benchmark"] == 1
    snakemake(finished, *args)
    assert hashlib.sha256(runs[first].read_bytes()).hexdigest() == kept
    redone = json.loads(runs[cut].read_text())
    assert redone["status"] == "ok" and redone["spec"]["scenario"]["output_tokens"] == 48


@pytest.mark.fault
def test_a_crashing_backend_leaves_a_failure_and_the_workflow_completes(finished):
    """Runs last on the shared copy: FastLLM is handed a corrupt model file."""
    flm = finished / "resources/models/tiny/fastllm-float32.flm"
    flm.write_bytes(flm.read_bytes()[:4096])
    snakemake(finished, "--cores", "1", "--resources", "gpu=1")
    summary = pd.read_csv(finished / "results/summary.csv")
    status = summary.drop_duplicates(["backend", "scenario"]).set_index(["backend", "scenario"])["status"]
    assert status[("fastllm", "loop")] == "failed" and status[("fastllm", "threads")] == "failed"
    assert status[("hf", "loop")] == "ok" and status[("hf", "threads")] == "ok"
    failed = summary[summary.status == "failed"]
    assert failed.reason.str.len().gt(0).all()
    md = (finished / "results/report.md").read_text()
    assert "tiny/fastllm/loop" in md and "失败" in md
