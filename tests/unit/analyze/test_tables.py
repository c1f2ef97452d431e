"""Derived tables: the roofline only with the bandwidth of the GPU that ran; memory split into what it is."""

import math

import pytest

from llmbench.analyze.summary import summary_table
from llmbench.analyze.tables import coarse_clock_runs, resources_table, roofline_table
from records import MIB, record, scenario

MODELS = {"tiny": {"parameter_bytes": 10_000 * MIB, "decode_bytes": 1e9}}
BANDWIDTH = {
    "device": "cuda",
    "available": True,
    "name": "NVIDIA Test GPU",
    "uuid": "GPU-test",
    "bytes_per_s": 4e12,
    "context_bytes": 500 * MIB,
}


def tables(records, bandwidth=BANDWIDTH):
    summary = summary_table(records)
    return roofline_table(summary, records, MODELS, bandwidth), resources_table(
        summary, MODELS, bandwidth, records
    )


def test_only_batch_1_levels_meet_the_roofline():
    sweep = scenario("sweep", output_tokens=4, input_tokens=8, concurrency=[1, 4])
    records = [
        record("hf", "loop", scenario("loop", output_tokens=4), gpu=True),
        record("hf", "threads", scenario("threads", output_tokens=4), gpu=True),
        record("hf", "sweep", sweep, gpu=True),
    ]
    roofline, _ = tables(records)
    assert [
        (r.scenario, None if math.isnan(r.concurrency) else r.concurrency) for r in roofline.itertuples()
    ] == [("loop", None), ("sweep", 1)]
    row = roofline.iloc[0]
    assert row.bound_tok_s == pytest.approx(4000.0) and row.fraction == pytest.approx(row.decode_tok_s / 4000)
    assert row.fraction_low < row.fraction < row.fraction_high and row.note == ""


def test_a_bandwidth_from_another_gpu_draws_no_bound():
    records = [record("hf", "loop", scenario("loop", output_tokens=4), gpu=True)]
    roofline, _ = tables(records, {**BANDWIDTH, "uuid": "GPU-other"})
    assert (
        math.isnan(roofline.iloc[0].fraction)
        and roofline.iloc[0].note == "bandwidth measured on another device than this run's"
    )
    roofline, _ = tables(
        records, {"device": "cuda", "available": False, "reason": "torch sees no CUDA device"}
    )
    assert math.isnan(roofline.iloc[0].bound_tok_s) and "torch sees no CUDA device" in roofline.iloc[0].note


@pytest.mark.parametrize("gpu", [False, True])
def test_each_roofline_row_says_whose_memory_bounds_it(gpu):
    """A CPU-only run drew a bound while the roofline section spoke of the GPU's bandwidth: each row
    now names the memory whose copy bandwidth bounds it (host for a CPU run), and none without a bound."""
    records = [record("hf", "loop", scenario("loop", output_tokens=4), gpu=gpu)]
    bandwidth = BANDWIDTH if gpu else {**BANDWIDTH, "device": "cpu", "uuid": None, "name": "cpu"}
    roofline, _ = tables(records, bandwidth)
    assert roofline.iloc[0].bound_memory == ("gpu" if gpu else "host") and roofline.iloc[0].fraction > 0
    elsewhere, _ = tables(records, {**bandwidth, "device": "cuda" if not gpu else "cpu", "uuid": "GPU-other"})
    assert math.isnan(elsewhere.iloc[0].fraction) and elsewhere.iloc[0].bound_memory == ""


def test_a_decode_rate_from_a_token_clock_too_coarse_for_it_is_marked_in_the_roofline():
    """FastLLM's batch-1 bar reached ~3,062 % of the bound from TPOTs its 0.58 ms token clock cannot
    resolve; the limits call those TPOTs artefacts, and the roofline row says so (clock_coarse)."""
    loop = scenario("loop", output_tokens=4)
    runs = (("hf", "loop", 1.0), ("fastllm", "loop", 40.0), ("fastllm", "slow", 1.0))
    records = [record(b, name, loop, speed=v) for b, name, v in runs]
    summary = summary_table(records)
    roofline = roofline_table(summary, records, MODELS, {**BANDWIDTH, "device": "cpu", "uuid": None})
    coarse = {(r.backend, r.scenario): r.clock_coarse for r in roofline.itertuples()}
    assert coarse == {("hf", "loop"): False, ("fastllm", "loop"): True, ("fastllm", "slow"): False}


