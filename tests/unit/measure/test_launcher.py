"""The isolated run: a child process per replica, a record whatever happens."""

import subprocess
import sys
import time

import pytest

from conftest import REPO, make_spec
from llmbench.io import read_json, write_json_atomic
from llmbench.measure.launcher import run_isolated
from llmbench.record import read_record


def test_both_backends_run_isolated_with_exact_lengths_and_agree(
    tiny_model, tiny_prompt_ids, tiny_flm, tmp_path
):
    first_outputs = {}
    for backend, artifact in (("hf", tiny_model), ("fastllm", tiny_flm)):
        out = tmp_path / f"{backend}.json"
        record = run_isolated(
            make_spec(tiny_model, tiny_prompt_ids, backend, artifact), out, tmp_path / f"{backend}.log"
        )
        assert record.status == "ok", record.reason
        assert read_record(out) == record
        (level,) = record.measurement.levels
        assert len(level.passes) == 2 and level.warmup_passes == 1 and level.stop_reason == "repetitions"
        for request in (r for p in level.passes for r in p.requests):
            assert request.output_tokens == 12 and len(request.itl_ms) == 11
            assert 0 < request.ttft_ms <= request.e2e_ms
        assert record.load_s > 0 and record.device == "cpu" and record.model_manifest["sha256"]
        assert record.resources.window_s > 0 and record.resources.cpu_s > 0
        first_outputs[backend] = level.passes[0].requests[0].output_ids
    assert first_outputs["fastllm"] == first_outputs["hf"]


def test_threads_scenario_runs_all_queries_concurrently(tiny_model, tiny_prompt_ids, tiny_flm, tmp_path):
    scenario = {"type": "threads", "output_tokens": 200, "workers": 5, "warmup_passes": 0, "repetitions": 1}
    spec = make_spec(tiny_model, tiny_prompt_ids, "fastllm", tiny_flm, scenario)
    record = run_isolated(spec, tmp_path / "r.json", tmp_path / "r.log")
    assert record.status == "ok", record.reason
    (p,) = record.measurement.levels[0].passes
    assert len(p.requests) == 5
    first_end = min(r.submit_ms + r.e2e_ms for r in p.requests)
    assert max(r.submit_ms for r in p.requests) < first_end  # submitted together
    assert {"code": "cold"} in record.validity_flags  # no warm-up: said so


@pytest.mark.fault
@pytest.mark.parametrize("backend", ["hf", "fastllm"])
def test_cuda_asked_on_a_cpu_machine_is_a_failure_not_cpu_numbers(
    backend, tiny_model, tiny_prompt_ids, tiny_flm, tmp_path
):
    artifact = tiny_flm if backend == "fastllm" else tiny_model
    spec = make_spec(tiny_model, tiny_prompt_ids, backend, artifact, device="cuda")
    record = run_isolated(spec, tmp_path / "r.json", tmp_path / "r.log")
    assert record.status == "failed" and record.reason.startswith(
        "backend unavailable: device cuda asked for"
    )
    assert record.measurement is None


@pytest.mark.fault
def test_a_backend_error_becomes_a_failure_record(tiny_model, tiny_prompt_ids, tmp_path):
    spec = make_spec(tiny_model, tiny_prompt_ids, "hf", artifact=tmp_path / "missing-model")
    record = run_isolated(spec, tmp_path / "r.json", tmp_path / "r.log")
    assert record.status == "failed" and "missing-model" in record.reason
    assert "Traceback" in record.traceback and record.exit_code == 0
    assert read_record(tmp_path / "r.json").status == "failed"


FAULTY_WORKERS = {
    "segfault": ("import ctypes; ctypes.string_at(0)", "killed by signal SIGSEGV"),
    "exit-0-silently": ("print('Press any key to exit')", "exited with status 0 without writing a result"),
    "exit-3": ("import sys; sys.exit(3)", "exited with status 3 without writing a result"),
    "half-written": ("import sys; open(sys.argv[2], 'w').write('{\"status\": ')", "unreadable result"),
}


@pytest.mark.fault
@pytest.mark.parametrize("fault", sorted(FAULTY_WORKERS))
def test_worker_faults_leave_a_failure_record(fault, tiny_model, tiny_prompt_ids, tmp_path):
    code, reason = FAULTY_WORKERS[fault]
    spec = make_spec(tiny_model, tiny_prompt_ids, "hf", timeout_s=60)
    record = run_isolated(spec, tmp_path / "r.json", tmp_path / "r.log", worker=(sys.executable, "-c", code))
    assert record.status == "failed" and reason in record.reason and str(record.run) == "tiny/hf/test/0"
    assert read_record(tmp_path / "r.json") == record
    if fault == "exit-0-silently":
        assert "Press any key" in record.log_tail


