"""The GPU as NVML sees it: the device a run uses, its facts, its processes.

NVML sees memory allocated by any library (FastLLM's included), where
torch.cuda.memory_allocated sees only torch's own. Every call is guarded on its
own: on some driver and library pairs a single call raises (e.g.
nvmlDeviceGetComputeRunningProcesses with FunctionNotFound or NotSupported), and
that leaves its one field null with the reason, never the run failed.

The device is the first one CUDA shows this process, matched to NVML by UUID:
CUDA numbers devices fastest first unless CUDA_DEVICE_ORDER=PCI_BUS_ID, NVML by
PCI bus, so on a mixed host the same ordinal names two different boards.
"""

from __future__ import annotations

import ctypes
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
# What CUDA_VISIBLE_DEVICES holds when it hides every GPU (SLURM writes NoDevFiles).
HIDING_VALUES = {"", "-1", "NoDevFiles", "none", "void"}


def slowdown_names(mask: int) -> list[str]:
    """Names of the slowdown reasons set in a clock-event `mask` (see SLOWDOWN_REASONS)."""
    return [name for bit, name in SLOWDOWN_REASONS.items() if mask & bit]


class NvmlCallError(RuntimeError):
    """One NVML call failed; its message names the call and NVML's reason."""


@dataclass
class Device:
    """An NVML device: the pynvml module, the device's handle and NVML's index of it."""

    nvml: object  # the pynvml module
    handle: object
    index: int  # NVML's index

    def call(self, name: str, *args):
        """nvml.<name>(handle, *args); raises NvmlCallError naming the call."""
        try:
            return getattr(self.nvml, name)(self.handle, *args)
        except Exception as error:  # NVMLError_NotSupported, FunctionNotFound, a missing symbol ...
            raise NvmlCallError(f"{name} failed: {type(error).__name__}: {error}") from error


def hidden_by_environment() -> str | None:
    """Why CUDA shows this process no GPU at all, from CUDA_VISIBLE_DEVICES; None if it may."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return None
    first = visible.split(",")[0].strip()
    if first in HIDING_VALUES or (first.lstrip("-").isdigit() and int(first) < 0):
        return f"CUDA_VISIBLE_DEVICES={visible!r} hides every GPU"
    return None


def cuda_uuid() -> str | None:
    """UUID of CUDA device 0 as this process sees it, through the driver API (cuInit
    creates no context, so no GPU memory is taken); None where libcuda is missing."""
    try:
        cuda = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return None
    device, uuid = ctypes.c_int(), (ctypes.c_ubyte * 16)()
    if cuda.cuInit(0) != 0 or cuda.cuDeviceGet(ctypes.byref(device), 0) != 0:
        return None
    getter = getattr(cuda, "cuDeviceGetUuid_v2", None) or getattr(cuda, "cuDeviceGetUuid", None)
    if getter is None or getter(ctypes.byref(uuid), device) != 0:
        return None
    h = bytes(uuid).hex()
    return f"GPU-{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _handle(pynvml) -> tuple[object, str]:
    """NVML handle of the device CUDA calls 0 here, and how it was matched."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")[0].strip()
    if visible.startswith(("GPU-", "MIG-")):
        return pynvml.nvmlDeviceGetHandleByUUID(visible), "UUID from CUDA_VISIBLE_DEVICES"
    uuid = cuda_uuid()
    if uuid is not None:
        return pynvml.nvmlDeviceGetHandleByUUID(uuid), "UUID from the CUDA driver"
    count = pynvml.nvmlDeviceGetCount()
    pci_order = os.environ.get("CUDA_DEVICE_ORDER") == "PCI_BUS_ID"
    if count == 1 or pci_order:  # NVML numbers by PCI bus: the same order
        index = int(visible) if visible.isdigit() else 0
        return pynvml.nvmlDeviceGetHandleByIndex(index), "index (one GPU, or CUDA_DEVICE_ORDER=PCI_BUS_ID)"
    raise RuntimeError(
        f"cannot tell which of {count} GPUs CUDA device 0 is without libcuda: "
        "set CUDA_DEVICE_ORDER=PCI_BUS_ID or list GPU UUIDs in CUDA_VISIBLE_DEVICES"
    )


