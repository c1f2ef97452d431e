"""benchmarks/harness_overhead.py: what it must do before it measures anything."""

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "argv",
    [
        ["--backend", "llamacpp"],
        ["--backend", "all", "--backend", "llamacpp"],
        ["--backend=llamacpp"],
        ["--back", "llamacpp"],
    ],
)
def test_the_backend_it_measures_loads_its_native_libraries_before_numpy(tmp_path, argv, llama_cpp_witness):
    """llama.cpp's CUDA build crashed the benchmark on the H200 with numpy loaded first (the
    worker already loaded it first). The last --backend counts: `all` hands it to each child."""
    site, witness = llama_cpp_witness
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks/harness_overhead.py"),
            *argv,
            "--model",
            str(tmp_path / "missing"),
        ],
        env={**os.environ, "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode != 0 and "missing" in run.stderr  # no model there; what matters is the order
    assert witness.read_text() == "False"


def test_an_unknown_backend_is_a_usage_error_naming_the_known_ones():
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks/harness_overhead.py"), "--backend", "nosuch"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2 and "invalid choice: 'nosuch'" in run.stderr and "llamacpp" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.fixture(scope="module")
def eos_first_model(tiny_model, tmp_path_factory):
    """The tiny model with its EOS id set to the first greedy token of PROMPTS[0]: a path that does
    not mask EOS stops early or differs."""
    import json
    import shutil

    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    first = int(model(torch_tensor([PROMPTS[0]])).logits[0, -1].argmax())
    folder = tmp_path_factory.mktemp("eos") / "tiny"
    shutil.copytree(tiny_model, folder)
    for name in ("config.json", "generation_config.json"):
        config = json.loads((folder / name).read_text())
        (folder / name).write_text(json.dumps({**config, "eos_token_id": first}))
    return folder, first


def torch_tensor(rows):
    import torch

    return torch.tensor(rows)


PROMPTS = [[5 + i, 6, 7, 8, 9, 10] for i in range(3)]


def load_args(backend, model, output_tokens, artifact=None, gguf=None):
    """harness_overhead.load's arguments for a CPU float32 run of PROMPTS."""
    import argparse

    return argparse.Namespace(
        backend=backend,
        model=str(model),
        artifact=artifact and str(artifact),
        gguf=gguf and str(gguf),
        device="cpu",
        dtype="float32",
        input_tokens=len(PROMPTS[0]),
        output_tokens=output_tokens,
    )


# FastLLM masks the EOS its .flm names (converted from the unchanged tiny model), not the folder's.
@pytest.mark.parametrize(
    ("backend", "masks_folder_eos"),
    [("hf", True), ("hf-compile", True), ("fastllm", False), ("llamacpp", True)],
)
def test_each_bare_path_generates_what_llmbench_generates_alone_and_batched(
    backend, masks_folder_eos, eos_first_model, tiny_model, tiny_flm, tiny_gguf
):
    """The bare paths share no code with llmbench, so the overhead benchmark compares like with like
    only if they do the same work: the same ids, exact lengths, EOS masked, one at a time and as one
    batch."""

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import harness_overhead

    folder, eos = eos_first_model
    n = 12
    harness, bare, *_ = harness_overhead.load(
        load_args(backend, folder, n, artifact=tiny_flm, gguf=tiny_gguf)
    )
    expected = [harness.generate(p, n).output_ids for p in PROMPTS]
    assert all(len(ids) == n and (eos not in ids or not masks_folder_eos) for ids in expected)
    assert [bare.run([p], n)[0] for p in PROMPTS] == expected
    assert bare.run(PROMPTS, n) == [g.output_ids for g in harness.generate_batch(PROMPTS, n)]
    bare.close()


def test_the_llama_cpp_bare_loop_masks_eos_as_the_engine_does(eos_first_model, tiny_gguf):
    """The same work on both sides: harness_overhead hands the engine's mask sampler (its compiled
    file) to the bare loop, whose chains then start with it; without the file they mask with
    llama.cpp's logit bias - and either way pick the same ids. Attached to the graph, they end with
    the engine's ids_only sampler."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import harness_overhead
    from bare_paths import LlamaCppBare

    folder, eos = eos_first_model
    harness, bare, *_ = harness_overhead.load(load_args("llamacpp", folder, 8, gguf=tiny_gguf))
    library = bare.settings["eos_mask_library"]  # OwnProcess on the CPU: the settings it sent its child
    bare.close()
    assert library and Path(library) == harness.eos_mask.library and Path(library).is_file()
    lib, ids = harness._lib, {}
    for mask in (library, None):
        path = LlamaCppBare(harness.model, {**bare.settings, "eos_mask_library": mask})
        first = lib.llama_sampler_name(lib.llama_sampler_chain_get(path.chains[0], 0))
        assert first == b"llmbench-mask" if mask else first.endswith(b"logit-bias")  # "+": in the graph
        ids[mask] = path.run([PROMPTS[0]], 8)
        path.close()
    assert ids[library] == ids[None] and eos not in ids[None][0]
    # In the graph (a GPU's way) the chains end as the engine's do: only the chosen id leaves the graph
    assert bare.settings["ids_only_library"] == library
    for in_graph in (True, False):
        path = LlamaCppBare(harness.model, {**bare.settings, "sampler_in_graph": in_graph})
        chain = path.chains[0]
        last = lib.llama_sampler_name(
            lib.llama_sampler_chain_get(chain, lib.llama_sampler_chain_n(chain) - 1)
        )
        assert (last == b"llmbench-ids-only") == in_graph
        assert path.run([PROMPTS[0]], 8) == ids[None]
        path.close()
    harness.close()


@pytest.fixture(scope="module")
def llama_bare_pair(eos_first_model, tiny_gguf):
    """The llama.cpp bare path twice over one model, with the engine's mask: its decode-only steps in C
    (as measured) and every step from Python (as until 2026-12-08); and the masked EOS id."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import harness_overhead
    from bare_paths import LlamaCppBare

    folder, eos = eos_first_model
    harness, bare, *_ = harness_overhead.load(load_args("llamacpp", folder, 8, gguf=tiny_gguf))
    given_settings = bare.settings  # what harness_overhead gives the bare path's process
    bare.close()
    c_steps = LlamaCppBare(harness.model, given_settings)
    python_steps = LlamaCppBare(harness.model, {**given_settings, "steps_in": "python"})
    yield c_steps, python_steps, eos
    c_steps.close()
    python_steps.close()
    harness.close()


@settings(deadline=None, max_examples=12)
@given(
    prompts=st.lists(st.lists(st.integers(3, 200), min_size=6, max_size=6), min_size=1, max_size=4),
    n=st.integers(1, 20),
)
def test_the_llama_cpp_bare_loops_c_steps_choose_what_python_steps_choose(llama_bare_pair, prompts, n):
    """The C loop takes over after the prefill's step: for any batch of 1-4 prompts of 6 ids and any length
    of 1-20 (one token: no step in C), the same ids as stepping from Python, EOS masked."""
    c_steps, python_steps, eos = llama_bare_pair
    ids = c_steps.run(prompts, n)
    assert ids == python_steps.run(prompts, n)
    assert all(len(row) == n and eos not in row for row in ids)


def test_the_llama_cpp_bare_loop_refuses_fewer_than_one_token(llama_bare_pair):
    for bare in llama_bare_pair[:2]:  # the C loop would size an array of -1 steps, the Python one never end
        with pytest.raises(ValueError, match="output_tokens must be at least 1, not 0"):
            bare.run([PROMPTS[0]], 0)


def overhead_module():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import harness_overhead

    return harness_overhead


def request(itl_ms, ttft_ms=10.0):
    from llmbench.record.measurement import Request

    return Request(
        query_index=0,
        prompt_tokens=8,
        output_ids=list(range(len(itl_ms) + 1)),
        submit_ms=0.0,
        queue_ms=0.0,
        ttft_ms=ttft_ms,
        e2e_ms=ttft_ms + sum(itl_ms),
        itl_ms=list(itl_ms),
    )


def test_the_rate_after_the_second_token_leaves_out_the_first_decode_step_and_pg_counts_the_prompt():
    """llama-bench's tg never decodes right after a prompt; its pg counts the prompt's tokens over the whole time."""
    from types import SimpleNamespace

    module = overhead_module()
    result = SimpleNamespace(requests=[request([6.0, 2.0, 2.0, 2.0]), request([4.0])])
    assert module.decode_tok_s(result) == pytest.approx([4 / 0.012, 1 / 0.004])
    assert module.steady_tok_s(result) == pytest.approx([3 / 0.006])  # one ITL: no second-token rate
    # 8 prompt tokens + 4 decoded after the first, over e2e = 10 + 12 ms
    assert module.prompt_gen_tok_s(result, 8)[0] == pytest.approx(12 / 0.022)
    # FastLLM stamps the tokens one poll finds with one moment: gaps of 0 give no rate, not a ZeroDivisionError
    polled = SimpleNamespace(requests=[request([3.0, 0.0, 0.0]), request([0.0, 0.0, 2.0, 0.0])])
    assert module.steady_tok_s(polled) == pytest.approx([3 / 0.002])
    assert module.median_itl_tok_s(polled) == []


@given(
    st.lists(
        st.tuples(st.sampled_from(["hf", "llamacpp"]), st.floats(-0.1, 0.1), st.integers(1, 50)),
        min_size=1,
        max_size=12,
    )
)
@settings(deadline=None)  # the first example imports the benchmark (a second, where no test did before)
def test_a_pooled_line_is_the_mean_of_its_processes_with_a_ci_over_them(runs):
    """The pooled figure of a backend and shape is the mean of its processes' mean log ratios, its CI the
    Student-t interval over those means (none from one process), and it lists every process."""
    module = overhead_module()
    results = [
        {"backend": b, "shape": "batch 1", "mean_log": m, "overhead_pct": module.pct(m), "blocks": k}
        for b, m, k in runs
    ]
    lines = module.pooled_lines(results)
    assert len(lines) == len({b for b, _, _ in runs})
    for line in lines:
        backend = line.split()[0]
        mine = [(m, k) for b, m, k in runs if b == backend]
        logs = [m for m, _ in mine]
        mean = sum(logs) / len(logs)
        assert f"pooled, {len(mine)} processes: harness overhead {module.pct(mean):+.2f} %" in line
        assert line.endswith(f"{sum(k for _, k in mine)} ABBA/BAAB blocks")
        assert "each process: " + ", ".join(f"{module.pct(m):+.2f}" for m in logs) + " %" in line
        if len(mine) == 1:
            assert "no CI" in line
        else:
            from llmbench.stats import t_interval

            low, high = t_interval(logs)
            assert f"95 % CI {module.pct(low):+.2f} … {module.pct(high):+.2f} % over the processes" in line


@given(
    st.lists(st.floats(-0.2, 0.2), min_size=4, max_size=4),
    st.floats(-0.05, 0.05),
    st.floats(-0.1, 0.1),
    st.floats(0.01, 10.0),
)
@settings(deadline=None)  # the first example may import the benchmark
def test_a_slots_own_effect_and_drift_cancel_over_an_abba_and_a_baab(
    slot_logs, drift_log, overhead_log, base_s
):
    """A slot may slow or speed whatever pass runs in it (an A/A run with ABBA blocks alone read FastLLM
    batched +0.21 %, CI -0.00 … +0.43). With each pass's ln(time) = ln(base) + the slot's effect + drift
    (linear in the pass's place) + the harness's own overhead, each block alone gives that overhead when the
    slots are alike, and the mean over the block orders gives it whatever the slots and the drift do."""
    module = overhead_module()

    def block_logs(slot_logs):
        logs, place = [], 0
        for order in module.BLOCK_ORDERS:
            times = []
            for slot, path in enumerate(order):
                cost = overhead_log if path == "harness" else 0.0
                times.append(base_s * math.exp(slot_logs[slot] + drift_log * place + cost))
                place += 1
            logs.append(module.block_log_ratio(order, times))
        return logs

    assert block_logs([0.0] * 4) == pytest.approx([overhead_log] * len(module.BLOCK_ORDERS), abs=1e-9)
    logs = block_logs(slot_logs)
    assert sum(logs) / len(logs) == pytest.approx(overhead_log, abs=1e-9)


def test_processes_run_each_backend_afresh_and_pool_their_lines(tmp_path, tiny_model, tiny_gguf):
    """--processes 2: two fresh processes each print their lines, then one pooled line per shape."""
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks/harness_overhead.py"),
            *(
                "--backend",
                "llamacpp",
                "--device",
                "cpu",
                "--model",
                str(tiny_model),
                "--gguf",
                str(tiny_gguf),
            ),
            *("--input-tokens", "8", "--output-tokens", "6", "--requests", "2", "--processes", "2"),
            *("--min-blocks", "2", "--min-seconds", "0", "--max-seconds", "0.5", "--sampler", "none"),
        ],
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    lines = run.stdout.splitlines()
    rounds = [line.split()[2:5] for line in lines if line.startswith("== process")]
    assert rounds == [["1", "of", "2"], ["2", "of", "2"]]
    measured = [line for line in lines if line.startswith("llamacpp ") and "pooled" not in line]
    pooled = [line for line in lines if "pooled, 2 processes" in line]
    assert len(measured) == 4 and len(pooled) == 2
    assert all("ids the same" in line and "after its second token" in line for line in measured)
    for shape, line in zip(["batch 1", "batch 2"], pooled, strict=True):
        each = [m.split("harness overhead ")[1].split(" %")[0] for m in measured if f" {shape} " in m]
        assert line.startswith(f"llamacpp   {shape}") and f"each process: {', '.join(each)} %" in line


