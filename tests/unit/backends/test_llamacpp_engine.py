"""llama.cpp's engine on the tiny model's GGUF: however requests arrive and finish, a decode step is
one ubatch (issue 24's kind: a batch llama.cpp cuts per sequence costs a device step per sequence),
and every sequence decodes what it decodes alone.

llama.cpp says how it cut a llama_decode only in its debug log: with LLAMA_BATCH_DEBUG set when a
context is made, each ubatch logs "added ubatch to split" (llama-batch.cpp)."""

import collections
import ctypes
import dataclasses
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_backends import load

from llmbench.backends import _llamacpp_engine as engine_module
from llmbench.backends._llamacpp_engine import Engine, Request
from llmbench.backends.base import BackendUnavailable

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


def scheduled(engine, schedule):
    """The requests of `schedule` ((output tokens, arrival step) each, short prompts of their own), what
    each decodes alone on `engine`, and their indices in arrival order."""
    prompts = [[5 + i, 6 + i % 3, 7, 8, 9][: 3 + i % 3] for i in range(len(schedule))]
    expected = [solo(engine, p, n) for p, (n, _) in zip(prompts, schedule, strict=True)]
    requests = [Request(list(p), n, 0.0) for p, (n, _) in zip(prompts, schedule, strict=True)]
    return requests, expected, sorted(range(len(requests)), key=lambda i: schedule[i][1])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedule=schedules)
def test_every_decode_step_is_one_ubatch_however_requests_arrive_and_finish(engines, schedule):
    _, engine = engines
    requests, expected, arrivals = scheduled(engine, schedule)
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


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedule=schedules)
def test_the_c_loop_decodes_what_single_steps_decode_one_ubatch_a_step(engines, schedule):
    """Decode-only steps run in the C loop (Engine.decode_run): the same ids as each sequence alone,
    every step one ubatch, one stamp per token in order; the stop flag ends a run after its step."""
    _, engine = engines
    loop = engine.setup.loop
    requests, expected, arrivals = scheduled(engine, schedule)
    pending: collections.deque[Request] = collections.deque()
    step = 0
    while arrivals or pending or engine.active:
        while arrivals and schedule[arrivals[0]][1] <= step:
            pending.append(requests[arrivals.pop(0)])
        admit = engine.admissible(pending)
        if admit:
            engine.step(admit)
            step += 1
        elif engine.active:
            loop.stop.value = 1 if arrivals else 0  # one step when someone arrives at the next
            calls = engine.counts.decode_calls
            engine.setup.lib.llama_log_set(engine_module._log_callback, ctypes.c_void_p(0))
            engine_module._log_lines.clear()
            engine.decode_run()
            steps = engine.counts.decode_calls - calls
            assert steps >= 1 and (steps == 1 or not arrivals)
            assert len(engine_module.log_all("added ubatch")) == steps
            step += steps
        else:
            step += 1
    loop.stop.value = 0
    assert [r.output for r in requests] == expected
    for request in requests:
        assert len(request.times) == request.n and request.times == sorted(request.times)
        assert request.end == request.times[-1]
    assert sorted(engine.free) == list(range(SLOTS))


@pytest.mark.parametrize("behind", [None, "prepare"])
def test_a_request_arriving_during_a_c_run_is_admitted_before_it_ends(tiny_model, tiny_gguf, behind):
    """The scheduler's stop flag: a short request sent while a long one decodes in the C loop starts
    and ends while the long one is still running (without the flag it would wait for all 1,000) - also
    when it is queued behind a prepare() that waits for the engine to be idle (the scheduler puts that
    back in the queue: what is behind it must still end the C run)."""
    backend = load("llamacpp", tiny_model, artifact=tiny_gguf)
    try:
        backend.prepare(2, 1024)
        with ThreadPoolExecutor(3) as pool:
            long = pool.submit(backend.generate, [5, 6, 7], 1000)
            time.sleep(0.05)
            if behind == "prepare":
                waiting = pool.submit(backend.prepare, 2, 1024)
                time.sleep(0.02)
            short = backend.generate([8, 9, 10], 4)
            first = long.result()
            if behind == "prepare":
                waiting.result()
        assert len(first.token_times) == 1000 and len(short.token_times) == 4
        assert short.start < first.end and short.end < first.end
        assert first.token_times == sorted(first.token_times)
        assert first.token_times[0] <= short.start  # it was running when the short one came
        assert short.output_ids == backend.generate([8, 9, 10], 4).output_ids
    finally:
        backend.close()


def test_the_c_loop_and_the_python_steps_pick_the_same_ids(tiny_model, tiny_gguf):
    prompts = [[5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]]
    outputs = {}
    for loop in ("c", "python"):
        backend = load("llamacpp", tiny_model, {"decode_loop": loop}, artifact=tiny_gguf)
        try:
            outputs[loop] = [g.output_ids for g in backend.generate_batch(prompts, 12)]
            assert backend.describe()["decode_loop"] == loop
            assert backend.counters()["decode_steps"] == 11
        finally:
            backend.close()
    assert outputs["c"] == outputs["python"]


