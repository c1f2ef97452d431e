"""Models we did not build reach a report: a folder written straight by transformers, a hub
download (through the local stand-in), and ChatGLM2's own format."""

import json

import pytest
import yaml

from conftest import copy_workflow
from hub_standin import HubStandIn
from llmbench.analyze.summary import read_summary
from llmbench.record import read_record
from workflow import RUN, check_in_browser, snakemake

pytestmark = pytest.mark.workflow


def run_config(workdir, config):
    (workdir / "mine.yaml").write_text(yaml.safe_dump(config, allow_unicode=True))
    return ["--configfile", "mine.yaml"]


def test_a_local_folder_written_by_transformers_reaches_the_report(peer_model, tmp_path):
    """The first thing a user does after the demo: their own model folder."""
    workdir = copy_workflow(tmp_path / "workflow")
    args = run_config(
        workdir,
        {
            "device": "cpu",
            "models": {"peer": {"source": "local", "path": str(peer_model), "dtype": "float32"}},
            "backends": ["hf", "fastllm", "llamacpp"],
            "scenarios": {
                "fixed": {
                    "type": "fixed",
                    "input_tokens": 128,
                    "output_tokens": 64,
                    "requests": 1,
                    "warmup_passes": 2,
                    "repetitions": 10,
                }
            },
            "report": {"language": "en"},
        },
    )
    snakemake(workdir, *RUN, *args)
    summary = read_summary(workdir / "results/summary.csv")
    assert set(summary.status) == {"ok"}, summary[["backend", "reason"]]
    md = (workdir / "results/report.md").read_text()
    assert "| peer | local (" in md and "## Summary and limitations" in md
    check_in_browser(workdir / "results/report.html", images=1 + 3)


def test_a_hub_model_reaches_the_report(tiny_model, tmp_path):
    workdir = copy_workflow(tmp_path / "workflow")
    args = run_config(
        workdir,
        {
            "device": "cpu",
            "models": {"hubbed": {"source": "hub", "repo_id": "llmbench/tiny", "revision": "v1"}},
            "backends": ["hf", "fastllm", "llamacpp"],
            "scenarios": {"loop": {"type": "loop", "output_tokens": 8, "repetitions": 2}},
        },
    )
    commit = "0123456789abcdef0123456789abcdef01234567"
    with HubStandIn("llmbench/tiny", tiny_model, {"v1": commit, commit: commit}) as hub:
        env = {"HF_ENDPOINT": hub.endpoint, "HF_HUB_DISABLE_XET": "1", "HF_HOME": str(tmp_path / "hf-home")}
        snakemake(workdir, *RUN, *args, env=env)
    summary = read_summary(workdir / "results/summary.csv")
    assert set(summary.status) == {"ok"}, summary[["backend", "reason"]]
    manifest = json.loads((workdir / "resources/models/hubbed/manifest.json").read_text())
    assert manifest["details"] == {"repo_id": "llmbench/tiny", "revision": "v1"}
    assert "hub (llmbench/tiny)" in (workdir / "results/report.md").read_text()
    check_in_browser(workdir / "results/report.html", images=1 + 3)


def test_the_articles_model_format_runs_and_fastllms_cpu_bug_is_caught(tmp_path):
    """chatglm2-tiny (ChatGLM2's format and ids): hf through the GLM port, FastLLM from
    the checkpoint. ftllm 1.9.0's CPU library applies ChatGLM2's rotary embedding to
    the wrong width: the teacher-forced check must flag it, and the report say so."""
    workdir = copy_workflow(tmp_path)
    snakemake(workdir, *RUN, "--configfile", "config/chatglm2-tiny.yaml")
    glm = json.loads((workdir / "resources/models/chatglm2-tiny/hf/config.json").read_text())
    assert glm["architectures"] == ["GlmForCausalLM"]
    prompts = json.loads((workdir / "results/prompts/chatglm2-tiny.json").read_text())
    assert all(ids[:2] == [64790, 64792] for ids in prompts["prompt_ids"])
    fastllm = read_record(workdir / "results/runs/chatglm2-tiny/fastllm/loop/0.json")
    assert fastllm.status == "ok" and fastllm.backend_info["model_type"] == "chatglm"
    import pandas as pd

    agreement = pd.read_csv(workdir / "results/agreement/chatglm2-tiny.csv")
    forced = agreement.groupby(["backend", "scenario"])["forced_agreement"].mean()
    assert (forced["hf"] == 1.0).all() and (forced["fastllm"] < 0.9).all(), forced
    md = (workdir / "results/report.md").read_text()
    assert "fastllm 在 loop 中**计算有误**" in md and "fastllm 在 threads 中**计算有误**" in md
    assert md.count("**计算有误**") == 2 + 2  # the sentences and the verdict column: FastLLM's alone
    assert (forced["llamacpp"] == 1.0).all()  # llama.cpp computes ChatGLM2 right, on the CPU too
