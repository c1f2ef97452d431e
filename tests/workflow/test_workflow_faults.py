"""Faults in the workflow: an interrupted run, a crashing backend. Each on its own copy."""

import hashlib
import os
import signal
import subprocess
import time

import pytest
import yaml

from llmbench.analyze.summary import read_summary
from llmbench.record import read_record
from workflow import RUN, SNAKEMAKE, own_copy, planned_jobs, snakemake

pytestmark = [pytest.mark.workflow, pytest.mark.fault]


def test_an_interrupted_workflow_reruns_only_what_was_cut_off(finished, tmp_path):
    """Ctrl-C (SIGINT to Snakemake's process group) while the second of two benchmark
    runs is going; the restart runs that one again and leaves the finished run's
    record as it was."""
    workdir = own_copy(finished, tmp_path / "copy")
    config = yaml.safe_load((workdir / "config/config.yaml").read_text())
    config["scenarios"]["loop"].update(
        output_tokens=48, repetitions=6, replicas=1, backends=["hf", "fastllm"]
    )
    (workdir / "interrupt.yaml").write_text(yaml.safe_dump(config, allow_unicode=True))
    args = [*RUN, "--configfile", "interrupt.yaml"]
    runs = {b: workdir / f"results/runs/tiny/{b}/loop/0.json" for b in ("hf", "fastllm")}
    logs = {b: workdir / f"logs/run_benchmark/tiny/{b}/loop/0.log" for b in runs}
    before = {b: p.stat().st_mtime_ns for b, p in runs.items()}
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAKEMAKE")}
    # As from a terminal: a test runner started in the background (`cmd &` in a script)
    # passes SIGINT on as ignored, and Python then never raises KeyboardInterrupt.
    proc = subprocess.Popen(
        [*SNAKEMAKE, *args],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
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
    assert planned_jobs(workdir, "--configfile", "interrupt.yaml")["run_benchmark"] == 1
    snakemake(workdir, *args)
    assert hashlib.sha256(runs[first].read_bytes()).hexdigest() == kept
    redone = read_record(runs[cut])
    assert redone.status == "ok" and redone.spec.scenario.output_tokens == 48


def test_a_crashing_backend_leaves_a_failure_and_the_workflow_completes(finished, tmp_path):
    """FastLLM is handed a corrupt model file."""
    workdir = own_copy(finished, tmp_path / "copy")
    flm = workdir / "resources/models/tiny/fastllm-float32.flm"
    flm.write_bytes(flm.read_bytes()[:4096])
    for run in (workdir / "results/runs/tiny/fastllm").rglob("*.json"):
        run.unlink()  # rerun them on the corrupt file
    done = snakemake(workdir, *RUN)
    # said on the console, not only in the report
    failed = len(list((workdir / "results/runs/tiny/fastllm").rglob("*.json")))
    total = len(list((workdir / "results/runs").rglob("*.json")))
    assert f"{failed} of {total} benchmark runs failed: tiny/fastllm/" in done.stderr, done.stderr[-2000:]
    assert "; see results/report.html" in done.stderr
    summary = read_summary(workdir / "results/summary.csv")
    status = summary.drop_duplicates(["backend", "scenario"]).set_index(["backend", "scenario"])["status"]
    assert status[("fastllm", "loop")] == "failed" and status[("fastllm", "threads")] == "failed"
    assert status[("hf", "loop")] == "ok" and status[("hf", "threads")] == "ok"
    assert summary[summary.status == "failed"].reason.str.len().gt(0).all()
    md = (workdir / "results/report.md").read_text()
    assert "tiny/fastllm/loop/0" in md and "失败" in md

    # for CI and scripts: the same outcome fails the workflow, after the report is written
    (workdir / "results/runs/tiny/fastllm/loop/0.json").unlink()  # something to run again
    strict = snakemake(workdir, *RUN, "--config", "fail_on_failed_runs=true", check=False)
    assert strict.returncode == 1 and "fail_on_failed_runs is true" in strict.stderr, strict.stderr[-2000:]
    # a verdict, not a crash: said before Snakemake's error block, and first in the log it shows
    counted = f"{failed} of {total} benchmark runs failed: tiny/fastllm/"
    assert strict.stderr.index(counted) < strict.stderr.index("Error in rule judge_outcome")
    assert (workdir / "logs/judge_outcome.log").read_text().startswith(counted)
    assert "Traceback" not in strict.stderr
    # and again with nothing else left to do (onsuccess is not called then): still exit status 1,
    # the strict mode's only job the verdict, never the report (its command line leaves the key out)
    strict_args = ["--config", "fail_on_failed_runs=true"]
    assert planned_jobs(workdir, *strict_args) == {"judge_outcome": 1, "all": 1}
    again = snakemake(workdir, *RUN, *strict_args, check=False)
    assert again.returncode == 1 and f"{failed} of {total} benchmark runs failed" in again.stderr, (
        again.stderr[-2000:]
    )
    assert planned_jobs(workdir) == {}
