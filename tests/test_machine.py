"""What the machine did: the resource sampler (with and without NVML), validity flags, provenance."""

import os
import re
import sys
import time
import types

import pytest

from conftest import REPO
from llmbench import provenance
from llmbench.sampler import ResourceSampler
from llmbench.worker import validity_flags

MIB = 2**20


def test_without_nvml_every_gpu_field_is_null_with_a_reason():
    sampler = ResourceSampler(period_s=0.01)
    sampler.start()
    ballast = bytearray(64 * MIB)  # resident memory the sampler must see grow
    ballast[::4096] = b"x" * len(ballast[::4096])
    sampler.mark("load_end")
    sampler.window_start()
    time.sleep(0.05)
    sampler.window_end()
    report = sampler.stop()
    assert report["nvml"]["available"] is False
    assert report["nvml"]["reason"].startswith(("NVML unavailable", "nvidia-ml-py"))
    assert report["samples"]["gpu_process_bytes"] is None and report["samples"]["gpu_used_bytes"] is None
    assert (
        report["peak"]["gpu_process_bytes"] is None
        and report["gpu_process_reason"] == report["nvml"]["reason"]
    )
    assert report["energy_j"] is None and report["energy_reason"] == report["nvml"]["reason"]
    rss = report["samples"]["rss_bytes"]
    assert len(rss) >= 5 and all(v > 0 for v in rss)  # baseline, marks and the thread's samples
    assert (
        report["snapshots"]["load_end"]["rss_bytes"] - report["snapshots"]["baseline"]["rss_bytes"]
        >= 60 * MIB
    )
    assert set(report["events_s"]) == {"load_end", "measure_start", "measure_end"}
    del ballast


class FakeGPU:
    """A stand-in for pynvml with one GPU whose state the test drives."""

    NVML_CLOCK_GRAPHICS, NVML_CLOCK_SM, NVML_CLOCK_MEM, NVML_TEMPERATURE_GPU = 0, 1, 2, 0

    def __init__(self, own_pid):
        self.own_pid = own_pid
        self.processes = {4242: 500 * MIB}  # someone else's process
        self.energy_mj = 1_000_000
        self.clock_events = 0x1  # idle: not a slowdown

    def module(self):
        gpu = self
        names = {
            "nvmlInit": lambda: None,
            "nvmlShutdown": lambda: None,
            "nvmlDeviceGetCount": lambda: 1,
            "nvmlDeviceGetHandleByIndex": lambda i: "gpu0",
            "nvmlDeviceGetIndex": lambda h: 0,
            "nvmlDeviceGetComputeRunningProcesses": lambda h: [
                types.SimpleNamespace(pid=p, usedGpuMemory=b) for p, b in gpu.processes.items()
            ],
            "nvmlDeviceGetMemoryInfo": lambda h: types.SimpleNamespace(
                used=sum(gpu.processes.values()), total=80 * 1024 * MIB
            ),
            "nvmlDeviceGetTotalEnergyConsumption": lambda h: gpu.energy_mj,
            "nvmlDeviceGetCurrentClocksEventReasons": lambda h: gpu.clock_events,
            "nvmlDeviceGetName": lambda h: "Fake H100",
            "nvmlSystemGetDriverVersion": lambda: "999.1",
            "nvmlSystemGetCudaDriverVersion_v2": lambda: 13000,
            "nvmlDeviceGetUUID": lambda h: "GPU-fake",
            "nvmlDeviceGetClockInfo": lambda h, c: 1980,
            "nvmlDeviceGetMaxClockInfo": lambda h, c: 1980,
            "nvmlDeviceGetEnforcedPowerLimit": lambda h: 700_000,
            "nvmlDeviceGetTemperature": lambda h, s: 40,
            "nvmlDeviceGetPersistenceMode": lambda h: 1,
        }
        module = types.ModuleType("pynvml")
        for name, value in {
            **names,
            **{k: getattr(self, k) for k in dir(self) if k.startswith("NVML_")},
        }.items():
            setattr(module, name, value)
        return module


@pytest.fixture
def fake_gpu(monkeypatch):
    gpu = FakeGPU(os.getpid())
    monkeypatch.setitem(sys.modules, "pynvml", gpu.module())
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    return gpu


