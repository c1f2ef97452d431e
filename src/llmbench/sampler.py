"""What the machine did during a run: memory over time, peaks, energy, slowdowns.

A thread samples every `period_s` from before the model loads to the end:
this process's resident memory (always), and through NVML its GPU memory
(per process - FastLLM's allocations included) and the device's used memory.
Energy and clock slowdowns are read over the measured window only.
"""

from __future__ import annotations

import os
import threading
import time

from . import nvml

PERIOD_S = 0.05


def process_memory() -> dict[str, int]:
    """Peak (VmHWM) and current (VmRSS) resident memory of this process, bytes."""
    fields = {"VmHWM": "process_peak_rss_bytes", "VmRSS": "process_rss_bytes"}
    memory = {}
    try:
        with open("/proc/self/status") as status:
            for line in status:
                key = line.split(":")[0]
                if key in fields:
                    memory[fields[key]] = int(line.split()[1]) * 1024
    except OSError:
        pass
    return memory


def rss_bytes() -> int | None:
    return process_memory().get("process_rss_bytes")


def _peak(values: list) -> int | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


class ResourceSampler:
    def __init__(self, period_s: float = PERIOD_S, pid: int | None = None):
        self.period_s = period_s
        self.pid = pid or os.getpid()
        self.device, self.nvml_reason = nvml.open_device()
        self.samples: dict[str, list] = {
            "t_s": [],
            "rss_bytes": [],
            "gpu_process_bytes": [],
            "gpu_used_bytes": [],
        }
        self.events: dict[str, float] = {}
        self.snapshots: dict[str, dict] = {}
        self.process_seen = False
        self.slowdown_mask = 0
        self.in_window = False
        self.energy_start_mj: int | None = None
        self.energy_j: float | None = None
        self.energy_reason: str | None = None
        self.other_processes: list[dict] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="resource-sampler", daemon=True)
        self._t0 = time.perf_counter()

    # -- sampling -------------------------------------------------------------------------
    def _sample(self) -> dict:
        sample = {
            "t_s": time.perf_counter() - self._t0,
            "rss_bytes": rss_bytes(),
            "gpu_process_bytes": None,
            "gpu_used_bytes": None,
        }
        if self.device is not None:
            try:
                processes = nvml.compute_processes(self.device)
                if self.pid in processes:
                    self.process_seen = True
                    sample["gpu_process_bytes"] = processes[self.pid]
                else:
                    sample["gpu_process_bytes"] = 0  # no CUDA context (yet)
                sample["gpu_used_bytes"] = nvml.used_bytes(self.device)
                if self.in_window:
                    self.slowdown_mask |= nvml.clock_event_mask(self.device) or 0
            except Exception:  # a failed read is a gap in the series, not a failed run
                pass
        with self._lock:
            for key, value in sample.items():
                self.samples[key].append(value)
        return sample

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            self._sample()

    # -- phases -------------------------------------------------------------------------
    def start(self) -> None:
        if self.device is not None:
            others = nvml.compute_processes(self.device)
            self.other_processes = [{"pid": pid, "bytes": b} for pid, b in others.items() if pid != self.pid]
        self.snapshots["baseline"] = self._sample()
        self._thread.start()

    def mark(self, event: str) -> None:
        """Record the time of a phase boundary and the memory at that moment."""
        self.events[event] = time.perf_counter() - self._t0
        self.snapshots[event] = self._sample()

    def window_start(self) -> None:
        self.mark("measure_start")
        self.in_window = True
        if self.device is not None:
            self.energy_start_mj = nvml.energy_mj(self.device)

    def window_end(self) -> None:
        self.in_window = False
        if self.device is None:
            self.energy_reason = self.nvml_reason
        elif self.energy_start_mj is None:
            self.energy_reason = "this GPU does not report total energy consumption"
        else:
            end = nvml.energy_mj(self.device)
            self.energy_j = (end - self.energy_start_mj) / 1000.0 if end is not None else None
            self.energy_reason = None if end is not None else "energy counter stopped answering"
        self.mark("measure_end")

    def stop(self) -> dict:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._sample()
        return self.report()

    # -- result -------------------------------------------------------------------------
    def report(self) -> dict:
        with self._lock:
            samples = {k: list(v) for k, v in self.samples.items()}
        gpu = self.device is not None
        process_reason = None
        if not gpu:
            process_reason = self.nvml_reason
        elif not self.process_seen:
            process_reason = "this process never appeared in NVML's process list (no CUDA context, or another PID namespace)"
        if not gpu:
            samples["gpu_process_bytes"] = samples["gpu_used_bytes"] = None
        return {
            "period_s": self.period_s,
            "nvml": {"available": gpu, "reason": self.nvml_reason},
            "events_s": dict(self.events),
            "samples": samples,
            "snapshots": self.snapshots,
            "peak": {
                "rss_bytes": _peak(samples["rss_bytes"]),
                "gpu_process_bytes": _peak(samples["gpu_process_bytes"])
                if gpu and self.process_seen
                else None,
                "gpu_used_bytes": _peak(samples["gpu_used_bytes"]) if gpu else None,
            },
            "gpu_process_reason": process_reason,
            "energy_j": self.energy_j,
            "energy_reason": self.energy_reason,
            "slowdown_reasons": nvml.slowdown_names(self.slowdown_mask),
            "other_gpu_processes_at_start": self.other_processes,
        }