def gpu_visible() -> tuple[bool, str | None]:
    """Whether CUDA can show this process a GPU: NVML sees one and CUDA_VISIBLE_DEVICES does not hide it."""
    hidden = hidden_by_environment()
    if hidden:
        return False, hidden
    try:
        import pynvml

        pynvml.nvmlInit()
        count = pynvml.nvmlDeviceGetCount()
    except ImportError:
        return False, "nvidia-ml-py (pynvml) is not installed"
    except Exception as error:
        return False, f"NVML unavailable: {error}"
    return (True, None) if count else (False, "NVML sees no GPU")


def open_device() -> tuple[Device | None, str | None]:
    """The GPU a CUDA process of ours uses, or (None, reason)."""
    hidden = hidden_by_environment()
    if hidden:
        return None, hidden
    try:
        import pynvml
    except ImportError:
        return None, "nvidia-ml-py (pynvml) is not installed"
    try:
        pynvml.nvmlInit()
    except Exception as error:  # NVMLError_LibraryNotFound, DriverNotLoaded, ...
        return None, f"NVML unavailable: {error}"
    try:
        if pynvml.nvmlDeviceGetCount() == 0:
            return None, "NVML sees no GPU"
        handle, _ = _handle(pynvml)
        return Device(pynvml, handle, pynvml.nvmlDeviceGetIndex(handle)), None
    except Exception as error:
        return None, f"NVML could not open the device: {error}"


def _safe(call, *args):
    try:
        return call(*args)
    except Exception:  # not supported on this GPU / driver
        return None


def device_facts(device: Device) -> dict:
    """Name, UUID, PCI bus, memory, driver, clocks and power limit, for provenance."""
    n, h = device.nvml, device.handle
    cuda = _safe(n.nvmlSystemGetCudaDriverVersion_v2)
    graphics, sm, memory = n.NVML_CLOCK_GRAPHICS, n.NVML_CLOCK_SM, n.NVML_CLOCK_MEM
    power_limit = _safe(n.nvmlDeviceGetEnforcedPowerLimit, h)
    pci = _safe(n.nvmlDeviceGetPciInfo, h) if hasattr(n, "nvmlDeviceGetPciInfo") else None
    return {
        "index": device.index,
        "name": _safe(n.nvmlDeviceGetName, h),
        "uuid": _safe(n.nvmlDeviceGetUUID, h),
        "pci_bus_id": getattr(pci, "busId", None) if pci is not None else None,
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
    """pid -> GPU memory in bytes (None where the driver does not say). Raises NvmlCallError."""
    return {p.pid: p.usedGpuMemory for p in device.call("nvmlDeviceGetComputeRunningProcesses")}


def used_bytes(device: Device) -> int:
    """Used memory of the whole device, bytes. Raises NvmlCallError."""
    return device.call("nvmlDeviceGetMemoryInfo").used


def utilization_pct(device: Device) -> int:
    """Percent of the last sample period (1/6 s to 1 s) in which a kernel ran. Raises NvmlCallError."""
    return device.call("nvmlDeviceGetUtilizationRates").gpu


def energy_mj(device: Device) -> int:
    """Energy since the driver loaded, millijoules. Raises NvmlCallError."""
    return device.call("nvmlDeviceGetTotalEnergyConsumption")


def clock_event_mask(device: Device) -> int:
    """Current clock-event (throttle) reasons as a bit mask. Raises NvmlCallError."""
    name = (
        "nvmlDeviceGetCurrentClocksEventReasons"
        if hasattr(device.nvml, "nvmlDeviceGetCurrentClocksEventReasons")
        else "nvmlDeviceGetCurrentClocksThrottleReasons"
    )
    return device.call(name)