def test_without_a_compiler_the_load_says_what_to_set(tiny_model, tiny_gguf, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # nothing compiled yet
    monkeypatch.setenv("CC", "no-such-compiler")
    with pytest.raises(BackendUnavailable, match="decode_loop: python") as raised:
        load("llamacpp", tiny_model, artifact=tiny_gguf)
    assert "no-such-compiler" in str(raised.value)
    for compiler in ("no-such-compiler", 'gcc "'):  # missing, or not a command at all (an unclosed quote)
        monkeypatch.setenv("CC", compiler)
        backend = load("llamacpp", tiny_model, {"decode_loop": "python"}, artifact=tiny_gguf)
        try:  # no compiler, no mask sampler: llama.cpp's logit bias masks EOS, and the record says so
            assert backend.eos_mask is None and "llama.cpp's logit bias" in backend.describe()["decoding"]
        finally:
            backend.close()
    with pytest.raises(BackendUnavailable, match="does not parse as a command"):
        load("llamacpp", tiny_model, artifact=tiny_gguf)


@pytest.mark.parametrize("fault", ["cache is a file", "corrupt library", "compiler writes nothing"])
def test_a_cache_it_cannot_use_is_named_in_the_error(tiny_model, tiny_gguf, tmp_path, monkeypatch, fault):
    """The kin of a missing compiler: a cache folder that cannot be made, or a library of the right name
    that does not load, end the load with BackendUnavailable naming the path and what to do."""
    from llmbench.backends import _llamacpp_loop

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    if fault == "cache is a file":
        (tmp_path / "llmbench").write_text("not a folder")
        expected = "XDG_CACHE_HOME"
    elif fault == "corrupt library":
        library = _llamacpp_loop.compiled_library()
        library.write_bytes(b"not an ELF file")
        expected = "delete it"
    else:  # exits 0, writes no library: nothing may be cached, the next load compiles again
        monkeypatch.setenv("CC", "true")
        expected = "wrote no library"
    with pytest.raises(BackendUnavailable, match=expected) as raised:
        load("llamacpp", tiny_model, artifact=tiny_gguf)
    assert "decode_loop: python" in str(raised.value)
    if fault == "compiler writes nothing":
        assert list((tmp_path / "llmbench").glob("*.so")) == []
        monkeypatch.setenv("CC", "ccache cc" if shutil.which("ccache") else "cc -O1")  # a wrapper or flags
        load("llamacpp", tiny_model, artifact=tiny_gguf).close()
    else:
        assert str(tmp_path / "llmbench") in str(raised.value)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_eos_mask_picks_what_llama_cpps_logit_bias_picks(engines, data):
    """llmbench's mask sampler (_llamacpp_loop.EosMask, in the decode graph) against llama.cpp's logit
    bias: the same ids for any masked set - drawn from the ids greedy picks unmasked, so that masking
    changes what is picked - and no masked id among them."""
    backend, _ = engines
    prompt, n = [5, 6, 7, 8], 10
    unmasked = Engine(dataclasses.replace(backend._setup, masked=[]), 1, 64)
    try:
        free_run = solo(unmasked, prompt, n)
    finally:
        unmasked.close()
    masked = data.draw(st.lists(st.sampled_from(free_run) | st.integers(0, backend.n_vocab - 1), max_size=6))
    outputs = {}
    for name, mask in (("mask", backend._setup.eos_mask), ("bias", None)):
        setup = dataclasses.replace(backend._setup, masked=masked, eos_mask=mask, sample_in_graph=True)
        engine = Engine(setup, 1, 64)
        try:
            assert engine.samplers.in_graph
            outputs[name] = solo(engine, prompt, n)
        finally:
            engine.close()
    assert outputs["mask"] == outputs["bias"]
    assert not set(outputs["mask"]) & set(masked)
    if masked and free_run[0] in masked:
        assert outputs["mask"][0] != free_run[0]


def test_a_masked_list_longer_than_the_mask_takes_is_masked_by_llama_cpps_logit_bias(engines):
    """EosMask adds a graph node per id (2,047 ids aborted llama.cpp on this model): beyond max_ids the
    chain masks with llama.cpp's logit bias instead, and still never picks a masked id."""
    backend, _ = engines
    lib, mask, prompt = backend._setup.lib, backend._setup.eos_mask, [5, 6, 7, 8]
    unmasked = Engine(dataclasses.replace(backend._setup, masked=[]), 1, 64)
    try:
        free_run = solo(unmasked, prompt, 6)
    finally:
        unmasked.close()
    for count in (mask.max_ids, mask.max_ids + 1, 4 * mask.max_ids):
        others = (i for i in range(backend.n_vocab) if i not in free_run)
        masked = sorted(set(free_run)) + [next(others) for _ in range(count - len(set(free_run)))]
        engine = Engine(dataclasses.replace(backend._setup, masked=masked, sample_in_graph=True), 1, 64)
        try:
            first = lib.llama_sampler_name(lib.llama_sampler_chain_get(engine.samplers.chains[0], 0))
            assert (first == b"llmbench-mask") == (count <= mask.max_ids)
            assert engine.samplers.in_graph and not set(solo(engine, prompt, 6)) & set(masked)
        finally:
            engine.close()


def test_the_chains_in_the_decode_graph_and_on_the_host_pick_the_same_ids(engines):
    """The engine attaches its chains to the graph on a GPU and runs them on the host on the CPU
    (sample_in_graph): the same ids, one sequence or four in one batch, EOS masked either way."""
    backend, _ = engines
    prompts = [[5 + i, 6, 7, 8] for i in range(4)]
    ids = {}
    for in_graph in (True, False):
        engine = Engine(dataclasses.replace(backend._setup, sample_in_graph=in_graph), 4, 64)
        try:
            assert engine.samplers.in_graph == in_graph
            requests = [Request(list(p), 9, 0.0) for p in prompts]
            engine.step(requests)
            while engine.active:
                engine.step([])
            ids[in_graph] = [r.output for r in requests] + [solo(engine, prompts[0], 9)]
        finally:
            engine.close()
    assert ids[True] == ids[False]


def test_the_eos_mask_on_the_host_masks_what_numpy_masks(engines):
    """The same sampler in a chain llama.cpp runs on the host (not attached): the argmax of the
    logits with the masked ids at -inf, whichever ids they are."""
    backend, _ = engines
    lib, np = backend._setup.lib, backend._setup.np
    engine = Engine(backend._setup, 1, 64, sample=False)
    try:
        logits = engine.forward([5, 6, 7, 8])[-1]
        ranked = [int(i) for i in np.argsort(-logits)]
        for masked in ([], ranked[:1], ranked[:3], [ranked[1], ranked[0], 0]):
            chain = lib.llama_sampler_chain_init(lib.llama_sampler_chain_default_params())
            lib.llama_sampler_chain_add(chain, backend._setup.eos_mask.new(masked))
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_greedy())
            engine.forward([5, 6, 7, 8])  # the logits llama_sampler_sample reads
            expected = logits.copy()
            expected[masked] = -np.inf
            assert lib.llama_sampler_sample(chain, engine.ctx, -1) == int(np.argmax(expected))
            lib.llama_sampler_free(chain)
    finally:
        engine.close()


