"""Measuring with a stand-in backend: prompts, warm-up, the window, the stopping rule,
latency from submission, length verification."""

import threading
import time

import pytest

from llmbench.backends.base import Backend, Generation
from llmbench.clock import now
from llmbench.measure.levels import (
    first_pass_outliers,
    fixed_prompts,
    measure,
    pass_spread,
    scenario_prompts,
    unbatched_steps,
    visits,
)
from llmbench.measure.passes import RUNNERS, run_threads
from llmbench.scenario_types import TYPES
from records import scenario


class Echo(Backend):
    """`output_tokens` copies of the prompt's first id, `token_s` a token; serialized by a lock
    when `serial` (as hf-compile's static cache is); counts tokens made while `window` is open."""

    def __init__(self, short_by=0, token_s=0.001, serial=False, window=None):
        super().__init__(None)
        self.short_by, self.token_s, self.window = short_by, token_s, window
        self.active = self.peak = self.calls = self.tokens_in_window = 0
        self._count = threading.Lock()
        self._serial = threading.Lock() if serial else None

    def load(self):
        pass

    def generate(self, prompt_ids, output_tokens):
        if self._serial:
            with self._serial:
                return self._generate(prompt_ids, output_tokens)
        return self._generate(prompt_ids, output_tokens)

    def _generate(self, prompt_ids, output_tokens):
        with self._count:
            self.active += 1
            self.calls += 1
            self.peak = max(self.peak, self.active)
        start, times = now(), []
        for _ in range(output_tokens - self.short_by):
            time.sleep(self.token_s)
            times.append(now())
            if self.window is not None and self.window.is_open:
                with self._count:
                    self.tokens_in_window += 1
        with self._count:
            self.active -= 1
        return Generation([prompt_ids[0]] * (output_tokens - self.short_by), start, times, now())


class CountingWindow:
    def __init__(self):
        self.is_open, self.opened = False, 0

    def open(self):
        self.is_open, self.opened = True, self.opened + 1

    def close(self):
        self.is_open = False


QUERIES = [[5, 6, 7], [8, 9], [10, 11, 12, 13], [14], [15, 16]]


def prompts_of(s):
    return scenario_prompts(s, QUERIES, vocab_size=100)


def test_fixed_prompts_are_exact_deterministic_and_avoid_special_ids():
    prompts = fixed_prompts(3, 8, vocab_size=100, seed=1)
    assert [len(p) for p in prompts] == [8, 8, 8]
    assert (
        prompts == fixed_prompts(3, 8, vocab_size=100, seed=1) != fixed_prompts(3, 8, vocab_size=100, seed=2)
    )
    assert all(3 <= t < 100 for p in prompts for t in p)


def test_queries_feed_the_article_scenarios_and_random_ids_the_others():
    assert prompts_of(scenario("loop")) == QUERIES == prompts_of(scenario("threads"))
    assert [len(p) for p in prompts_of(scenario("fixed", requests=3, input_tokens=8))] == [8, 8, 8]
    assert len(prompts_of(scenario("sweep", concurrency=[1, 4], input_tokens=8))) == 4


@pytest.mark.parametrize("kind", sorted(TYPES))
def test_the_window_covers_exactly_the_measured_tokens(kind):
    """Energy, CPU time and GPU busy are summed over the window and divided by the measured
    tokens: warm-up (a sweep's per-level warm wave included) must fall outside it."""
    extra = {"fixed": {"requests": 2, "input_tokens": 4}, "sweep": {"concurrency": [1, 2], "input_tokens": 4}}
    s = scenario(kind, output_tokens=3, warmup_passes=2, repetitions=2, **extra.get(kind, {}))
    window = CountingWindow()
    backend = Echo(window=window)
    measurement = measure(backend, prompts_of(s), s, window)
    assert backend.tokens_in_window / measurement.output_tokens == 1.0
    assert window.opened == len(visits(s.kind.levels(s)))
    assert backend.calls * 3 > measurement.output_tokens  # warm-up happened, outside the window


