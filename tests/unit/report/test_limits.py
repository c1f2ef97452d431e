"""不足, one rule at a time: each rule says its note when its condition holds, and nothing otherwise."""

import dataclasses

import pandas as pd
import pytest

from llmbench.report import limits as L
from llmbench.report.strings import load_strings
from records import record, scenario

T = load_strings("en")
LOOP = scenario("loop")
COLUMNS = ["model", "backend", "scenario", "metric", "n", "mean", "ci95_low", "ci95_high", "ci_unit"]


def facts(records=(), manifests=None, rows=(), roofline=None, diagnosis=None, reference="hf") -> L.Facts:
    return L.Facts(
        list(records),
        manifests or {},
        pd.DataFrame(list(rows), columns=COLUMNS),
        roofline if roofline is not None else pd.DataFrame(columns=["backend", "scenario", "fraction"]),
        diagnosis or {},
        reference,
        T,
    )


def row(metric, mean, n=3, half=0.0, backend="hf", unit="replica"):
    return ("tiny", backend, "loop", metric, n, mean, mean - half, mean + half, unit)


@pytest.mark.parametrize("rule", L.RULES, ids=lambda r: r.__name__)
def test_with_nothing_to_say_a_rule_says_nothing(rule):
    """One measured GPU-less reference run with plain numbers: only the CPU note and the CPU-only
    rules speak; everything else is silent."""
    quiet = facts([record("hf", "loop", LOOP, gpu=True)], rows=[row("output_tokens_per_s", 100.0)])
    assert rule(quiet) == []


def test_synthetic_weights_name_the_model_and_preset():
    manifests = {
        "tiny": {"source": {"source": "synthetic", "preset": "tiny"}},
        "real": {"source": {"source": "hub"}},
    }
    assert L.synthetic_weights(facts(manifests=manifests)) == [
        T.f("limits.synthetic", model="tiny", preset="tiny")
    ]


def test_a_tpot_under_twice_the_token_clock_is_named():
    rows = [row("token_clock_ms", 0.5), row("tpot_ms", 0.9)]
    assert L.coarse_token_clock(facts(rows=rows)) == [T.f("limits.clock", runs="tiny/hf/loop (0.900 ms)")]
    assert L.coarse_token_clock(facts(rows=[row("token_clock_ms", 0.5), row("tpot_ms", 1.1)])) == []


def test_runs_near_or_past_the_roofline_are_named():
    roofline = pd.DataFrame(
        {"backend": ["hf", "fastllm"], "scenario": ["loop", "loop"], "fraction": [0.5, 0.97]}
    )
    assert L.near_the_roofline(facts(roofline=roofline)) == [T.f("limits.roofline", runs="fastllm/loop")]


def test_a_throughput_ci_wider_than_5_pct_is_noisy():
    noisy = facts(rows=[row("output_tokens_per_s", 100.0, half=6.0)])
    assert L.noisy_throughput(noisy) == [T.f("limits.noisy", pct=L.NOISY_CI_PCT, runs="hf/loop")]
    assert L.noisy_throughput(facts(rows=[row("output_tokens_per_s", 100.0, half=4.0)])) == []


def test_cpu_bound_runs_come_from_the_diagnosis_per_run_and_per_level_of_a_sweep():
    cpu = T.limited.cpu_prefix + " …"
    diagnosis = {
        ("tiny", "hf", "loop", None): cpu,
        ("tiny", "fastllm", "loop", None): "gpu",
        ("tiny", "hf", "sweep", 1): cpu,
        ("tiny", "hf", "sweep", 32): "gpu",
    }
    assert L.cpu_bound(facts(diagnosis=diagnosis)) == [T.f("limits.cpu_bound", runs="hf/loop, hf/sweep (1)")]


def test_fewer_than_3_units_is_a_small_n():
    small = facts(rows=[row("output_tokens_per_s", 100.0, n=2, unit="pass")])
    assert L.small_n(small) == [T.f("limits.small_n", runs=f"hf/loop (n = 2 {T.units['pass']})")]