@pytest.mark.fault
def test_the_configured_timeout_is_the_enforced_one(tiny_model, tiny_prompt_ids, tmp_path):
    """timeout_s: 30 once killed after 60 s (seconds rounded to whole minutes): 1.5 s must mean 1.5 s."""
    code = (
        "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
        " time.sleep(60)"
    )
    spec = make_spec(tiny_model, tiny_prompt_ids, "hf", timeout_s=1.5)
    started = time.monotonic()
    record = run_isolated(spec, tmp_path / "r.json", tmp_path / "r.log", worker=(sys.executable, "-c", code))
    assert 1.5 <= time.monotonic() - started < 6
    assert record.status == "failed" and record.reason == "timed out after 1.5 s"


@pytest.mark.fault
def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "result.json"
    write_json_atomic(path, {"status": "ok"})
    with pytest.raises(ValueError):
        write_json_atomic(path, {"value": float("nan")})  # NaN is not JSON: fails mid-write
    assert read_json(path) == {"status": "ok"}
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


@pytest.mark.slow
@pytest.mark.fault
def test_conversion_failure_is_an_error_not_an_empty_file(tmp_path):
    from llmbench.models.flm_export import ConversionError, convert_to_flm

    (tmp_path / "not-a-model").mkdir()
    with pytest.raises(ConversionError, match="wrote no .flm file"):
        convert_to_flm(tmp_path / "not-a-model", tmp_path / "x.flm", "float32", 120, tmp_path / "c.log")
    assert not (tmp_path / "x.flm").exists() and not (tmp_path / "x.flm.partial").exists()


@pytest.mark.fault
def test_a_worker_dies_with_the_process_that_launched_it(tiny_model, tiny_prompt_ids, tmp_path):
    """Snakemake interrupted: the job's process dies, its worker must not live on (holding a GPU)."""
    pid_file = tmp_path / "worker.pid"
    spec_file = tmp_path / "spec.json"
    write_json_atomic(spec_file, make_spec(tiny_model, tiny_prompt_ids, "hf", timeout_s=120).to_dict())
    worker = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(120)"
    parent_code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from llmbench.measure.launcher import run_isolated;"
        "from llmbench.record import RunSpec; from llmbench.io import read_json;"
        "run_isolated(RunSpec.from_dict(read_json(sys.argv[5])), sys.argv[2], sys.argv[3],"
        " worker=(sys.executable, '-c', sys.argv[4]))"
    )
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            parent_code,
            str(REPO / "src"),
            str(tmp_path / "r.json"),
            str(tmp_path / "r.log"),
            worker,
            str(spec_file),
        ]
    )
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


@pytest.mark.bad_input
def test_a_prompt_longer_than_the_context_fails_before_loading(tiny_model, tiny_prompt_ids, tmp_path):
    """The config check catches this where the context is known beforehand; a hub model's is not."""
    from llmbench.scenario_types import Scenario

    too_long = Scenario(
        type="fixed",
        output_tokens=16,
        warmup_passes=0,
        repetitions=1,
        min_duration_s=0,
        target_ci_pct=None,
        max_duration_s=60,
        replicas=1,
        input_tokens=2040,
        requests=1,
        seed=0,
    )
    record = run_isolated(
        make_spec(tiny_model, tiny_prompt_ids, "hf", scenario=too_long),
        tmp_path / "r.json",
        tmp_path / "r.log",
    )
    assert record.status == "failed"
    assert record.reason == "ValueError: prompt + output = 2056 tokens exceeds the model's context of 2048"
    assert record.load_s is None


def test_llama_cpp_is_loaded_before_numpy_in_a_worker(
    tiny_model, tiny_prompt_ids, tmp_path, llama_cpp_witness
):
    """With numpy imported first, llama.cpp's CUDA build segfaulted in llama_model_load_from_file
    on the H200: the worker loads a backend's native libraries before anything else."""
    site, witness = llama_cpp_witness
    spec = make_spec(tiny_model, tiny_prompt_ids, "llamacpp", artifact=tmp_path / "missing.gguf")
    code = "import sys; sys.path.insert(0, sys.argv.pop(1)); import runpy; runpy.run_module('llmbench.measure.worker', run_name='__main__')"
    worker = (sys.executable, "-c", code, str(site))
    record = run_isolated(spec, tmp_path / "r.json", tmp_path / "r.log", worker=worker)
    assert record.status == "failed"  # the .gguf is missing; what matters is the order below
    assert witness.read_text() == "False"
