"""The serving block's cost line: a served backend set beside its in-process engine only where both did the
same engine work."""

import pytest

from llmbench.report.serving import one_chunk_sentences, server_costs
from llmbench.report.strings import load_strings
from records import record, scenario

T = load_strings("en")


def pair(served_info: dict, engine_info: dict, speed: float = 1.0):
    fixed = scenario("fixed")
    engine = record("fastllm", "fixed", fixed)
    engine.backend_info = engine_info
    served = record("fastllm-server", "fixed", fixed, speed=speed, seed=1)
    served.backend_info = {"served": True, "engine": "fastllm", **served_info}
    return [engine, served]


def test_a_server_with_its_engines_threads_gets_its_cost_in_percent():
    records = pair({"cpu_threads": 1}, {"cpu_threads": 1})
    served = [p.total_ms for p in records[1].measurement.passes()]
    own = [p.total_ms for p in records[0].measurement.passes()]
    expected = 100.0 * (sum(served) / len(served) / (sum(own) / len(own)) - 1.0)
    [line] = server_costs(records, T)
    assert line.startswith("fastllm-server costs ") and f"{expected:+.1f} %" in line


@pytest.mark.parametrize(
    "served_info, engine_info, named",
    [
        ({"cpu_threads": 14}, {"cpu_threads": 1}, "cpu_threads 14 / 1"),
        ({"cpu_threads": 2, "kv_type": "f16"}, {"cpu_threads": 2, "kv_type": "f32"}, "kv_type f16 / f32"),
    ],
)
def test_a_server_run_with_other_engine_settings_gets_no_figure_but_the_settings_named(
    served_info, engine_info, named
):
    [line] = server_costs(pair(served_info, engine_info), T)
    assert "is not set against its in-process engine fastllm" in line and named in line
    assert " costs " not in line


def test_open_loop_requests_whose_tokens_came_in_one_chunk_are_counted_and_named():
    """TPOT and ITL of 0 in the open-loop table (ftllm serve streamed a tiny model's 16 tokens in one read) are
    the stream's granularity: the block says how many requests they are, per backend, and only where any."""
    open_loop = scenario("open-loop", rates=[1.0, 2.0], requests=2, output_tokens=4)
    served = record("fastllm-server", "open", open_loop)
    requests = [q for lv in served.measurement.levels for p in lv.passes for q in p.requests]
    for q in requests[:3]:
        q.itl_ms = [0.0] * len(q.itl_ms)
    engine = record("fastllm", "open", open_loop)
    [line] = one_chunk_sentences([engine, served], T)
    share = f"{100 * 3 / len(requests):.0f} %"
    assert (
        line.startswith("fastllm-server: ") and f"{share} of its {len(requests)} open-loop requests" in line
    )
    assert one_chunk_sentences([engine], T) == []
