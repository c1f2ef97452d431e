"""What the machine did: the resource sampler with and without NVML, NVML calls failing one by one."""

import io
import json
import mmap
import os
import signal
import subprocess
import sys
import time

import pytest

from fake_nvml import MIB, FakeGPU
from llmbench.child import child_env
from llmbench.measure import nvml
from llmbench.measure.sampler import ANSWER, ResourceSampler, SamplerError, SamplerProcess, serve
from llmbench.measure.worker import validity_flags
from llmbench.record import Resources, RunId, RunKey, RunRecord


@pytest.fixture
def fake_gpu(monkeypatch):
    gpu = FakeGPU(os.getpid())
    monkeypatch.setitem(sys.modules, "pynvml", gpu.module())
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setattr(nvml, "cuda_uuid", lambda: None)
    return gpu


def test_without_nvml_every_gpu_field_is_null_with_a_reason(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)
    sampler = ResourceSampler(period_s=0.01)
    sampler.start()
    # Fresh anonymous pages, touched one by one: a bytearray may reuse memory the
    # allocator already holds from earlier tests, and then resident memory does not grow.
    ballast = mmap.mmap(-1, 64 * MIB)
    for offset in range(0, 64 * MIB, mmap.PAGESIZE):
        ballast[offset] = 1
    sampler.mark("load_end")
    sampler.open()
    time.sleep(0.05)
    sampler.close()
    report = sampler.stop()
    assert report.nvml_available is False and report.nvml_reason == "nvidia-ml-py (pynvml) is not installed"
    assert report.samples["gpu_process_bytes"] is None and report.samples["gpu_used_bytes"] is None
    assert report.peak_gpu_process_bytes is None and report.gpu_process_reason == report.nvml_reason
    assert report.energy_j is None and report.energy_reason == report.nvml_reason
    assert report.gpu_busy_fraction is None and report.cpu_s >= 0
    rss = report.samples["rss_bytes"]
    assert len(rss) >= 5 and all(v > 0 for v in rss)  # baseline, marks and the thread's samples
    assert report.snapshots["load_end"]["rss_bytes"] - report.snapshots["baseline"]["rss_bytes"] >= 60 * MIB
    assert set(report.events_s) == {"load_end", "measure_start", "measure_end"}
    ballast.close()


def test_with_nvml_memory_energy_busy_and_slowdowns_are_recorded(fake_gpu):
    sampler = ResourceSampler(period_s=0.01)
    sampler.start()
    fake_gpu.processes[fake_gpu.own_pid] = 12_000 * MIB  # the weights arrive
    sampler.mark("load_end")
    sampler.open()
    fake_gpu.processes[fake_gpu.own_pid] = 13_000 * MIB  # KV cache during decoding
    fake_gpu.clock_events = 0x1 | 0x40  # hardware thermal slowdown
    fake_gpu.energy_mj += 2_500_000
    time.sleep(0.05)
    sampler.close()
    fake_gpu.energy_mj += 7_000_000  # between segments (a sweep's next warm wave): not counted
    sampler.open()
    fake_gpu.energy_mj += 500_000
    time.sleep(0.03)
    sampler.close()
    fake_gpu.processes[fake_gpu.own_pid] = 13_500 * MIB
    report = sampler.stop()
    assert report.nvml_available and report.nvml_reason is None and report.nvml_errors == {}
    assert report.snapshots["baseline"]["gpu_process_bytes"] == 0
    assert report.snapshots["load_end"]["gpu_process_bytes"] == 12_000 * MIB
    assert report.peak_gpu_process_bytes == 13_500 * MIB and report.peak_gpu_used_bytes == 14_000 * MIB
    assert report.energy_j == pytest.approx(3000.0) and report.energy_reason is None
    assert report.gpu_busy_fraction == pytest.approx(0.9) and 0.08 <= report.window_s < 1
    assert report.slowdown_reasons == ["hw_thermal_slowdown"]
    assert report.other_gpu_processes_at_start == [{"pid": 4242, "bytes": 500 * MIB}]
    # each segment (a sweep's level) on its own: its energy, its CPU time, its window
    first, second = report.segments
    assert first["energy_j"] == pytest.approx(2500.0) and second["energy_j"] == pytest.approx(500.0)
    assert first["window_s"] + second["window_s"] == pytest.approx(report.window_s)
    assert first["cpu_s"] + second["cpu_s"] == pytest.approx(report.cpu_s)
    assert report.window(1, 2)["energy_j"] == second["energy_j"] and report.window(0, 3) is None
    # a sweep visits its levels there and back: level 0's window is the first and the last segment
    both = report.window(0, 1)
    assert both["energy_j"] == pytest.approx(3000.0) and both["window_s"] == pytest.approx(report.window_s)
    assert both["shortest_s"] == pytest.approx(min(first["window_s"], second["window_s"]))
    record = RunRecord(run=RunId(RunKey("m", "b", "s"), 0), spec=None, status="ok", resources=report)
    assert validity_flags(record) == [
        {"code": "other_gpu_processes", "pids": "4242"},
        {"code": "gpu_slowdown", "reasons": "hw_thermal_slowdown 100 %"},
    ]


