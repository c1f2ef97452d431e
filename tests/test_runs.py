"""Backends and the isolated run path, on the tiny synthetic model, on CPU."""

import json
import shutil
import subprocess
import sys
import time

import pytest

from conftest import REPO
from llmbench.backends import available, get_backend
from llmbench.backends.base import LoadSettings
from llmbench.io import read_json, write_json_atomic
from llmbench.launcher import run_isolated


def spec_for(model_dir, prompt_ids, backend, artifact=None, scenario=None, device="cpu"):
    manifest = model_dir.parent / f"{model_dir.name}-manifest.json"
    if not manifest.exists():
        from llmbench.models.manifest import build_manifest

        write_json_atomic(manifest, build_manifest(model_dir, {"source": "synthetic", "preset": "tiny"}))
    scenario = scenario or {
        "type": "loop",
        "output_tokens": 12,
        "warmup_requests": 1,
        "repetitions": 2,
        "min_duration_s": 0,
    }
    return {
        "run": f"tiny/{backend}/test",
        "model": "tiny",
        "backend": backend,
        "scenario_name": "test",
        "scenario": scenario,
        "device": device,
        "dtype": "float32",
        "cpu_threads": 1,
        "backend_options": {},
        "model_dir": str(model_dir),
        "artifact": str(artifact or model_dir),
        "manifest": str(manifest),
        "prompts_ids": str(prompt_ids),
        "workflow_dir": str(REPO),
    }


@pytest.fixture(scope="module")
def tiny_flm(tiny_model, tmp_path_factory):
    from llmbench.convert import convert_to_flm

    folder = tmp_path_factory.mktemp("flm")
    output = folder / "fastllm-float32.flm"
    convert_to_flm(tiny_model, output, "float32", timeout_s=300, log=folder / "convert.log")
    return output


def test_registry_finds_backend_modules():
    assert {"hf", "fastllm"} <= set(available())
    assert get_backend("fastllm").artifact_kind == "fastllm"
    with pytest.raises(KeyError, match="known backends"):
        get_backend("nope")


def test_hf_generates_exactly_n_tokens_even_past_eos(tiny_model, tiny_prompt_ids):
    prompt = read_json(tiny_prompt_ids)["prompt_ids"][0]
    backend = get_backend("hf")(LoadSettings(str(tiny_model), str(tiny_model), "cpu", "float32", 1))
    backend.import_libraries()
    backend.load()
    first = backend.generate(prompt, 1).output_ids[0]
    # Make the model's first greedy token its EOS: generation must go on regardless,
    # with EOS masked (as FastLLM's min_len does), so that token never appears.
    backend.model.generation_config.eos_token_id = first
    generation = backend.generate(prompt, 9)
    assert len(generation.output_ids) == 9 and first not in generation.output_ids
    times = generation.token_times
    assert len(times) == 9
    assert generation.start < times[0] and times == sorted(times) and times[-1] <= generation.end


def test_both_backends_run_isolated_with_exact_lengths_and_agree(
    tiny_model, tiny_prompt_ids, tiny_flm, tmp_path
):
    results = {}
    for backend, artifact in (("hf", tiny_model), ("fastllm", tiny_flm)):
        out = tmp_path / f"{backend}.json"
        result = run_isolated(
            spec_for(tiny_model, tiny_prompt_ids, backend, artifact), out, tmp_path / f"{backend}.log", 300
        )
        assert result["status"] == "ok", result.get("reason")
        assert read_json(out) == json.loads(json.dumps(result))
        reps = result["measurement"]["repetitions"]
        assert len(reps) == 2 and result["measurement"]["warmup_requests"] == 1
        for request in (r for rep in reps for r in rep["requests"]):
            assert request["output_tokens"] == 12 == len(request["output_ids"])
            assert len(request["itl_ms"]) == 11
            assert 0 < request["ttft_ms"] <= request["e2e_ms"]
        assert result["load_s"] > 0 and result["device"] == "cpu"
        assert result["model_manifest"]["sha256"]
        results[backend] = reps[0]["requests"]
    assert results["fastllm"][0]["output_ids"] == results["hf"][0]["output_ids"]
    assert read_json(tmp_path / "fastllm.json")["backend_info"]["library"] == "libfastllm_tools-cpu.so"


