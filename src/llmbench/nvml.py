"""The GPU as NVML sees it: the device a run uses, its facts, its processes.

NVML sees memory allocated by any library (FastLLM's included), where
torch.cuda.memory_allocated sees only torch's own. Every function degrades to
None plus a reason when NVML or a GPU is missing, so one schema serves CPU runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

# Clock-event reasons that mean the GPU ran slower than it could during a
# measurement (idle, application clocks and sync boost are not slowdowns).
SLOWDOWN_REASONS = {
    0x4: "sw_power_cap",
    0x8: "hw_slowdown",
    0x20: "sw_thermal_slowdown",
    0x40: "hw_thermal_slowdown",
    0x80: "hw_power_brake_slowdown",
}


def slowdown_names(mask: int) -> list[str]:
    return [name for bit, name in SLOWDOWN_REASONS.items() if mask & bit]


@dataclass
class Device:
    nvml: object  # the pynvml module
    handle: object
    index: int


def open_device() -> tuple[Device | None, str | None]:
    """The GPU a CUDA process of ours uses (first of CUDA_VISIBLE_DEVICES), or (None, reason)."""
    try:
        import pynvml
    except ImportError:
        return None, "nvidia-ml-py (pynvml) is not installed"
    try:
        pynvml.nvmlInit()
    except Exception as error:  # NVMLError_LibraryNotFound, DriverNotLoaded, ...
        return None, f"NVML unavailable: {error}"
    try:
        count = pynvml.nvmlDeviceGetCount()
        if count == 0:
            return None, "NVML sees no GPU"
        # NVML numbers devices ignoring CUDA_VISIBLE_DEVICES; map the first visible one.
        visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")[0].strip()
        if visible.startswith(("GPU-", "MIG-")):
            handle = pynvml.nvmlDeviceGetHandleByUUID(visible)
            index = pynvml.nvmlDeviceGetIndex(handle)
        else:
            index = int(visible) if visible.isdigit() else 0
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        return Device(pynvml, handle, index), None
    except Exception as error:
        return None, f"NVML could not open the device: {error}"


def _safe(call, *args):
    try:
        return call(*args)
    except Exception:  # not supported on this GPU / driver
        return None


def device_facts(device: Device) -> dict:
    """Name, memory, driver, clocks and power limit, for provenance."""
    n, h = device.nvml, device.handle
    cuda = _safe(n.nvmlSystemGetCudaDriverVersion_v2)
    graphics, sm, memory = n.NVML_CLOCK_GRAPHICS, n.NVML_CLOCK_SM, n.NVML_CLOCK_MEM
    power_limit = _safe(n.nvmlDeviceGetEnforcedPowerLimit, h)
    return {
        "index": device.index,
        "name": _safe(n.nvmlDeviceGetName, h),
        "uuid": _safe(n.nvmlDeviceGetUUID, h),
        "memory_total_bytes": getattr(_safe(n.nvmlDeviceGetMemoryInfo, h), "total", None),
        "driver": _safe(n.nvmlSystemGetDriverVersion),
        "cuda_driver": f"{cuda // 1000}.{cuda % 1000 // 10}" if cuda else None,
        "sm_clock_mhz": _safe(n.nvmlDeviceGetClockInfo, h, sm),
        "sm_clock_max_mhz": _safe(n.nvmlDeviceGetMaxClockInfo, h, sm),
        "graphics_clock_mhz": _safe(n.nvmlDeviceGetClockInfo, h, graphics),
        "memory_clock_mhz": _safe(n.nvmlDeviceGetClockInfo, h, memory),
        "memory_clock_max_mhz": _safe(n.nvmlDeviceGetMaxClockInfo, h, memory),
        "power_limit_w": power_limit / 1000 if power_limit else None,
        "temperature_c": _safe(n.nvmlDeviceGetTemperature, h, n.NVML_TEMPERATURE_GPU),
        "persistence_mode": _safe(n.nvmlDeviceGetPersistenceMode, h),
    }


def compute_processes(device: Device) -> dict[int, int | None]:
    """pid -> GPU memory in bytes (None where the driver does not say)."""
    processes = device.nvml.nvmlDeviceGetComputeRunningProcesses(device.handle)
    return {p.pid: p.usedGpuMemory for p in processes}


def used_bytes(device: Device) -> int:
    return device.nvml.nvmlDeviceGetMemoryInfo(device.handle).used


def energy_mj(device: Device) -> int | None:
    return _safe(device.nvml.nvmlDeviceGetTotalEnergyConsumption, device.handle)


def clock_event_mask(device: Device) -> int | None:
    n = device.nvml
    call = (
        getattr(n, "nvmlDeviceGetCurrentClocksEventReasons", None)
        or n.nvmlDeviceGetCurrentClocksThrottleReasons
    )
    return _safe(call, device.handle)