def test_a_decode_rate_lifted_by_one_replica_stamped_too_fast_is_marked_though_the_mean_tpot_is_not():
    """A newcomer's fastllm batch-1 row: 1,885 tok/s (0.53 ms a token) against a 0.635 ms clock, drawn as
    a valid bar, because the check read the mean TPOT (5.5 ms: the other replica was slow)."""
    loop = scenario("loop", output_tokens=4)
    records = [record("fastllm", "loop", loop, speed=v, replica=r, seed=r) for r, v in enumerate((40.0, 0.5))]
    summary = summary_table(records)
    means = summary.set_index("metric")["mean"]
    assert means["tpot_ms"] > 2 * 0.58 and 1000 / means["decode_tokens_per_s"] < 2 * 0.58  # the case
    roofline = roofline_table(summary, records, MODELS, {**BANDWIDTH, "device": "cpu", "uuid": None})
    assert roofline.clock_coarse.tolist() == [True]
    assert coarse_clock_runs(summary) == {
        ("tiny", "fastllm", "loop"): pytest.approx(1000 / means["decode_tokens_per_s"])
    }


def test_memory_is_split_into_weights_and_what_lies_beyond_them():
    _, resources = tables([record("hf", "loop", scenario("loop", output_tokens=4), gpu=True)])
    row = resources.iloc[0]
    assert row.weights_mib == 10_000 and row.context_mib == 500 and row.gpu_process_peak_mib == 12_000
    assert row.beyond_weights_mib == 2_000 and row.torch_max_allocated_mib == 11_000
    assert row.gpu_busy_pct == pytest.approx(90) and row.energy_j_per_output_token > 0
    _, on_cpu = tables([record("hf", "loop", scenario("loop", output_tokens=4))])
    assert math.isnan(on_cpu.iloc[0].context_mib) and math.isnan(on_cpu.iloc[0].beyond_weights_mib)


def test_a_rate_and_its_fraction_of_the_bound_stay_above_zero():
    """Two processes 20x apart: a plain t interval's lower end was below 0 (a CPU run showed
    "358.7 % (-887.0 %–1604.5 %)" and a decode rate's CI reached -957,740 tok/s); the rate's interval is
    now taken on the log scale, so the rate and its fraction of the bound stay above 0 and bracket the mean."""
    loop = scenario("loop", output_tokens=4)
    records = [
        record("hf", "loop", loop, replica=0, speed=1.0, gpu=True),
        record("hf", "loop", loop, replica=1, speed=20.0, gpu=True),
    ]
    decode = summary_table(records).query("metric == 'decode_tokens_per_s'").iloc[0]
    assert 0 < decode.ci95_low < decode["mean"] < decode.ci95_high
    roofline, _ = tables(records)
    row = roofline.iloc[0]
    assert 0 < row.decode_ci95_low and 0 < row.fraction_low < row.fraction < row.fraction_high


def test_weights_on_the_device_come_from_the_backend_and_the_table_says_which_source():
    """llama.cpp's log on the H200 put 11,401 MiB on CUDA0 and the 508 MiB embedding on the host: its
    'beyond weights' is the peak minus 11,401, not minus the parameter bytes. A replica whose log no
    longer holds the lines (threads: context rebuilds pushed them out) takes its backend's."""
    loop, threads = scenario("loop", output_tokens=4), scenario("threads", output_tokens=4)
    llama = record("llamacpp", "loop", loop, gpu=True)
    llama.backend_info = {
        "buffers": [
            "load_tensors: CUDA0 model buffer size = 9000.00 MiB",
            "load_tensors: CUDA_Host model buffer size = 500.00 MiB",
        ]
    }
    rebuilt = record("llamacpp", "threads", threads, gpu=True)
    rebuilt.backend_info = {"buffers": ["llama_kv_cache: CUDA0 KV buffer size = 42.00 MiB"]}
    silent = record("fastllm", "loop", loop, gpu=True)
    _, resources = tables([llama, rebuilt, silent])
    rows = resources.set_index(["backend", "scenario"])
    for where in (("llamacpp", "loop"), ("llamacpp", "threads")):
        assert rows.loc[where].weights_mib == 9000 and rows.loc[where].weights_source == "model_buffers"
        assert rows.loc[where].weights_host_mib == 500 and rows.loc[where].beyond_weights_mib == 3000
    assert rows.loc[("fastllm", "loop")].weights_source == "parameter_bytes"
    assert rows.loc[("fastllm", "loop")].weights_mib == 10_000


