"""Faults injected into real runs on the tiny model: each must leave a record that
says what happened, and lose nothing computed before. Counted by `make faults`
(tests marked `fault`; see conftest.py)."""

import errno
import json
import os
import re
import shutil
import signal
import sys
import threading
import time

import pytest

from conftest import make_spec
from llmbench.io import write_json_atomic
from llmbench.measure.launcher import run_isolated
from llmbench.record import read_record

pytestmark = pytest.mark.fault


def _worker_with(patch: str) -> tuple[str, ...]:
    """The real worker, with `patch` applied first (how a fault gets into a backend)."""
    return (
        sys.executable,
        "-c",
        f"import sys\n{patch}\nfrom llmbench.measure import worker\nworker.main(sys.argv[1:])",
    )


def _run_patched(tiny_model, tiny_prompt_ids, tmp_path, patch: str):
    """An hf run of the tiny model by the real worker with `patch` applied first; its result."""
    return run_isolated(
        make_spec(tiny_model, tiny_prompt_ids, "hf", timeout_s=120),
        tmp_path / "r.json",
        tmp_path / "r.log",
        worker=_worker_with(patch),
    )


def test_a_worker_killed_with_sigkill_mid_run_leaves_a_failure(tiny_model, tiny_prompt_ids, tmp_path):
    pid_file = tmp_path / "pid"
    # The worker writes its pid once measuring starts, then keeps generating.
    patch = (
        "import os\nfrom llmbench.measure import levels\nmeasure = levels.measure\n"
        f"def slow(*a, **k):\n    open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        "    import time; time.sleep(60)\n"
        "levels.measure = slow\nimport llmbench.measure.worker; llmbench.measure.worker.measure = slow"
    )
    killer = threading.Thread(target=_kill_when_written, args=(pid_file, signal.SIGKILL))
    killer.start()
    result = _run_patched(tiny_model, tiny_prompt_ids, tmp_path, patch)
    killer.join()
    assert (
        result.status == "failed"
        and result.reason == "worker killed by signal SIGKILL without writing a result"
    )
    assert read_record(tmp_path / "r.json") == result


def _kill_when_written(pid_file, sig):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if pid_file.exists() and pid_file.read_text():
            os.kill(int(pid_file.read_text()), sig)
            return
        time.sleep(0.05)


def test_cuda_out_of_memory_is_recorded_with_its_reason(tiny_model, tiny_prompt_ids, tmp_path):
    patch = (
        "import torch\nfrom llmbench.backends import hf\n"
        "def oom(*a, **k):\n"
        "    raise torch.cuda.OutOfMemoryError('CUDA out of memory. Tried to allocate 20.00 GiB (simulated)')\n"
        "hf.HFBackend.generate_batch = oom"
    )
    result = _run_patched(tiny_model, tiny_prompt_ids, tmp_path, patch)
    assert result.status == "failed"
    assert result.reason == "OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 GiB (simulated)"
    assert result.resources.peak_rss_bytes > 0  # what was sampled up to the error is kept


@pytest.mark.parametrize("killed_at", ["load_end", "stop"])
def test_a_sampler_process_killed_mid_run_fails_the_record_with_its_reason(
    tiny_model, tiny_prompt_ids, tmp_path, killed_at
):
    """A run whose memory and energy are unknown is not published as ok, and its record is still written."""
    patch = (
        "from llmbench.measure.sampler import SamplerProcess\n"
        f"call = getattr(SamplerProcess, {'mark' if killed_at == 'load_end' else 'stop'!r})\n"
        "def killing(self, *args):\n"
        "    self._child.kill(); self._child.wait()\n"
        "    return call(self, *args)\n"
        f"setattr(SamplerProcess, {'mark' if killed_at == 'load_end' else 'stop'!r}, killing)"
    )
    result = _run_patched(tiny_model, tiny_prompt_ids, tmp_path, patch)
    assert result.status == "failed" and result.resources is None
    prefix = "SamplerError: " if killed_at == "load_end" else "resource sampler: "
    assert re.fullmatch(
        prefix
        + r"the sampler's process \(PID \d+\) exited \(status -9\); its error, if any, is in this log above",
        result.reason,
    )
    assert read_record(tmp_path / "r.json") == result


def test_any_error_of_the_sampler_at_stop_still_writes_the_record(tiny_model, tiny_prompt_ids, tmp_path):
    """Not only a SamplerError: whatever stop() raises, the worker writes its record and names it."""
    patch = (
        "from llmbench.measure.sampler import SamplerProcess\n"
        "stop = SamplerProcess.stop\n"
        "def broken(self):\n"
        "    stop(self)\n"
        "    raise KeyError('resources')\n"
        "SamplerProcess.stop = broken"
    )
    result = _run_patched(tiny_model, tiny_prompt_ids, tmp_path, patch)
    assert result.status == "failed" and result.reason == "resource sampler: KeyError: 'resources'"
    assert read_record(tmp_path / "r.json") == result


def test_ftllm_missing_is_named(tiny_model, tiny_prompt_ids, tmp_path):
    result = run_isolated(
        make_spec(tiny_model, tiny_prompt_ids, "fastllm", artifact=tiny_model, timeout_s=120),
        tmp_path / "r.json",
        tmp_path / "r.log",
        worker=_worker_with("sys.modules['ftllm'] = None"),
    )
    assert result.status == "failed"
    assert result.reason.startswith("backend unavailable: ftllm is not importable")


def test_a_model_folder_deleted_before_its_run_is_named(tiny_model, tiny_prompt_ids, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    spec = make_spec(model, tiny_prompt_ids, "hf", timeout_s=120)
    shutil.rmtree(model)
    result = run_isolated(spec, tmp_path / "r.json", tmp_path / "r.log")
    assert result.status == "failed"
    assert result.reason == f"FileNotFoundError: {model} is missing (deleted after it was prepared?)"


def test_a_disk_write_failure_leaves_the_previous_result_and_no_partial_file(tmp_path, monkeypatch):
    path = tmp_path / "result.json"
    write_json_atomic(path, {"status": "ok", "run": "earlier"})

    def full_disk(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space left on device"):
        write_json_atomic(path, {"status": "ok", "run": "new"})
    assert json.loads(path.read_text()) == {"status": "ok", "run": "earlier"}
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]