def test_threads_scenario_runs_all_queries_concurrently(tiny_model, tiny_prompt_ids, tiny_flm, tmp_path):
    scenario = {
        "type": "threads",
        "output_tokens": 200,  # long enough that thread start-up cannot outlast a request
        "workers": 5,
        "warmup_requests": 0,
        "repetitions": 1,
        "min_duration_s": 0,
    }
    spec = spec_for(tiny_model, tiny_prompt_ids, "fastllm", tiny_flm, scenario)
    result = run_isolated(spec, tmp_path / "r.json", tmp_path / "r.log", 300)
    assert result["status"] == "ok", result.get("reason")
    (rep,) = result["measurement"]["repetitions"]
    assert len(rep["requests"]) == 5
    # Submitted together: every request starts before the first one finishes.
    first_end = min(r["start_ms"] + r["e2e_ms"] for r in rep["requests"])
    assert max(r["start_ms"] for r in rep["requests"]) < first_end


@pytest.mark.fault
@pytest.mark.parametrize("backend", ["hf", "fastllm"])
def test_cuda_asked_on_a_cpu_machine_is_a_failure_not_cpu_numbers(
    backend, tiny_model, tiny_prompt_ids, tiny_flm, tmp_path
):
    artifact = tiny_flm if backend == "fastllm" else tiny_model
    spec = spec_for(tiny_model, tiny_prompt_ids, backend, artifact, device="cuda")
    result = run_isolated(spec, tmp_path / "r.json", tmp_path / "r.log", 300)
    assert result["status"] == "failed"
    assert result["reason"].startswith("backend unavailable: device cuda asked for")
    assert "measurement" not in result


@pytest.mark.fault
def test_a_backend_error_becomes_a_failure_record(tiny_model, tiny_prompt_ids, tmp_path):
    spec = spec_for(tiny_model, tiny_prompt_ids, "hf", artifact=tmp_path / "missing-model")
    result = run_isolated(spec, tmp_path / "r.json", tmp_path / "r.log", 300)
    assert result["status"] == "failed" and "missing-model" in result["reason"]
    assert "Traceback" in result["traceback"] and result["exit_code"] == 0
    assert read_json(tmp_path / "r.json")["status"] == "failed"


FAULTY_WORKERS = {
    "segfault": ("import ctypes; ctypes.string_at(0)", "killed by signal SIGSEGV"),
    "exit-0-silently": ("print('Press any key to exit')", "exited with status 0 without writing a result"),
    "exit-3": ("import sys; sys.exit(3)", "exited with status 3 without writing a result"),
    "half-written": (
        "import sys; open(sys.argv[2], 'w').write('{\"status\": ')",
        "unreadable result",
    ),
}


@pytest.mark.fault
@pytest.mark.parametrize("fault", sorted(FAULTY_WORKERS))
def test_worker_faults_leave_a_failure_record(fault, tmp_path):
    code, reason = FAULTY_WORKERS[fault]
    spec = {"run": "m/b/s"}
    result = run_isolated(
        spec, tmp_path / "r.json", tmp_path / "r.log", 60, worker=(sys.executable, "-c", code)
    )
    assert result["status"] == "failed" and reason in result["reason"]
    assert read_json(tmp_path / "r.json") == result
    if fault == "exit-0-silently":
        assert "Press any key" in result["log_tail"]


@pytest.mark.fault
def test_a_hanging_worker_and_its_children_are_killed_at_the_timeout(tmp_path):
    code = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)"
    started = time.monotonic()
    result = run_isolated(
        {"run": "m/b/s"}, tmp_path / "r.json", tmp_path / "r.log", 2, worker=(sys.executable, "-c", code)
    )
    assert time.monotonic() - started < 20
    assert result["status"] == "failed" and result["reason"] == "timed out after 2 s"


@pytest.mark.fault
def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "result.json"
    write_json_atomic(path, {"status": "ok"})
    with pytest.raises(ValueError):
        write_json_atomic(path, {"value": float("nan")})  # NaN is not JSON: fails mid-write
    assert read_json(path) == {"status": "ok"}
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