@pytest.mark.parametrize("segments_kept", [True, False])
def test_a_sweeps_energy_gpu_busy_and_cpu_time_are_per_level_never_one_mixed_figure(segments_kept):
    """hf's H200 sweep printed 0.493 J/token over batch 1 (~6) and batch 32 (~0.2) together."""
    sweep = scenario("sweep", output_tokens=4, input_tokens=8, concurrency=[1, 4])
    run = record("hf", "sweep", sweep, gpu=True)
    run.resources.segments[1].update(energy_j=3.0, cpu_s=1.2, gpu_busy_fraction=0.5, window_s=2.4)
    if not segments_kept:  # a record written before segments were kept
        run.resources.segments = []
    _, resources = tables([run])
    whole = resources[resources.concurrency.isna()].iloc[0]
    assert all(math.isnan(whole[m]) for m in ("energy_j_per_output_token", "gpu_busy_pct", "cpu_cores"))
    levels = resources[resources.concurrency.notna()].set_index("concurrency")
    if not segments_kept:
        assert levels.empty and whole.levels == 2
        return
    tokens = {lv.concurrency: sum(p.output_tokens for p in lv.passes) for lv in run.measurement.levels}
    assert levels.loc[1].energy_j_per_output_token == pytest.approx(30.0 / tokens[1])
    assert levels.loc[4].energy_j_per_output_token == pytest.approx(3.0 / tokens[4])
    assert levels.loc[1].cpu_cores == pytest.approx(0.25 / 1.2) and levels.loc[4].cpu_cores == pytest.approx(
        0.5
    )
    assert levels.loc[1].gpu_busy_pct == pytest.approx(90) and levels.loc[4].gpu_busy_pct == pytest.approx(50)


def test_gpu_busy_is_not_quoted_on_a_window_shorter_than_nvmls_averaging_period():
    run = record("hf", "loop", scenario("loop", output_tokens=4), gpu=True)
    run.resources.segments[0]["window_s"] = 0.3
    _, resources = tables([run])
    assert math.isnan(resources.iloc[0].gpu_busy_pct) and resources.iloc[0].cpu_cores == pytest.approx(
        0.25 / 0.3
    )


def test_cost_rows_of_a_table_without_runs_keeps_its_columns():
    """Every run failed: the resources table has no rows, and the energy point still finds its column."""
    import pandas as pd

    from llmbench.analyze.tables import RESOURCE_COLUMNS, cost_rows, run_rows

    empty = pd.DataFrame(columns=RESOURCE_COLUMNS)
    assert list(cost_rows(empty).columns) == RESOURCE_COLUMNS
    assert list(run_rows(empty).columns) == RESOURCE_COLUMNS


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("backend", ["hf", "hf-compile", "fastllm", "llamacpp"])
def test_a_run_without_a_gpu_says_its_weights_are_in_host_memory_never_on_the_gpu(backend, language):
    """A newcomer's CPU run: the memory table said 'weights on the GPU' and 'assumed all on the GPU' for
    every backend, llama.cpp's too (whose host buffers it had logged)."""
    from llmbench.report.strings import load_strings
    from llmbench.report.tables import memory_table

    t = load_strings(language)
    run = record(backend, "loop", scenario("loop", output_tokens=4))
    run.backend_info = {"buffers": ["load_tensors: CPU_Mapped model buffer size = 3.39 MiB"]}
    _, resources = tables([run], bandwidth={"device": "cpu", "available": False})
    row = resources.iloc[0]
    assert row.weights_source == "host_run" and row.weights_mib == 10_000
    table = memory_table(resources, t, single_model=True)
    text = str(table.headers) + str(table.rows)
    assert "on the GPU" not in text and "GPU 上" not in text and t.weights_sources.host_run in text, text