def test_chains_in_the_graph_bring_back_only_the_chosen_ids(engines):
    """In the graph each chain ends with EosMask.ids_only: after a step llama.cpp has the chosen id of
    each sequence and no logits of the chain (it copied none to the host); a chain without it brings
    its n_vocab logits back beside the id. The ids are the same either way."""
    backend, _ = engines
    lib, prompts = backend._setup.lib, [[5 + i, 6, 7, 8] for i in range(2)]
    ids = {}
    for mask in (backend._setup.eos_mask, None):  # None: llama.cpp's logit bias, and no ids_only
        engine = Engine(dataclasses.replace(backend._setup, eos_mask=mask, sample_in_graph=True), 2, 64)
        try:
            requests = [Request(list(p), 5, 0.0) for p in prompts]
            engine.step(requests)
            engine.step([])  # a decode step of both sequences
            for i in range(2):
                assert lib.llama_get_sampled_token_ith(engine.ctx, i) == requests[i].output[-1]
                logits = lib.llama_get_sampled_logits_ith(engine.ctx, i)
                assert (not logits) == (mask is not None)
                assert lib.llama_get_sampled_logits_count_ith(engine.ctx, i) == (
                    0 if mask else backend.n_vocab
                )
            while engine.active:
                engine.step([])
            ids[mask is None] = [r.output for r in requests]
        finally:
            engine.close()
    assert ids[True] == ids[False]


def test_the_record_says_how_eos_is_masked(engines):
    """describe()["decoding"] names what GreedySamplers chose: nothing to mask, llmbench's mask sampler,
    or llama.cpp's logit bias past EosMask.max_ids (the breaker saw "mask sampler" where nothing was masked)."""
    backend, _ = engines
    kept = backend.masked
    try:
        for masked, words in (
            ([], "nothing masked"),
            (kept, "llmbench's mask sampler"),
            (list(range(backend.eos_mask.max_ids + 1)), "llama.cpp's logit bias"),
        ):
            backend.masked = masked
            decoding = backend.describe()["decoding"]
            assert words in decoding and "only the chosen id" not in decoding  # the CPU: chains on the host
    finally:
        backend.masked = kept
