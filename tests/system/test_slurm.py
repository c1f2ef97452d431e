"""The tiny workflow through Snakemake's SLURM executor plugin on a real
single-node SLURM (tests/support/slurm_cluster.py), with profiles/slurm unchanged."""

import json
import subprocess
import sys

import pytest
import yaml

from conftest import copy_workflow
from llmbench.analyze.summary import read_summary
from llmbench.backends import get_backend
from llmbench.backends.base import LoadSettings
from llmbench.models.manifest import build_manifest
from llmbench.record import read_record
from slurm_cluster import missing, single_node_slurm

pytestmark = [pytest.mark.workflow, pytest.mark.slurm]


def test_the_workflow_runs_unchanged_through_slurm(tmp_path, tiny_model, tiny_prompt_ids):
    reason = missing()
    assert reason is None, reason
    workdir = copy_workflow(tmp_path / "workflow")
    # One run that outlasts its timeout: the launcher, not SLURM's time limit
    # (timeout + a margin), must end it and leave a failure record. The timeout applies to
    # every run: an hf run takes 12-17 s on two idle cores (import and load 9 s); with
    # 20 s one replica failed on CI's loaded machine, so 60 s leaves the others 3x.
    config = yaml.safe_load((workdir / "config/config.yaml").read_text())
    config["timeout_s"] = 60
    config["scenarios"]["hangs"] = {
        "type": "fixed",
        "input_tokens": 8,
        "output_tokens": 4,
        "requests": 1,
        "min_duration_s": 600,
        "max_duration_s": 600,
        "backends": ["hf"],
    }
    (workdir / "slurm.yaml").write_text(yaml.safe_dump(config, allow_unicode=True))
    with single_node_slurm(tmp_path / "slurm") as env:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "snakemake",
                "--workflow-profile",
                "profiles/slurm",
                "--slurm-no-account",
                "--slurm-keep-successful-logs",
                "--slurm-init-seconds-before-status-checks",
                "2",
                "--seconds-between-status-checks",
                "3",
                "--configfile",
                "slurm.yaml",
            ],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=1500,
        )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    summary = read_summary(workdir / "results/summary.csv")
    runs = summary.drop_duplicates(["backend", "scenario"]).set_index(["backend", "scenario"])
    others = runs.drop(("hf", "hangs"))
    assert len(runs) == 3 * 5 + 1, runs.index.tolist()
    assert (others.status == "ok").all(), others[others.status != "ok"][["status", "reason"]].to_dict()
    hung = read_record(workdir / "results/runs/tiny/hf/hangs/0.json")
    assert hung.status == "failed" and hung.reason == "timed out after 60 s"
    assert (workdir / "results/report.html").stat().st_size > 0

    # Every job was a SLURM job; the GPU ones asked for the GPU, on the GPU partition, alone,
    # with a time limit longer than the launcher's timeout.
    job_logs = list((workdir / ".snakemake/slurm_logs").rglob("*.log"))
    assert len(job_logs) >= 30  # every job but the target rule `all`
    for log in (workdir / ".snakemake/slurm_logs/rule_run_benchmark").rglob("*.log"):
        text = log.read_text()
        assert "gpu=1" in text and "slurm_partition=gpu" in text and "slurm_extra=--exclusive" in text
        assert "runtime=3" in text, text[:2000]

    # The same results as a local run wherever a run is deterministic.
    manifest = json.loads((workdir / "resources/models/tiny/manifest.json").read_text())
    assert manifest["sha256"] == build_manifest(tiny_model, manifest["source"])["sha256"]
    prompts = json.loads((workdir / "results/prompts/tiny.json").read_text())["prompt_ids"]
    assert prompts == json.loads(tiny_prompt_ids.read_text())["prompt_ids"]
    backend = get_backend("hf")(LoadSettings(str(tiny_model), str(tiny_model), "cpu", "float32", 1))
    backend.import_libraries()
    backend.load()
    loop = read_record(workdir / "results/runs/tiny/hf/loop/0.json")
    for request in loop.measurement.levels[0].passes[0].requests:
        local = backend.generate(prompts[request.query_index], request.output_tokens).output_ids
        assert request.output_ids == local
