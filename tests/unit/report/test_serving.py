"""The serving block's cost line: a served backend set beside its in-process engine only where both did the
same engine work."""

import pytest

from llmbench.report.serving import server_costs
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