def test_on_the_cpu_the_llamacpp_bare_loop_adds_no_thread_team_to_the_measuring_process(
    tiny_model, tiny_gguf
):
    """llama.cpp's CPU threads are an OpenMP team per calling thread; a second team beside the engine's
    made both paths ~10x slower on 2 cores. The bare loop runs in a process of its own, so the
    measuring process keeps one team (the engine's), as a job does, and both paths give the same ids."""
    module = overhead_module()
    n = 8
    harness, bare, *_ = module.load(load_args("llamacpp", tiny_model, n, gguf=tiny_gguf))
    expected = [harness.generate(p, n).output_ids for p in PROMPTS]  # the engine's team exists now
    threads = len(os.listdir("/proc/self/task"))
    seconds, ids = module.bare_pass(bare, PROMPTS, n, batched=False)
    assert ids == expected and seconds > 0
    assert len(os.listdir("/proc/self/task")) == threads
    bare.close()
    assert bare.child.returncode == 0


@pytest.mark.parametrize("value", ["0", "-2", "x"])
def test_processes_below_one_is_a_usage_error(value):
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks/harness_overhead.py"), "--processes", value],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2 and "--processes" in run.stderr and "Traceback" not in run.stderr


def test_a_line_of_one_block_says_it_has_no_ci_instead_of_nan():
    module = overhead_module()
    assert module.ci_text(math.nan, math.nan) == "no CI (one block)"
    assert module.ci_text(-0.5, 1.25) == "95 % CI -0.50 … +1.25 %"


