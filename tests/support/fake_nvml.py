"""A stand-in for pynvml with GPUs whose state a test drives, and calls it can make fail."""

import types

MIB = 2**20


class NVMLError(Exception):
    pass


class FakeGPU:
    NVML_CLOCK_GRAPHICS, NVML_CLOCK_SM, NVML_CLOCK_MEM, NVML_TEMPERATURE_GPU = 0, 1, 2, 0

    def __init__(self, own_pid, boards=("GPU-fake-0",)):
        self.own_pid = own_pid
        self.boards = list(boards)  # UUIDs in NVML's (PCI bus) order
        self.processes = {4242: 500 * MIB}  # someone else's process
        self.energy_mj = 1_000_000
        self.clock_events = 0x1  # idle: not a slowdown
        self.utilization = 90
        self.failing: dict[str, str] = {}  # function name -> NVML error it raises

    def _call(self, name, value):
        def call(*args):
            if name in self.failing:
                raise NVMLError(self.failing[name])
            return value(*args)

        return call

    def module(self):
        gpu = self
        names = {
            "nvmlInit": lambda: None,
            "nvmlShutdown": lambda: None,
            "nvmlDeviceGetCount": lambda: len(gpu.boards),
            "nvmlDeviceGetHandleByIndex": lambda i: gpu.boards[i],
            "nvmlDeviceGetHandleByUUID": lambda u: gpu.boards[gpu.boards.index(u)],
            "nvmlDeviceGetIndex": lambda h: gpu.boards.index(h),
            "nvmlDeviceGetComputeRunningProcesses": lambda h: [
                types.SimpleNamespace(pid=p, usedGpuMemory=b) for p, b in gpu.processes.items()
            ],
            "nvmlDeviceGetMemoryInfo": lambda h: types.SimpleNamespace(
                used=sum(gpu.processes.values()), total=80 * 1024 * MIB
            ),
            "nvmlDeviceGetUtilizationRates": lambda h: types.SimpleNamespace(gpu=gpu.utilization, memory=40),
            "nvmlDeviceGetTotalEnergyConsumption": lambda h: gpu.energy_mj,
            "nvmlDeviceGetCurrentClocksEventReasons": lambda h: gpu.clock_events,
            "nvmlDeviceGetName": lambda h: f"Fake GPU {gpu.boards.index(h)}",
            "nvmlSystemGetDriverVersion": lambda: "999.1",
            "nvmlSystemGetCudaDriverVersion_v2": lambda: 13000,
            "nvmlDeviceGetUUID": lambda h: h,
            "nvmlDeviceGetClockInfo": lambda h, c: 1980,
            "nvmlDeviceGetMaxClockInfo": lambda h, c: 1980,
            "nvmlDeviceGetEnforcedPowerLimit": lambda h: 700_000,
            "nvmlDeviceGetTemperature": lambda h, s: 40,
            "nvmlDeviceGetPersistenceMode": lambda h: 1,
        }
        module = types.ModuleType("pynvml")
        for name, value in names.items():
            setattr(module, name, self._call(name, value))
        for name in dir(self):
            if name.startswith("NVML_"):
                setattr(module, name, getattr(self, name))
        return module
