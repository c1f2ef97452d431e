"""Which GPU a run uses, and NVML calls that fail one at a time."""

import os
import sys

import pytest

from fake_nvml import MIB, FakeGPU
from llmbench.measure import nvml, provenance
from llmbench.measure.device import resolve_device


@pytest.fixture
def fake_gpu(monkeypatch):
    gpu = FakeGPU(os.getpid(), boards=("GPU-slow-pci-0", "GPU-fast-pci-1"))
    monkeypatch.setitem(sys.modules, "pynvml", gpu.module())
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv("CUDA_DEVICE_ORDER", raising=False)
    return gpu


@pytest.mark.parametrize("hidden", ["", "-1", "NoDevFiles"])
def test_auto_is_cpu_when_cuda_visible_devices_hides_every_gpu(fake_gpu, monkeypatch, hidden):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", hidden)
    device, reason = nvml.open_device()
    assert device is None and reason == f"CUDA_VISIBLE_DEVICES={hidden!r} hides every GPU"
    assert resolve_device("auto") == "cpu"
    assert resolve_device("cuda") == "cuda"  # asked for explicitly: the backend then fails saying so


def test_auto_is_cuda_when_a_gpu_is_visible(fake_gpu):
    assert resolve_device("auto") == "cuda"


def test_the_cuda_device_is_found_by_uuid_not_by_ordinal(fake_gpu, monkeypatch):
    """CUDA orders devices fastest first: its device 0 here is NVML's index 1."""
    monkeypatch.setattr(nvml, "cuda_uuid", lambda: "GPU-fast-pci-1")
    device, _ = nvml.open_device()
    assert device.index == 1 and nvml.device_facts(device)["uuid"] == "GPU-fast-pci-1"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-slow-pci-0")
    assert nvml.open_device()[0].index == 0


def test_without_the_cuda_driver_an_ordinal_is_trusted_only_in_pci_order(fake_gpu, monkeypatch):
    monkeypatch.setattr(nvml, "cuda_uuid", lambda: None)
    device, reason = nvml.open_device()
    assert device is None and "set CUDA_DEVICE_ORDER=PCI_BUS_ID" in reason
    monkeypatch.setenv("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    assert nvml.open_device()[0].index == 1


def test_gpu_provenance_comes_from_nvml(fake_gpu, monkeypatch):
    monkeypatch.setattr(nvml, "cuda_uuid", lambda: "GPU-slow-pci-0")
    gpus = provenance.gpu_info()
    assert [g["uuid"] for g in gpus] == ["GPU-slow-pci-0", "GPU-fast-pci-1"]
    assert (
        gpus[0]["driver"] == "999.1" and gpus[0]["cuda_driver"] == "13.0" and gpus[0]["power_limit_w"] == 700
    )


def test_a_failing_call_names_itself(fake_gpu, monkeypatch):
    monkeypatch.setattr(nvml, "cuda_uuid", lambda: "GPU-slow-pci-0")
    fake_gpu.failing["nvmlDeviceGetComputeRunningProcesses"] = "Function Not Found"
    device, _ = nvml.open_device()
    with pytest.raises(
        nvml.NvmlCallError, match="nvmlDeviceGetComputeRunningProcesses failed: .*Function Not Found"
    ):
        nvml.compute_processes(device)
    assert nvml.used_bytes(device) == 500 * MIB  # the others still answer
