"""Scenario logic with a stand-in backend: prompts, passes, sweeps, length verification."""

import threading
import time

import pytest

from llmbench.backends.base import Backend, Generation, now
from llmbench.scenarios import fixed_prompts, length_problems, levels, measure, scenario_prompts


class Echo(Backend):
    """Generates `output_tokens` copies of the prompt's first id, 1 ms a token; counts concurrency."""

    def __init__(self, short_by=0):
        super().__init__(None)
        self.short_by, self.active, self.peak, self.calls = short_by, 0, 0, 0
        self._lock = threading.Lock()

    def load(self):
        pass

    def generate(self, prompt_ids, output_tokens):
        with self._lock:
            self.active += 1
            self.calls += 1
            self.peak = max(self.peak, self.active)
        start, times = now(), []
        for _ in range(output_tokens - self.short_by):
            time.sleep(0.001)
            times.append(now())
        with self._lock:
            self.active -= 1
        return Generation([prompt_ids[0]] * (output_tokens - self.short_by), start, times, now())


def settings(**overrides):
    base = {"type": "fixed", "output_tokens": 4, "input_tokens": 8, "requests": 3, "warmup_requests": 1,
            "repetitions": 2, "min_duration_s": 0, "workers": 5, "concurrency": [1, 2, 4], "batching": False,
            "seed": 0}  # fmt: skip
    return {**base, **overrides}


def test_fixed_prompts_are_exact_deterministic_and_avoid_special_ids():
    prompts = fixed_prompts(3, 8, vocab_size=100, seed=1)
    assert [len(p) for p in prompts] == [8, 8, 8]
    assert (
        prompts == fixed_prompts(3, 8, vocab_size=100, seed=1) != fixed_prompts(3, 8, vocab_size=100, seed=2)
    )
    assert all(3 <= t < 100 for p in prompts for t in p)


def test_queries_are_used_by_the_article_scenarios_and_random_ids_by_the_others():
    queries = [[1, 2], [3]]
    assert scenario_prompts(settings(type="loop"), queries, 100) is queries
    assert [len(p) for p in scenario_prompts(settings(), queries, 100)] == [8, 8, 8]
    assert len(scenario_prompts(settings(type="sweep"), queries, 100)) == 4  # the largest level


def test_fixed_measures_sequential_passes_with_warmup_excluded():
    backend = Echo()
    prompts = fixed_prompts(3, 8, 100, 0)
    result = measure(backend, prompts, settings())
    assert backend.calls == 1 + 2 * 3 and backend.peak == 1
    assert len(result["repetitions"]) == 2 and result["valid"] and result["prompts"] == prompts
    request = result["repetitions"][0]["requests"][0]
    assert request["prompt_tokens"] == 8 and request["output_tokens"] == 4 and len(request["itl_ms"]) == 3
    assert request["ttft_ms"] < request["e2e_ms"]


@pytest.mark.parametrize("batching", [False, True])
def test_sweep_runs_each_level_with_that_many_simultaneous_requests(batching):
    backend = Echo()
    calls = []
    start, end = (lambda: calls.append("start")), (lambda: calls.append("end"))
    result = measure(
        backend,
        fixed_prompts(4, 8, 100, 0),
        settings(type="sweep", batching=batching, output_tokens=50),
        start,
        end,
    )
    assert [lv["concurrency"] for lv in result["levels"]] == [1, 2, 4]
    assert [len(lv["repetitions"][0]["requests"]) for lv in result["levels"]] == [1, 2, 4]
    assert backend.peak == 4 and calls == ["start", "end"]
    assert levels(result) == result["levels"]


def test_wrong_lengths_make_the_run_invalid_with_each_request_named():
    result = measure(Echo(short_by=1), fixed_prompts(2, 8, 100, 0), settings(requests=2, repetitions=1))
    assert not result["valid"]
    assert result["invalid_reasons"] == [
        "repetition 0 query 0: 3 output tokens, 4 asked",
        "repetition 0 query 1: 3 output tokens, 4 asked",
    ]
    assert length_problems([{"requests": [{"query_index": 0, "output_tokens": 4}]}], 4) == []


def test_min_duration_keeps_repeating_past_the_minimum_count():
    result = measure(
        Echo(), fixed_prompts(1, 8, 100, 0), settings(requests=1, repetitions=1, min_duration_s=0.1)
    )
    assert len(result["repetitions"]) > 1 and result["measured_s"] >= 0.1