def test_cpu_runs_are_named_unless_every_run_was_and_nvml_is_missing():
    on_cpu = record("hf", "loop", LOOP, gpu=False)
    assert L.on_the_cpu(facts([on_cpu, record("fastllm", "loop", LOOP, gpu=True)])) == [
        T.f("limits.cpu", runs="tiny/hf/loop")
    ]
    on_cpu.resources.nvml_available, on_cpu.resources.nvml_reason = False, "no driver"
    assert L.on_the_cpu(facts([on_cpu])) == [T.f("limits.cpu_only", reason="no driver")]
    assert L.what_nvml_missed(facts([on_cpu])) == []  # said once, by on_the_cpu


def test_backends_on_different_cpu_thread_counts_are_named():
    hf, fastllm = record("hf", "loop", LOOP), record("fastllm", "loop", LOOP)
    hf.backend_info = {"torch_threads": 2}
    assert L.unequal_cpu_threads(facts([hf, fastllm])) == [T.f("limits.threads", items="hf 2, fastllm 1")]
    hf.backend_info = {"torch_threads": 1}
    assert L.unequal_cpu_threads(facts([hf, fastllm])) == []


def test_failed_invalid_and_flagged_runs_each_say_why():
    failed = record("hf", "loop", LOOP, status="failed")
    invalid = record("fastllm", "loop", LOOP, status="invalid")
    notes = L.run_outcomes(facts([failed, invalid]))
    assert notes[0] == T.f("limits.failed", run=failed.run, reason=failed.reason)
    assert notes[1].startswith(T.f("limits.invalid", run=invalid.run, reason="pass 0 query 0")[:20])
    assert len(notes) == 3  # the invalid run's flag too


def test_remote_code_and_the_unapplied_generation_config_are_said():
    run = record("hf", "loop", LOOP)
    run.backend_info = {"trust_remote_code": True, "checkpoint_generation_config_not_applied": {"top_p": 0.8}}
    assert L.remote_code(facts([run])) == [T.f("limits.remote_code", runs="tiny/hf/loop")]
    assert L.generation_config_not_applied(facts([run])) == [
        T.f("limits.generation_config", settings="top_p 0.8")
    ]


def test_a_reference_backend_that_measured_nothing_is_said():
    assert L.no_reference(facts([record("fastllm", "loop", LOOP)])) == [
        T.f("limits.no_reference", reference="hf")
    ]
    assert L.no_reference(facts([record("hf", "loop", LOOP, status="failed")], reference="hf")) != []


def test_processes_whose_code_recorded_no_host_state_are_named():
    """Records from before host state was recorded (no canary, no host segment) render and say so:
    by name where some processes have it, "every process" where none has."""
    new = record("hf", "loop", LOOP, replica=0)
    old = record("hf", "loop", LOOP, replica=1)
    old.host = {}
    assert L.host_not_recorded(facts([new, old])) == [T.f("limits.host_not_recorded", runs="tiny/hf/loop/1")]
    assert L.host_not_recorded(facts([old])) == [T.f("limits.host_not_recorded", runs=T.limits.every_process)]
    assert L.host_not_recorded(facts([new])) == []


def test_queries_the_tokenizer_did_not_cover_are_said_per_model():
    """A model whose tokenizer turned the prompts into its unknown token was warned about on
    the console only: the report, which outlives the console, said nothing."""
    warning = "query 0 ('标题'): 100% of its 11 token ids are the unknown token 0"
    note = T.f("limits.prompt_warning", model="mine", warning=warning)
    base = facts()
    warned = dataclasses.replace(base, prompt_warnings={"mine": [warning], "tiny": []})
    assert L.prompts_not_covered(warned) == [note]
    assert L.prompts_not_covered(base) == []
    args = (base.records, base.manifests, base.summary, base.roofline, base.diagnosis, "hf", T)
    assert L.limits(*args, {"mine": [warning]}).count(note) == 1
    assert note not in L.limits(*args)
