"""llama.cpp's engine on the tiny model's GGUF: however requests arrive and finish, a decode step is
one ubatch (issue 24's kind: a batch llama.cpp cuts per sequence costs a device step per sequence),
and every sequence decodes what it decodes alone.

llama.cpp says how it cut a llama_decode only in its debug log: with LLAMA_BATCH_DEBUG set when a
context is made, each ubatch logs "added ubatch to split" (llama-batch.cpp)."""

import collections
import ctypes
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_backends import load

from llmbench.backends import _llamacpp_engine as engine_module
from llmbench.backends._llamacpp_engine import Engine, Request

SLOTS = 4


@pytest.fixture(scope="module")
def engines(tiny_model, tiny_gguf):
    """The loaded backend, and an engine of SLOTS sequences whose context logs its ubatches."""
    backend = load("llamacpp", tiny_model, artifact=tiny_gguf)
    before = os.environ.get("LLAMA_BATCH_DEBUG")
    os.environ["LLAMA_BATCH_DEBUG"] = "1"  # read when the context is made
    try:
        engine = Engine(backend._setup, SLOTS, 64)
    finally:
        if before is None:
            del os.environ["LLAMA_BATCH_DEBUG"]
        else:
            os.environ["LLAMA_BATCH_DEBUG"] = before
    yield backend, engine
    engine.close()
    backend.close()


def solo(engine, prompt, n):
    request = Request(list(prompt), n, 0.0)
    engine.step([request])
    while engine.active:
        engine.step([])
    return request.output


def ubatches_of_step(engine, admit):
    # Ours again: llama-cpp-python's Llama (other tests) sets its own callback when it loads.
    engine.setup.lib.llama_log_set(engine_module._log_callback, ctypes.c_void_p(0))
    engine_module._log_lines.clear()
    engine.step(admit)
    return len(engine_module.log_all("added ubatch"))


schedules = st.lists(
    st.tuples(st.integers(1, 9), st.integers(0, 8)),  # (output tokens, step it arrives at)
    min_size=2,
    max_size=7,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedule=schedules)
def test_every_decode_step_is_one_ubatch_however_requests_arrive_and_finish(engines, schedule):
    _, engine = engines
    prompts = [[5 + i, 6 + i % 3, 7, 8, 9][: 3 + i % 3] for i in range(len(schedule))]
    expected = [solo(engine, p, n) for p, (n, _) in zip(prompts, schedule, strict=True)]
    requests = [Request(list(p), n, 0.0) for p, (n, _) in zip(prompts, schedule, strict=True)]
    arrivals = sorted(range(len(requests)), key=lambda i: schedule[i][1])
    pending: collections.deque[Request] = collections.deque()
    step = 0
    while arrivals or pending or engine.active:
        while arrivals and schedule[arrivals[0]][1] <= step:
            pending.append(requests[arrivals.pop(0)])
        admit = engine.admissible(pending)
        if admit or engine.active:
            engine._compact()  # as step() does first (a no-op then): the running hold 0..k-1
            assert [r.slot for r in engine.active] == list(range(len(engine.active)))
            cuts = ubatches_of_step(engine, admit)
            if not admit:  # a decode step: every running sequence in one ubatch
                assert cuts == 1, step
        step += 1
    assert [r.output for r in requests] == expected
    assert sorted(engine.free) == list(range(SLOTS))


def test_a_gap_left_by_a_finished_sequence_is_closed_by_a_move(engines):
    """Slots 0, 1, 2 start together; 1 finishes first: the sequence in slot 2 moves to slot 1."""
    _, engine = engines
    moves = engine.counts.kv_moves
    requests = [Request([5 + i, 6, 7, 8], n, 0.0) for i, n in enumerate([6, 2, 6])]
    engine.step(requests)
    while engine.active:
        assert ubatches_of_step(engine, []) == 1
    assert [r.slot for r in requests] == [0, 1, 1] and engine.counts.kv_moves == moves + 1