@pytest.mark.fault
@pytest.mark.parametrize(
    "call, field",
    [
        ("nvmlDeviceGetComputeRunningProcesses", "peak_gpu_process_bytes"),
        ("nvmlDeviceGetTotalEnergyConsumption", "energy_j"),
        ("nvmlDeviceGetUtilizationRates", "gpu_busy_fraction"),
        ("nvmlDeviceGetMemoryInfo", "peak_gpu_used_bytes"),
        ("nvmlDeviceGetCurrentClocksEventReasons", None),
    ],
)
def test_one_failing_nvml_call_leaves_only_its_field_null(fake_gpu, call, field):
    """Seen on some driver/library pairs: nvmlDeviceGetComputeRunningProcesses raising
    FunctionNotFound or NotSupported. The run stays ok, every other figure intact."""
    fake_gpu.failing[call] = "Not Supported"
    fake_gpu.processes[fake_gpu.own_pid] = 1_000 * MIB
    sampler = ResourceSampler(period_s=0.01)
    sampler.start()
    sampler.open()
    fake_gpu.energy_mj += 1_000_000
    time.sleep(0.05)
    sampler.close()
    report = sampler.stop()
    assert any(call in reason for reason in report.nvml_errors.values())
    measured = {
        "peak_gpu_process_bytes": 1_000 * MIB,
        "energy_j": pytest.approx(1000.0),
        "gpu_busy_fraction": pytest.approx(0.9),
        "peak_gpu_used_bytes": 1_500 * MIB,
    }
    for name, value in measured.items():
        assert getattr(report, name) == (None if name == field else value), name
    if field == "peak_gpu_process_bytes":
        assert report.gpu_process_reason.startswith("nvmlDeviceGetComputeRunningProcesses failed")
        assert report.other_gpu_processes_at_start == []


def test_a_process_nvml_never_lists_is_null_with_a_reason(fake_gpu):
    sampler = ResourceSampler(period_s=0.01)
    sampler.start()
    report = sampler.stop()
    assert report.peak_gpu_process_bytes is None
    assert "never appeared in NVML's process list" in report.gpu_process_reason


def test_each_segment_keeps_its_own_gpu_busy(fake_gpu):
    """Batch 1 and batch 32 keep the GPU busy differently: one fraction per level, not one per run."""
    sampler = ResourceSampler(period_s=0.01)
    sampler.start()
    for busy in (20, 95):
        fake_gpu.utilization = busy
        sampler.open()
        time.sleep(0.08)
        sampler.close()
        fake_gpu.utilization = 0  # between levels: warm-up, outside the window
        time.sleep(0.03)
    report = sampler.stop()
    assert [s["gpu_busy_fraction"] for s in report.segments] == [pytest.approx(0.20), pytest.approx(0.95)]
    assert all(s["gpu_util_samples"] >= 1 for s in report.segments)