def test_warm_up_is_whole_passes_of_the_measured_shape():
    s = scenario("threads", output_tokens=4, warmup_passes=1, repetitions=1)
    backend = Echo(token_s=0.005)
    measure(backend, prompts_of(s), s)
    assert backend.calls == 2 * len(QUERIES) and backend.peak == len(QUERIES)


def test_the_stopping_rule_stops_at_the_target_or_the_time_cap():
    steady = scenario("loop", output_tokens=2, repetitions=2, target_ci_pct=50.0, max_duration_s=30)
    level = measure(Echo(), prompts_of(steady), steady).levels[0]
    assert level.stop_reason == "target" and level.headline_ci_pct <= 50 and len(level.passes) < 30
    impossible = scenario("loop", output_tokens=2, repetitions=2, target_ci_pct=1e-9, max_duration_s=0.3)
    level = measure(Echo(), prompts_of(impossible), impossible).levels[0]
    assert level.stop_reason == "time_cap" and level.measured_s >= 0.3 and len(level.passes) > 2
    plain = scenario("loop", output_tokens=2, repetitions=3)
    level = measure(Echo(), prompts_of(plain), plain).levels[0]
    assert level.stop_reason == "repetitions" and len(level.passes) == 3


def test_min_duration_keeps_repeating_past_the_minimum_count():
    s = scenario("fixed", output_tokens=2, requests=1, input_tokens=4, repetitions=1, min_duration_s=0.2)
    level = measure(Echo(token_s=0.01), prompts_of(s), s).levels[0]
    assert len(level.passes) > 1 and level.measured_s >= 0.2


@pytest.mark.parametrize("batching", [False, True])
def test_a_sweep_runs_each_level_with_that_many_simultaneous_requests(batching):
    s = scenario(
        "sweep",
        output_tokens=3,
        input_tokens=4,
        concurrency=[1, 2, 4],
        batching=batching,
        warmup_passes=0,
        repetitions=1,
    )
    backend = Echo(token_s=0.01)
    measurement = measure(backend, prompts_of(s), s)
    assert [lv.concurrency for lv in measurement.levels] == [1, 2, 4]
    assert [len(lv.passes[0].requests) for lv in measurement.levels] == [1, 2, 4]
    assert backend.peak == 4


def test_latency_counts_from_submission_not_from_a_free_worker():
    """Five queries on one pool thread: the last waits for four others, and its e2e says so.
    (Passes of ~300 ms: the pool's start and join, a few ms on a loaded machine, stay small.)"""
    s = scenario("threads", output_tokens=5, workers=1)
    p = run_threads(Echo(token_s=0.012), QUERIES, s, None)
    assert max(r.e2e_ms for r in p.requests) >= 0.9 * p.total_ms
    assert sorted(r.queue_ms for r in p.requests)[-1] >= 0.7 * p.total_ms


def test_a_backend_lock_counts_in_the_latency_of_those_waiting_for_it():
    s = scenario("threads", output_tokens=5, workers=5)
    p = run_threads(Echo(token_s=0.012, serial=True), QUERIES, s, None)
    assert max(r.e2e_ms for r in p.requests) >= 0.9 * p.total_ms


def test_wrong_lengths_make_the_run_invalid_with_each_request_named():
    s = scenario("fixed", output_tokens=4, requests=2, input_tokens=3, repetitions=2)
    measurement = measure(Echo(short_by=1), prompts_of(s), s)
    assert not measurement.valid
    assert "pass 1 query 1: 3 output tokens, 4 asked" in measurement.invalid_reasons
    assert len(measurement.invalid_reasons) == 4


def test_a_first_pass_far_from_the_rest_is_flagged():
    s = scenario("loop", output_tokens=2, repetitions=5)
    measurement = measure(Echo(), prompts_of(s), s)
    passes = measurement.levels[0].passes
    for p in passes:
        p.total_ms = 100.0 + 0.5 * passes.index(p)
    assert first_pass_outliers(measurement) == []
    passes[0].total_ms = 160.0  # 38 % slower than the others
    (flag,) = first_pass_outliers(measurement)
    assert flag["code"] == "first_pass_slower" and flag["pct"] >= 35