@pytest.mark.fault
def test_conversion_failure_is_an_error_not_an_empty_file(tmp_path):
    from llmbench.convert import ConversionError, convert_to_flm

    (tmp_path / "not-a-model").mkdir()
    with pytest.raises(ConversionError, match="wrote no .flm file"):
        convert_to_flm(tmp_path / "not-a-model", tmp_path / "x.flm", "float32", 120, tmp_path / "c.log")
    assert not (tmp_path / "x.flm").exists() and not (tmp_path / "x.flm.partial").exists()
    shutil.rmtree(tmp_path / "not-a-model")


def test_hf_true_batching_gives_each_sequence_what_it_gets_alone(tiny_model):
    backend = get_backend("hf")(LoadSettings(str(tiny_model), str(tiny_model), "cpu", "float32", 1))
    backend.import_libraries()
    backend.load()
    prompts = [[5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]]
    batch = backend.generate_batch(prompts, 6)
    assert [g.output_ids for g in batch] == [backend.generate(p, 6).output_ids for p in prompts]
    assert all(len(g.token_times) == 6 for g in batch)
    with pytest.raises(ValueError, match="equal length"):
        backend.generate_batch([[1, 2], [3]], 2)


@pytest.mark.fault
def test_a_worker_dies_with_the_process_that_launched_it(tmp_path):
    """Snakemake interrupted: the job's process dies, its worker must not live on (holding a GPU)."""
    pid_file = tmp_path / "worker.pid"
    worker = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(120)"
    parent_code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from llmbench.launcher import run_isolated;"
        "run_isolated({'run': 'm/b/s'}, sys.argv[2], sys.argv[3], 120, worker=(sys.executable, '-c', sys.argv[4]))"
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code, str(REPO / "src"), str(tmp_path / "r.json"),
                               str(tmp_path / "r.log"), worker])  # fmt: skip
    deadline = time.monotonic() + 30
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline and parent.poll() is None
        time.sleep(0.05)
    worker_pid = int(pid_file.read_text())
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while _alive(worker_pid):
        assert time.monotonic() < deadline, "the worker outlived its launcher"
        time.sleep(0.05)


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("compiled", [False, True])
def test_hf_compile_decodes_exactly_what_hf_does(tiny_model, tmp_path, compiled):
    """Static cache + own greedy loop, eager and torch.compile'd (on CUDA it is the default)."""
    prompts = [[5, 6, 7, 8, 9, 10], [11, 12, 13, 14, 15, 16]]
    first = _load("hf", tiny_model).generate(prompts[0], 1).output_ids[0]
    # A copy of the model whose EOS is that first greedy token: both must mask it.
    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    for name in ("config.json", "generation_config.json"):
        config = json.loads((model / name).read_text())
        (model / name).write_text(json.dumps({**config, "eos_token_id": first}))
    hf = _load("hf", model)
    fast = _load("hf-compile", model, {"compile": compiled, "max_cache_len": 64})
    assert fast.describe()["compiled"] is compiled
    for prompt in prompts:
        single = fast.generate(prompt, 12)
        assert single.output_ids == hf.generate(prompt, 12).output_ids and first not in single.output_ids
        assert len(single.token_times) == 12 and single.start < single.token_times[0]
    assert [g.output_ids for g in fast.generate_batch(prompts, 12)] == [
        hf.generate(p, 12).output_ids for p in prompts
    ]
    with pytest.raises(ValueError, match="exceeds max_cache_len 64"):
        fast.generate(list(range(3, 60)), 12)


def _load(name, model, options=None):
    backend = get_backend(name)(LoadSettings(str(model), str(model), "cpu", "float32", 2, options or {}))
    backend.import_libraries()
    backend.load()
    return backend


@pytest.mark.bad_input
def test_a_prompt_longer_than_the_context_fails_before_loading(tiny_model, tiny_prompt_ids, tmp_path):
    scenario = {"type": "fixed", "input_tokens": 2040, "output_tokens": 16, "requests": 1, "seed": 0,
                "warmup_requests": 0, "repetitions": 1, "min_duration_s": 0}  # fmt: skip
    result = run_isolated(spec_for(tiny_model, tiny_prompt_ids, "hf", scenario=scenario), tmp_path / "r.json",
                          tmp_path / "r.log", 300)  # fmt: skip
    assert result["status"] == "failed"
    assert result["reason"] == "ValueError: prompt + output = 2056 tokens exceeds the model's context of 2048"
    assert "load_s" not in result
