"""The precision axis end to end on CPU (config/precision.yaml): every backend in the model dtype
and on quantized weights - transformers torchao int8/int4, FastLLM int8/int4, llama.cpp Q8_0,
Q4_K_M, Q4_0 - reaches the summary, the precision table with its quality figures, and the report;
bad weights are refused before anything runs."""

import math

import pandas as pd
import pytest

from conftest import copy_workflow
from llmbench.analyze.summary import read_summary
from llmbench.record import read_record, split_runner
from workflow import RUN, snakemake

pytestmark = pytest.mark.workflow
CONFIG = ["--configfile", "config/precision.yaml"]


@pytest.fixture(scope="module")
def precision_run(tmp_path_factory):
    workdir = copy_workflow(tmp_path_factory.mktemp("precision"))
    snakemake(workdir, *RUN, *CONFIG, timeout=1800)
    return workdir


def test_every_quantized_run_reaches_the_summary_with_its_own_artifact(precision_run):
    import yaml

    weights = yaml.safe_load((precision_run / "config/precision.yaml").read_text())["models"]["tiny"][
        "weights"
    ]
    expected = {b for b in ("hf", "fastllm", "llamacpp")} | {
        f"{b}+{w}" for b, ws in weights.items() for w in ws
    }
    summary = read_summary(precision_run / "results/summary.csv")
    runs = summary.drop_duplicates(["backend", "scenario"])
    assert set(runs.backend) == expected
    assert (runs.status == "ok").all(), runs[["backend", "reason"]]
    for path in (precision_run / "results/runs/tiny").rglob("*.json"):
        record = read_record(path)
        backend, fmt = split_runner(record.key.runner)
        assert record.spec.weights == fmt
        if fmt and backend != "hf":  # converted files: one per format, named after it
            assert fmt in record.spec.artifact
    assert (precision_run / "resources/models/tiny/fastllm-int4.flm").stat().st_size > 0
    assert (precision_run / "resources/models/tiny/llamacpp-float32-Q4_K_M.gguf").stat().st_size > 0


def test_quality_speed_and_memory_of_every_quantized_run_are_computed(precision_run):
    table = pd.read_csv(precision_run / "results/tables/precision.csv")
    quantized = table[table.weights.notna()]
    assert len(quantized) == 7 and set(table.backend) == {"hf", "fastllm", "llamacpp"}
    assert quantized.top1.between(0, 1).all() and quantized.top1_ci95_low.notna().all()
    assert (table[table.weights.isna()].top1 == 1.0).all()  # float32 floors compute what the reference does
    assert quantized.decode_tok_s.gt(0).all() and quantized.memory_mib.gt(0).all()
    # llama.cpp and transformers give logits: KL divergence from the float32 reference
    with_logits = table[table.backend.isin(["llamacpp", "hf"])]
    assert with_logits.kl_mean.notna().all()
    assert (with_logits[with_logits.weights.isna()].kl_mean < 1e-3).all()
    assert (with_logits[with_logits.weights.notna()].kl_mean > 0).all()
    assert table[table.backend == "fastllm"].kl_mean.isna().all()
    # stored bits: what llama.cpp's file holds (the tiny model's K-quants fall back to wider types)
    llamacpp = table[table.backend == "llamacpp"].set_index("runner")
    assert llamacpp.loc["llamacpp+Q4_0", "bits_per_weight"] < llamacpp.loc["llamacpp+Q8_0", "bits_per_weight"]
    assert not math.isnan(llamacpp.loc["llamacpp+Q4_K_M", "bits_per_weight"])


def test_quantized_runs_are_judged_by_their_cost_and_reach_the_report(precision_run):
    md = (precision_run / "results/report.md").read_text()
    assert "### 精度：量化权重（int8 / int4）" in md
    assert "![plots/precision.png](plots/precision.png)" in md
    for runner in ("fastllm+int4", "llamacpp+Q4_K_M", "hf+torchao-int4"):
        assert f"| {runner} |" in md
    assert "随机的：质量代价的绝对数值意义不大" in md
    assert "fastllm 用 int4 权重：解码" in md and "llamacpp 用 Q4_0 权重：解码" in md
    agreement = pd.read_csv(precision_run / "results/agreement/tiny.csv")
    assert agreement.backend.str.contains("+", regex=False).any()  # checked, teacher-forced
    correctness = md.split("### 正确性", 1)[1].split("\n## ", 1)[0]
    assert "+" not in correctness  # judged by their cost above, not as computing wrongly or rounding


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("weights", "device", "message"),
    [
        (
            {"llamacpp": ["int4"]},
            "auto",
            "models.tiny.weights.llamacpp.0: unknown llamacpp weight format `int4`",
        ),
        (
            {"fastllm": ["Q4_K_M"]},
            "auto",
            "models.tiny.weights.fastllm.0: unknown fastllm weight format `Q4_K_M`",
        ),
        ({"hf": ["bnb-nf4"]}, "cpu", "models.tiny.weights.hf: bnb-nf4 runs only on cuda"),
    ],
)
def test_bad_weights_are_refused_before_anything_runs(tmp_path, weights, device, message):
    import yaml

    workdir = copy_workflow(tmp_path / "workflow")
    config = yaml.safe_load((workdir / "config/precision.yaml").read_text())
    config["models"]["tiny"]["weights"] = weights
    config["device"] = device
    (workdir / "bad.yaml").write_text(yaml.safe_dump(config, allow_unicode=True))
    done = snakemake(workdir, "-n", *RUN, "--configfile", "bad.yaml", check=False)
    assert done.returncode != 0
    assert message in done.stdout + done.stderr
    assert not (workdir / "resources").exists()
