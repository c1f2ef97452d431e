"""summary.csv: tidy, on the replication unit, one reader."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmbench.analyze.metrics import METRICS, pass_samples
from llmbench.analyze.summary import COLUMNS, read_summary, summary_table
from llmbench.record import Pass
from records import record, request, scenario

LOOP = scenario("loop", output_tokens=3, repetitions=3)


def test_samples_split_latency_into_submission_prefill_and_decode():
    requests = [request(0, 50.0, [10.0, 12.0], submit=0.0), request(1, 40.0, [11.0, 9.0], submit=72.0)]
    samples = pass_samples(Pass(total_ms=132.0, requests=requests))
    assert samples["ttft_ms"] == [50.0, 40.0] and samples["itl_ms"] == [10.0, 12.0, 11.0, 9.0]
    assert samples["tpot_ms"] == [11.0, 10.0] and samples["decode_tokens_per_s"] == [1000 / 11, 100.0]
    assert samples["e2e_ms"] == [72.0, 60.0] and samples["output_tokens_per_s"] == [6 / 0.132]


def test_one_row_per_run_level_and_metric_and_every_column(tmp_path):
    sweep = scenario("sweep", output_tokens=3, concurrency=[1, 2], input_tokens=4)
    records = [record("hf", "loop", LOOP), record("hf", "sweep", sweep)]
    summary_table(records).to_csv(tmp_path / "s.csv", index=False)
    summary = read_summary(tmp_path / "s.csv")
    assert list(summary.columns) == COLUMNS
    per_run = [m for m, spec in METRICS.items() if spec.per == "run"]
    per_pass = [m for m, spec in METRICS.items() if spec.per != "run"]
    loop = summary[summary.scenario == "loop"]
    assert len(loop) == len(per_run) + len(per_pass)
    assert sorted(summary.loc[summary.scenario == "sweep", "concurrency"].dropna().unique()) == [1, 2]
    assert str(summary["concurrency"].dtype) == "Int64" and summary["reason"].map(type).eq(str).all()


def test_replicas_are_the_unit_when_there_are_several():
    """Three processes, each steady inside but at its own speed: the interval must show
    the spread between processes, not the tiny one within each."""
    replicas = [
        record("hf", "loop", LOOP, replica=i, speed=speed, seed=i) for i, speed in enumerate((1.0, 1.3, 0.8))
    ]
    rows = summary_table(replicas).set_index("metric")
    tput = rows.loc["output_tokens_per_s"]
    assert tput["ci_unit"] == "replica" and tput["n"] == 3 and tput["passes"] == 9
    assert tput["std"] > 5 * tput["within_std"]
    single = summary_table(replicas[:1]).set_index("metric").loc["output_tokens_per_s"]
    assert (
        single["ci_unit"] == "pass"
        and single["n"] == 3
        and single["ci95_high"] - single["ci95_low"] < (tput["ci95_high"] - tput["ci95_low"])
    )


@settings(max_examples=15, deadline=None)
@given(st.lists(st.floats(0.05, 50.0), min_size=1, max_size=3), st.sampled_from(["replica", "pass"]))
def test_no_interval_of_a_quantity_that_cannot_be_negative_reaches_below_zero(speeds, unit):
    """FastLLM's batch-1 decode rate had a 95 % CI from -957,740 tok/s: processes (or passes of one)
    far apart in speed no longer give a time, rate or memory a negative bound, and each interval holds
    the mean printed beside it."""
    if unit == "replica":
        records = [record("hf", "loop", LOOP, replica=i, speed=v, seed=i) for i, v in enumerate(speeds)]
    else:
        records = [record("hf", "loop", LOOP, speed=speeds[0], seed=1)]
    rows = summary_table(records)
    positive = rows[rows.metric.map(lambda m: METRICS[m].positive) & rows.ci95_low.notna()]
    assert not positive.empty and (positive.ci95_low >= 0).all()
    assert (positive.ci95_low <= positive["mean"] * (1 + 1e-9)).all()
    assert (positive["mean"] <= positive.ci95_high * (1 + 1e-9)).all()


def test_percentiles_the_sample_cannot_support_are_left_out():
    rows = summary_table([record("hf", "loop", LOOP)]).set_index("metric")
    e2e = rows.loc["e2e_ms"]  # 3 passes x 5 requests = 15 samples
    assert e2e["samples"] == 15 and not math.isnan(e2e["p90"]) and math.isnan(e2e["p99"])
    assert not math.isnan(rows.loc["itl_ms", "p90"])


@pytest.mark.parametrize(
    "statuses, expected",
    [
        (["failed", "failed"], "failed"),
        (["ok", "failed"], "partial"),
        (["ok", "invalid"], "invalid"),
        (["ok", "ok"], "ok"),
    ],
)
def test_a_runs_status_sums_up_its_replicas(statuses, expected):
    records = [record("fastllm", "loop", LOOP, status=s, replica=i) for i, s in enumerate(statuses)]
    summary = summary_table(records)
    assert set(summary["status"]) == {expected}
    if expected == "failed":
        assert len(summary) == 1 and summary["metric"].iloc[0] == ""
        assert "replica 0: OutOfMemoryError" in summary["reason"].iloc[0]
    if expected == "partial":
        total = summary[summary.metric == "total_ms"].iloc[0]
        assert total["replicas"] == 2 and total["replicas_measured"] == 1 and total["ci_unit"] == "pass"
        assert "replica 1: OutOfMemoryError" in summary["reason"].iloc[0]