class Steps(Backend):
    """A batch backend whose decode step at batch c costs `cost(c)` x `step_s`; every `slow_every`-th
    pass (1-based, 0: none) steps its sequences one after another instead (c x step_s), as
    llama.cpp did on every other pass (issue 24). Records the concurrency of each call."""

    def __init__(self, cost, step_s=0.01, slow_every=0):
        super().__init__(None)
        self.cost, self.step_s, self.slow_every = cost, step_s, slow_every
        self.batches, self.prepared = [], None

    def load(self):
        pass

    def prepare(self, concurrency, sequence_tokens):
        self.prepared = (concurrency, sequence_tokens)

    def generate(self, prompt_ids, output_tokens):
        return self.generate_batch([prompt_ids], output_tokens)[0]

    def generate_batch(self, prompts, output_tokens):
        c = len(prompts)
        self.batches.append(c)
        slow = self.slow_every and len(self.batches) % self.slow_every == 0
        step = self.step_s * (c if slow else self.cost(c))
        start, times = now(), []
        for _ in range(output_tokens):
            time.sleep(step)
            times.append(now())
        return [Generation([p[0]] * output_tokens, start, list(times), now()) for p in prompts]


def sweep(**settings):
    return scenario("sweep", batching=True, input_tokens=4, output_tokens=6, **settings)


def test_sweep_levels_are_measured_there_and_back_after_the_backend_is_prepared():
    """Issue 24 (4): levels in a fixed order let a host speeding up pass for scaling."""
    s = sweep(concurrency=[1, 2, 4], repetitions=4, warmup_passes=1)
    backend = Steps(lambda c: 1.0, step_s=0.0005)
    measurement = measure(backend, prompts_of(s), s)
    assert backend.prepared == (4, 4 + 6)
    # warm-up of each level on its first visit, half the passes there and half on the way back
    assert backend.batches == [1, 1, 1, 2, 2, 2, 4, 4, 4, 4, 4, 2, 2, 1, 1]
    assert [len(lv.passes) for lv in measurement.levels] == [4, 4, 4]


def test_a_backend_whose_passes_alternate_is_flagged_beside_its_level():
    """Issue 24 (1, 3): every other pass unbatched; a mean of those passes describes neither kind."""
    s = sweep(concurrency=[1, 4], repetitions=4, warmup_passes=0)
    measurement = measure(Steps(lambda c: 1.0, slow_every=2), prompts_of(s), s)
    (flag,) = pass_spread(measurement)
    assert flag["code"] == "passes_disagree" and flag["concurrency"] == 4 and flag["ratio"] > 2.5
    steady = measure(Steps(lambda c: 1.0), prompts_of(s), s)
    assert pass_spread(steady) == []


@pytest.mark.parametrize("cost, caught", [(lambda c: c, True), (lambda c: 1 + 0.1 * c, False)])
def test_the_step_check_catches_a_batch_that_costs_c_batch_1_steps(cost, caught):
    """Issue 24 (1): a batch of c whose step costs c x the batch-1 step was not batched."""
    s = sweep(concurrency=[1, 2, 4], repetitions=2, warmup_passes=0)
    flags = unbatched_steps(measure(Steps(cost), prompts_of(s), s))
    assert bool(flags) == caught
    if caught:
        assert {f["concurrency"] for f in flags} == {2, 4} and all(f["passes"] == f["of"] for f in flags)


def test_every_scenario_type_names_a_pass_runner_that_measure_resolves():
    """The table names its runner (it imports nothing of measure); measure has each one."""
    assert {kind.runner for kind in TYPES.values()} <= set(RUNNERS)


@pytest.mark.parametrize("stamps_less", [0, 1, 3])
def test_a_request_whose_token_stamps_do_not_count_its_tokens_makes_the_run_invalid(stamps_less):
    from llmbench.measure.levels import length_problems
    from llmbench.record import Pass, Request

    output = [1, 2, 3, 4]
    gaps = [1.0] * (len(output) - 1 - stamps_less)
    request = Request(0, 3, output, 0.0, 0.0, 5.0, 5.0 + sum(gaps), gaps)
    problems = length_problems([Pass(10.0, [request])], expected=4)
    if stamps_less:
        assert problems == [f"pass 0 query 0: {4 - stamps_less} token stamps for 4 output tokens"]
    else:
        assert problems == []
