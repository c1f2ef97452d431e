"""Derived tables: the roofline only with the bandwidth of the GPU that ran; memory split into what it is."""

import math

import pytest

from llmbench.analyze.summary import summary_table
from llmbench.analyze.tables import resources_table, roofline_table
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
    return roofline_table(summary, records, MODELS, bandwidth), resources_table(summary, MODELS, bandwidth)


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


def test_memory_is_split_into_weights_and_what_lies_beyond_them():
    _, resources = tables([record("hf", "loop", scenario("loop", output_tokens=4), gpu=True)])
    row = resources.iloc[0]
    assert row.weights_mib == 10_000 and row.context_mib == 500 and row.gpu_process_peak_mib == 12_000
    assert row.beyond_weights_mib == 2_000 and row.torch_max_allocated_mib == 11_000
    assert row.gpu_busy_pct == pytest.approx(90) and row.energy_j_per_output_token > 0
    _, on_cpu = tables([record("hf", "loop", scenario("loop", output_tokens=4))])
    assert math.isnan(on_cpu.iloc[0].context_mib) and math.isnan(on_cpu.iloc[0].beyond_weights_mib)


def test_a_fraction_of_the_bound_stops_at_zero():
    """Two processes 20x apart: the t interval's lower end is below 0 (a CPU run showed
    "358.7 % (-887.0 %–1604.5 %)"); the fraction shown as low–high is not negative, the rate
    keeps its symmetric interval (shown as mean ± half-width)."""
    loop = scenario("loop", output_tokens=4)
    records = [
        record("hf", "loop", loop, replica=0, speed=1.0, gpu=True),
        record("hf", "loop", loop, replica=1, speed=20.0, gpu=True),
    ]
    summary = summary_table(records)
    assert summary[summary.metric == "decode_tokens_per_s"].ci95_low.iloc[0] < 0
    roofline, _ = tables(records)
    row = roofline.iloc[0]
    assert row.decode_ci95_low < 0 and row.fraction_low == 0 and row.fraction_high > row.fraction > 0