def test_with_nvml_process_memory_energy_and_slowdowns_are_recorded(fake_gpu):
    sampler = ResourceSampler(period_s=0.01)
    sampler.start()
    fake_gpu.processes[fake_gpu.own_pid] = 12_000 * MIB  # the weights arrive
    sampler.mark("load_end")
    sampler.window_start()
    fake_gpu.processes[fake_gpu.own_pid] = 13_000 * MIB  # KV cache during decoding
    fake_gpu.clock_events = 0x1 | 0x40  # hardware thermal slowdown
    fake_gpu.energy_mj += 2_500_000
    time.sleep(0.05)
    sampler.window_end()
    fake_gpu.processes[fake_gpu.own_pid] = 13_500 * MIB  # after the window: not a slowdown window any more
    report = sampler.stop()
    assert report["nvml"] == {"available": True, "reason": None}
    assert report["snapshots"]["baseline"]["gpu_process_bytes"] == 0
    assert report["snapshots"]["load_end"]["gpu_process_bytes"] == 12_000 * MIB
    assert report["peak"]["gpu_process_bytes"] == 13_500 * MIB
    assert report["peak"]["gpu_used_bytes"] == 14_000 * MIB
    assert report["energy_j"] == pytest.approx(2500.0) and report["energy_reason"] is None
    assert report["slowdown_reasons"] == ["hw_thermal_slowdown"]
    assert report["other_gpu_processes_at_start"] == [{"pid": 4242, "bytes": 500 * MIB}]
    flags = validity_flags({"status": "ok", "resources": report})
    assert flags == [
        "other processes were on the GPU at start (pids 4242)",
        "GPU clocks slowed during measurement: hw_thermal_slowdown",
    ]


def test_a_process_nvml_never_lists_is_null_with_a_reason(fake_gpu):
    sampler = ResourceSampler(period_s=0.01)
    sampler.start()
    report = sampler.stop()
    assert report["peak"]["gpu_process_bytes"] is None
    assert "never appeared in NVML's process list" in report["gpu_process_reason"]


def test_gpu_provenance_comes_from_nvml(fake_gpu):
    (gpu,) = provenance.gpu_info()
    assert gpu["name"] == "Fake H100" and gpu["driver"] == "999.1" and gpu["cuda_driver"] == "13.0"
    assert gpu["power_limit_w"] == 700 and gpu["sm_clock_max_mhz"] == 1980


def test_invalid_lengths_are_a_flag_and_a_clean_run_has_none():
    assert validity_flags({"status": "invalid", "resources": {}}) == [
        "output lengths differ from what was asked"
    ]
    assert validity_flags({"status": "ok"}) == []


def test_provenance_names_versions_commit_and_machine():
    record = provenance.collect(REPO)
    for package in ("llmbench", "torch", "transformers", "ftllm", "snakemake", "nvidia-ml-py"):
        assert record["packages"][package], package
    assert re.fullmatch(r"[0-9a-f]{40}", record["workflow"]["commit"])
    assert isinstance(record["workflow"]["dirty"], bool)
    assert record["cpu"] and record["python"].startswith("3.")
    assert record["gpus"] == []  # no GPU on this machine
    assert provenance.git_state("/")["commit"] is None  # not a checkout: null, no exception


def test_the_code_digest_identifies_the_code_where_git_cannot(tmp_path):
    """A copied tree without .git (as on a lent GPU) still says which code ran."""
    from conftest import copy_workflow

    copy = copy_workflow(tmp_path / "copy")
    state = provenance.git_state(copy)
    assert state["commit"] is None and state["code_sha256"] == provenance.code_digest(REPO)
    rule = copy / "rules/report.smk"
    rule.write_text(rule.read_text() + "\n")
    assert provenance.code_digest(copy) != state["code_sha256"]


def test_bandwidth_and_roofline_arithmetic():
    from llmbench.roofline import measure_bandwidth, roofline, weight_bytes

    measured = measure_bandwidth("cpu", gib=0.01, repeats=3)
    assert measured["bytes_per_s"] > 1e8 and measured["copy_bytes"] == 0.01 * 2**30 // 4 * 4
    manifest = {"files": [{"path": "model-00001.safetensors", "bytes": 6}, {"path": "config.json", "bytes": 99},
                          {"path": "model-00002.safetensors", "bytes": 4}]}  # fmt: skip
    assert weight_bytes(manifest) == 10
    # 10 bytes at 100 B/s bound 10 tok/s; a 200 ms TPOT decodes 5 tok/s: half the bound.
    assert roofline(200.0, 10, 100.0) == pytest.approx(
        {"decode_tok_s": 5.0, "bound_tok_s": 10.0, "fraction": 0.5}
    )