def test_a_slowdown_flag_needs_a_share_of_the_window_not_one_sample(fake_gpu):
    """One 50 ms sample of power capping set the flag on the H200; the share of the window per reason
    is recorded and a reason seen in under 5 % of it is no slowdown of the run."""
    from llmbench.measure.worker import slowdowns

    sampler = ResourceSampler(period_s=60)  # the samples below are the window's: one in 40 capped
    sampler.start()
    sampler.open()
    for i in range(40):
        fake_gpu.clock_events = 0x4 if i == 20 else 0  # sw_power_cap
        sampler._sample()
    sampler.close()
    report = sampler.stop()
    assert report.slowdown_reasons == ["sw_power_cap"]
    assert report.slowdown_share["sw_power_cap"] == pytest.approx(1 / 40)
    assert slowdowns(report) == ""
    report.slowdown_share["sw_power_cap"] = 0.4
    assert slowdowns(report) == "sw_power_cap 40 %"


# -- the sampler in its own process (as a benchmark job runs it) --------------------------------------


def _busy(seconds: float) -> None:
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        pass


def test_the_sampler_process_measures_this_process_not_itself():
    """Memory, CPU time and the window are this (parent) process's: the child reads /proc/<parent>."""
    sampler = SamplerProcess(period_s=0.01)
    sampler.start()
    assert sampler.gpu is None  # no GPU here, or NVML says so
    ballast = mmap.mmap(-1, 64 * MIB)
    for offset in range(0, 64 * MIB, mmap.PAGESIZE):
        ballast[offset] = 1
    time.sleep(0.1)  # outside the window the child samples every period
    sampler.mark("load_end")
    cpu_before, started = os.times(), time.perf_counter()
    sampler.open()
    _busy(0.3)
    sampler.close()
    cpu_after, window_s = os.times(), time.perf_counter() - started
    report = sampler.stop()
    own_cpu_s = (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system)
    assert report.snapshots["load_end"]["rss_bytes"] - report.snapshots["baseline"]["rss_bytes"] >= 60 * MIB
    assert report.cpu_s == pytest.approx(own_cpu_s, abs=0.03)  # clock ticks of 10 ms at each end
    assert 0.3 <= report.window_s <= window_s  # the calls' own times, not when the child read them
    assert report.segments[0]["window_s"] == report.window_s
    assert set(report.events_s) == {"load_end", "measure_start", "measure_end"}
    assert len(report.samples["rss_bytes"]) >= 10  # the child's thread sampled meanwhile
    ballast.close()


@pytest.mark.fault
def test_a_dead_sampler_process_is_named_and_the_next_call_says_so():
    sampler = SamplerProcess(period_s=0.01)
    sampler.start()
    pid = sampler._child.pid
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(SamplerError, match=rf"sampler's process \(PID {pid}\) exited \(status -9\)"):
        sampler.mark("load_end")
    with pytest.raises(SamplerError, match="exited"):
        sampler.stop()


@pytest.mark.fault
def test_a_sampler_that_answers_late_is_killed_and_never_read_again():
    """A late answer left in the pipe must not be read as the next call's (it once made stop() raise a
    KeyError that no one caught, and the worker wrote no record)."""
    sampler = SamplerProcess(period_s=0.01, timeout_s=0.5)
    sampler.start()
    os.kill(sampler._child.pid, signal.SIGSTOP)
    with pytest.raises(SamplerError, match=r"did not answer open in 0.5 s") as timed_out:
        sampler.open()
    assert sampler._child.returncode == -signal.SIGKILL  # killed (and reaped): it cannot answer late
    for call in (sampler.close, sampler.stop):
        with pytest.raises(SamplerError) as again:
            call()
        assert str(again.value) == str(timed_out.value)


@pytest.mark.fault
def test_a_half_answer_times_out_instead_of_hanging(monkeypatch):
    """A child that writes part of a line and stalls: the timeout covers the rest of the line too."""
    stall = "import sys, time\nsys.stdin.readline()\nsys.stdout.write('llmbench-sampler {\"gpu\": nu')\n"
    stall += "sys.stdout.flush()\ntime.sleep(30)"
    monkeypatch.setattr("llmbench.measure.sampler.module_command", lambda _: (sys.executable, "-c", stall))
    sampler = SamplerProcess(period_s=0.01, timeout_s=1)
    started = time.monotonic()
    with pytest.raises(SamplerError, match=r"did not answer start in 1 s"):
        sampler.start()
    assert time.monotonic() - started < 10 and sampler._child.poll() is not None