def test_a_backend_that_fails_in_its_processes_is_named_and_the_run_fails():
    """A child that cannot measure must not vanish from the table with exit status 0."""
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks/harness_overhead.py"),
            *("--backend", "hf", "--processes", "2", "--model", "/nonexistent/model"),
        ],
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 1
    assert "hf         FAILED in 2 of 2 processes" in run.stdout


def test_a_bare_process_that_stops_answering_is_killed_and_named(tiny_model, tiny_gguf):
    import signal

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bare_paths import OwnProcess

    settings = {"cpu_threads": 1, "eos_ids": [], "kv_type": "f32", "flash_attn": "off"}
    bare = OwnProcess("llamacpp", str(tiny_gguf), settings, timeout_s=3)
    seconds, ids = bare.timed_run([PROMPTS[0]], 4, batched=True)
    assert seconds > 0 and len(ids[0]) == 4
    os.kill(bare.child.pid, signal.SIGSTOP)
    with pytest.raises(RuntimeError, match="did not answer in 3 s"):
        bare.timed_run([PROMPTS[0]], 4, batched=True)
    assert bare.child.wait(timeout=10) == -signal.SIGKILL


def test_one_sampler_process_runs_through_every_pass_of_a_shape_as_in_a_job(tiny_model, monkeypatch):
    """A job starts one sampler and opens its window once per level: the benchmark must not start one per
    ABBA block (a fresh interpreter's ~80 ms of CPU each, beside the timed passes) nor leave either path's
    passes outside its window; the line reports the sampler process's CPU in cores."""
    module = overhead_module()
    events = []

    class Recorded(module.SamplerProcess):
        def start(self):
            events.append("start")
            super().start()

        def open(self):
            events.append("open")
            super().open()

        def close(self):
            events.append("close")
            super().close()

    def recorded(name, run):
        def wrapper(*args, **kwargs):
            events.append(name)
            return run(*args, **kwargs)

        return wrapper

    monkeypatch.setitem(module.SAMPLERS, "process", Recorded)
    monkeypatch.setattr(module, "bare_pass", recorded("bare", module.bare_pass))
    monkeypatch.setattr(module, "harness_pass", recorded("harness", module.harness_pass))
    argv = ["--backend", "hf", "--device", "cpu", "--dtype", "float32", "--input-tokens", "6"]
    argv += ["--output-tokens", "4", "--requests", "2", "--min-blocks", "3", "--min-seconds", "0"]
    # --max-seconds ends the blocks even below --min-blocks: 0.2 s held only 1-2 blocks on a loaded 2-core machine
    args = module.build_parser().parse_args([*argv, "--max-seconds", "5", "--model", str(tiny_model)])
    backend, bare, config, *_ = module.load(args)
    prompts = module.fixed_prompts(2, 6, config["vocab_size"], seed=0)
    figures = module.measure_shape(args, backend, bare, prompts, batched=True)
    bare.close()
    assert events.count("start") == 1 and events.count("open") == 1 and events.count("close") == 1
    opened, closed = events.index("open"), events.index("close")
    inside = events[opened + 1 : closed]
    # the ids check before the sampler; then 2 warm-up blocks and the timed ones, ABBA and BAAB in turn, all in
    # the window; a pass after the other path's comes after an untimed one of its own (primed): a timed pass
    # never follows the other path's
    assert events[:2] == ["harness", "bare"] and events[2] == "start"
    abba = ["bare", "bare", "harness", "harness", "harness", "bare", "bare"]  # 4 timed, 3 primed
    baab = ["harness", "harness", "bare", "bare", "bare", "harness", "harness"]
    assert figures["blocks"] % 2 == 0
    assert inside == ["bare", "harness", "harness"] * 2 + (abba + baab) * (figures["blocks"] // 2)
    assert figures["blocks"] >= 4 and figures["sampler_cores"] >= 0  # --min-blocks 3: two at a time


def _in_session(session: int) -> list[int]:
    """PIDs of the live processes (zombies left out) whose session is `session`."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            if os.getsid(int(entry.name)) == session and state != "Z":
                pids.append(int(entry.name))
        except (OSError, IndexError):  # gone meanwhile
            continue
    return pids


def start_hf_processes_run(tiny_model, argv: list[str], **popen) -> subprocess.Popen:
    """harness_overhead.py --backend hf on the CPU and the tiny model with `argv`, stderr dropped, in a session
    of its own: the session holds it and everything it starts."""
    command = [sys.executable, str(ROOT / "benchmarks/harness_overhead.py")]
    command += ["--backend", "hf", "--device", "cpu", "--model", str(tiny_model), *argv]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL, start_new_session=True, **popen)


def kill_session(session: int) -> None:
    """SIGKILL to every live process of `session`: what a failed test leaves must not load the next one's cores."""
    import signal

    for pid in _in_session(session):
        os.kill(pid, signal.SIGKILL)


def test_a_stopped_processes_run_leaves_no_child_measuring(tiny_model):
    """SIGTERM to the --processes parent ends it and its child (and the child's sampler): a benchmark
    left running would load the cores under whatever is measured next."""
    import signal
    import time

    parent = start_hf_processes_run(
        tiny_model,
        "--processes 2 --input-tokens 8 --output-tokens 6 --min-seconds 60 --max-seconds 60".split(),
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while len(_in_session(parent.pid)) < 3 and time.monotonic() < deadline:  # parent, child, sampler
            time.sleep(0.2)
        assert len(_in_session(parent.pid)) >= 3, "the child and its sampler did not start"
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(timeout=30) == 128 + signal.SIGTERM
        deadline = time.monotonic() + 15
        while _in_session(parent.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _in_session(parent.pid) == []
    finally:
        kill_session(parent.pid)


def test_a_stopped_processes_run_still_pools_the_processes_that_ended(tiny_model):
    """Nothing measured is lost: SIGTERM in the second of three processes prints the pooled lines of the first."""
    import signal

    parent = start_hf_processes_run(
        tiny_model,
        "--processes 3 --input-tokens 8 --output-tokens 6 --requests 2 --min-seconds 0 --max-seconds 1".split(),
        stdout=subprocess.PIPE,
        text=True,
    )
    seen = []
    try:
        for line in parent.stdout:
            seen.append(line)
            if line.startswith("== process 2 of 3"):  # as the parent starts the second child: it must die too
                parent.send_signal(signal.SIGTERM)
                break
        out, _ = parent.communicate(timeout=60)
        seen += out.splitlines(keepends=True)
        assert parent.returncode == 128 + signal.SIGTERM
        assert _in_session(parent.pid) == []  # no child left measuring (and holding the pipe)
    finally:
        kill_session(parent.pid)
    assert "== stopped: pooled over the processes that ended\n" in seen
    for shape in ("batch 1", "batch 2"):
        ended = [line for line in seen if line.startswith(f"hf         {shape}  cpu")]
        pooled = [line for line in seen if line.startswith(f"hf         {shape}  pooled")]
        assert len(ended) == 1 and len(pooled) == 1 and "pooled, 1 processes" in pooled[0]


def test_a_results_line_cut_by_a_kill_is_left_out(tmp_path):
    module = overhead_module()
    path = tmp_path / "results.jsonl"
    assert module.read_results(path) == []
    path.write_text('{"backend": "hf", "mean_log": 0.01}\n{"backend": "hf", "mean')
    assert module.read_results(path) == [{"backend": "hf", "mean_log": 0.01}]
    path.write_text('{"backend": "hf", "mean\n{"backend": "hf", "mean_log": 0.02}\n')  # cut, then appended to
    assert module.read_results(path) == [{"backend": "hf", "mean_log": 0.02}]