def test_what_else_the_child_prints_goes_to_the_log_not_into_the_answers(tmp_path, monkeypatch, capfd):
    """A sitecustomize (or a library) printing on the child's stdout."""
    (tmp_path / "sitecustomize.py").write_text("print('hello from sitecustomize')\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    sampler = SamplerProcess(period_s=0.01)
    sampler.start()
    sampler.open()
    sampler.close()
    assert sampler.stop().window_s > 0
    assert "[resource sampler] hello from sitecustomize" in capfd.readouterr().err


@pytest.mark.fault
def test_the_sampler_process_ends_with_its_parent_while_a_fork_holds_its_pipe():
    """A forked copy of the worker (multiprocessing's fork) keeps the command pipe open: the child
    still ends once its parent is gone."""
    assert _gone_after_its_parent_exits("if os.fork() == 0:\n    time.sleep(30)\n    os._exit(0)\n")


@pytest.mark.fault
def test_the_sampler_process_ends_with_its_parent():
    """A worker killed mid-run leaves no sampler behind: the child sees its stdin close."""
    assert _gone_after_its_parent_exits("")


def _gone_after_its_parent_exits(before_exit: str) -> bool:
    """A parent process starts a SamplerProcess, runs `before_exit`, ends without stopping it: is the
    sampler's process gone within 10 s?"""
    parent = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, time\nfrom llmbench.measure.sampler import SamplerProcess\n"
            f"s = SamplerProcess(0.01)\ns.start()\n{before_exit}print(s._child.pid, flush=True)\nos._exit(0)",
        ],
        capture_output=True,
        text=True,
        check=True,
        env=child_env(),
    )
    child = int(parent.stdout)
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not _alive(child)


def _alive(pid: int) -> bool:
    """pid runs and is no zombie (an orphan is reaped by init, but not at once)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_serve_answers_an_unknown_command_with_an_error_and_goes_on_until_stop():
    commands = io.BytesIO(
        b'["start"]\n["pause"]\n["mark", "load_end", 0.0]\n["stop"]\n["mark", "late", 0.0]\n'
    )
    answers = io.BytesIO()
    serve(os.getpid(), 60, commands, answers)
    lines = answers.getvalue().splitlines()
    assert all(line.startswith(ANSWER) for line in lines)
    start, unknown, mark, stop = (json.loads(line[len(ANSWER) :]) for line in lines)  # none after stop
    assert "gpu" in start and unknown == {"error": "KeyError: 'pause'"} and mark == {}
    assert set(Resources(**stop["resources"]).events_s) == {"load_end"}


def _window_samples(report) -> int:
    """Samples stamped inside the window (open()'s own sample is stamped just after its edge)."""
    start, end = report.events_s["measure_start"], report.events_s["measure_end"]
    return sum(start < t < end for t in report.samples["t_s"])


def test_without_a_gpu_the_window_is_sampled_once_a_second(monkeypatch):
    """Only host memory to see: 20 wake-ups a second inside the window cost a 2-core machine's model ~1 %."""
    monkeypatch.setitem(sys.modules, "pynvml", None)
    sampler = ResourceSampler(period_s=0.01)
    sampler.start()
    time.sleep(0.2)  # outside the window: every period
    sampler.open()
    time.sleep(0.5)
    sampler.close()
    report = sampler.stop()
    assert _window_samples(report) <= 2  # open()'s own sample, and one wait begun before the window
    assert len(report.samples["t_s"]) >= 10  # baseline, marks, and the samples before the window


def _sampled_window(sampler) -> int:
    sampler.start()
    sampler.open()
    time.sleep(0.3)
    sampler.close()
    return _window_samples(sampler.stop())


def test_a_gpu_keeps_the_window_sampled_every_period(fake_gpu):
    assert _sampled_window(ResourceSampler(period_s=0.01)) >= 10


def test_a_followed_process_keeps_the_window_sampled_every_period(monkeypatch):
    """A served backend's server: its memory is seen only by sampling it."""
    monkeypatch.setitem(sys.modules, "pynvml", None)
    sampler = ResourceSampler(period_s=0.01)
    sampler.follow(os.getpid())
    assert _sampled_window(sampler) >= 10
