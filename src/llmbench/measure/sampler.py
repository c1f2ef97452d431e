"""What the machine did during a run: memory over time, peaks, and the measured window.

A thread samples every `period_s` from before the model loads to the end, in a process
of its own (SamplerProcess: a job's measured process runs no sampling code): the
measured process's resident memory (always) and, through NVML, its GPU memory (per
process: FastLLM's allocations included), the device's used memory and, inside
the window, the GPU's utilization and clock slowdowns (without a GPU or a followed process,
once a second inside the window: HOST_ONLY_WINDOW_PERIOD_S). The window is opened and
closed around exactly the measured passes (several segments in a sweep: one per
level); energy, CPU time and GPU busy are kept per segment (a sweep's levels cost
differently: batch 1 and batch 32 differ thirtyfold in energy per token) and summed
over the segments, so dividing them by the measured tokens is dividing like by like.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from typing import NoReturn

from ..child import child_env, module_command
from ..record import Resources
from . import host, nvml

PERIOD_S = 0.05
# Inside the measured window of a run where sampling sees only host memory (no NVML device, no other process
# followed), one sample a second: each wake-up takes a core from a model that uses all of them; on the 2-core CI
# machine 20 a second cost FastLLM +0.86 % / +1.71 % (batch 1 / 4) as a thread and +0.96 % / +1.28 % as a process,
# against +0.12 % / +0.35 % with no sampler (docs/results/cpu-overhead). The peak RSS is the kernel's (VmHWM) anyway.
HOST_ONLY_WINDOW_PERIOD_S = 1.0


def status_bytes(pid: int | str, keys: tuple[str, ...]) -> dict[str, int]:
    """The memory fields `keys` (VmRSS, VmHWM, ...) of /proc/<pid>/status (`pid` may be "self"), bytes;
    those it does not show, or all once the process is gone, are left out."""
    found = {}
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                key = line.split(":")[0]
                if key in keys:
                    found[key] = int(line.split()[1]) * 1024
    except OSError:
        pass
    return found


def process_memory() -> dict[str, int]:
    """Peak (VmHWM) and current (VmRSS) resident memory of this process, bytes."""
    fields = {"VmHWM": "process_peak_rss_bytes", "VmRSS": "process_rss_bytes"}
    return {fields[key]: value for key, value in status_bytes("self", tuple(fields)).items()}


def pid_rss_bytes(pid: int) -> int | None:
    """Resident memory (VmRSS) of process `pid`, bytes; None once it is gone."""
    return status_bytes(pid, ("VmRSS",)).get("VmRSS")


def pid_cpu_seconds(pid: int) -> float:
    """CPU time of process `pid`, user + system, all threads (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _peak(values: list) -> int | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


class ResourceSampler:
    """Samples this process (or `pid`) every `period_s` seconds (see interval_s): ``start()``,
    ``mark(event)`` at phase boundaries, ``open()``/``close()`` around measured
    passes, ``stop()`` returns the :class:`record.Resources`."""

    SERIES = ("t_s", "rss_bytes", "gpu_process_bytes", "gpu_used_bytes", "gpu_util_pct")

    def __init__(self, period_s: float = PERIOD_S, pid: int | None = None):
        self.period_s = period_s
        self.pid = pid or os.getpid()
        self.device, self.nvml_reason = nvml.open_device()
        self.samples: dict[str, list] = {k: [] for k in self.SERIES}
        self.events: dict[str, float] = {}
        self.snapshots: dict[str, dict] = {}
        self.errors: dict[str, str] = {}  # NVML call -> first failure
        self.process_seen = False
        self.slowdown_mask = 0
        self.slowdown_samples: dict[str, int] = {}  # reason -> window samples that showed it
        self.window_clock_samples = 0
        self.in_window = False
        self.window_s = 0.0
        self.window_cpu_s = 0.0
        self.energy_j: float | None = 0.0
        self._segment: dict = {}
        self.segments: list[dict] = []  # one per open()/close(): see close()
        self.other_processes: list[dict] = []
        self.followed: list[int] = []  # other processes doing this run's work (a served backend's server)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="resource-sampler", daemon=True)
        self._t0 = time.perf_counter()

    # -- guarded NVML -------------------------------------------------------------------
    def _nvml(self, read, *args):
        """One NVML read, or None with the failure kept (once per call) for the record."""
        if self.device is None:
            return None
        try:
            return read(self.device, *args)
        except nvml.NvmlCallError as error:
            self.errors.setdefault(read.__name__, str(error))
            return None

    # -- sampling -----------------------------------------------------------------------
    def _sample(self) -> dict:
        sample = dict.fromkeys(self.SERIES)
        sample["t_s"] = time.perf_counter() - self._t0
        own = pid_rss_bytes(self.pid)
        sample["rss_bytes"] = None if own is None else own + sum(pid_rss_bytes(p) or 0 for p in self.followed)
        processes = self._nvml(nvml.compute_processes)
        if processes is not None:
            pids = (self.pid, *self.followed)
            self.process_seen |= any(p in processes for p in pids)
            sample["gpu_process_bytes"] = sum(processes.get(p, 0) for p in pids)  # 0: no CUDA context (yet)
        sample["gpu_used_bytes"] = self._nvml(nvml.used_bytes)
        if self.in_window:
            sample["gpu_util_pct"] = self._nvml(nvml.utilization_pct)
            mask = self._nvml(nvml.clock_event_mask)
            if mask is not None:
                self.slowdown_mask |= mask
                self.window_clock_samples += 1
                for name in nvml.slowdown_names(mask):
                    self.slowdown_samples[name] = self.slowdown_samples.get(name, 0) + 1
        with self._lock:
            for key, value in sample.items():
                self.samples[key].append(value)
        return sample

    def interval_s(self) -> float:
        """Seconds to the next sample: period_s, or HOST_ONLY_WINDOW_PERIOD_S inside the window of a run
        that only this host's memory is sampled for."""
        if self.in_window and self.device is None and not self.followed:
            return max(self.period_s, HOST_ONLY_WINDOW_PERIOD_S)
        return self.period_s

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s()):
            self._sample()

    def follow(self, pid: int) -> None:
        """Count process `pid` with this one from now on (RSS, NVML process memory, CPU time in the window):
        a served backend's server does the run's work in another process."""
        self.followed.append(pid)

    def _cpu_s(self) -> float:
        return sum(pid_cpu_seconds(p) for p in (self.pid, *self.followed))

    # -- phases -------------------------------------------------------------------------
    def start(self) -> None:
        """Baseline sample (before any library or weight is loaded), then the thread."""
        others = self._nvml(nvml.compute_processes) or {}
        self.other_processes = [{"pid": pid, "bytes": b} for pid, b in others.items() if pid != self.pid]
        self.snapshots["baseline"] = self._sample()
        self._thread.start()

    def mark(self, event: str, at: float | None = None) -> None:
        """Record the time of a phase boundary (`at`, a time.perf_counter() reading of any process
        on this host: CLOCK_MONOTONIC; default now) and the memory at that moment."""
        self.events[event] = (time.perf_counter() if at is None else at) - self._t0
        self.snapshots[event] = self._sample()

    def open(self, at: float | None = None) -> None:
        """A measured segment begins at `at` (as in mark; the first one is the event `measure_start`)."""
        at = time.perf_counter() if at is None else at
        if "measure_start" not in self.events:
            self.mark("measure_start", at)
        with self._lock:
            first_sample = len(self.samples["gpu_util_pct"])
        self._segment = {
            "t": at,
            "cpu": self._cpu_s(),
            "energy": self._nvml(nvml.energy_mj),
            "first_sample": first_sample,
            "host": host.snapshot(),
        }
        self.in_window = True

    def close(self, at: float | None = None) -> None:
        """The measured segment ends at `at` (as in mark; the last one is the event `measure_end`); its
        window_s, cpu_s, energy_j (None where NVML could not say) and gpu_busy_fraction (None without a
        sample) are appended to `segments`."""
        at = time.perf_counter() if at is None else at
        self.in_window = False
        energy = self._nvml(nvml.energy_mj)
        window_s = at - self._segment["t"]
        cpu_s = self._cpu_s() - self._segment["cpu"]
        start = self._segment["energy"]
        energy_j = None if start is None or energy is None else (energy - start) / 1000.0
        with self._lock:
            util = [v for v in self.samples["gpu_util_pct"][self._segment["first_sample"] :] if v is not None]
        self.segments.append(
            {
                "window_s": window_s,
                "cpu_s": cpu_s,
                "energy_j": energy_j,
                "gpu_busy_fraction": sum(util) / len(util) / 100 if util else None,
                "gpu_util_samples": len(util),
                "host": host.window_state(self._segment["host"], host.snapshot()),
            }
        )
        self.window_s += window_s
        self.window_cpu_s += cpu_s
        if self.energy_j is not None:
            self.energy_j = None if energy_j is None else self.energy_j + energy_j
        self.mark("measure_end", at)

    def stop(self) -> Resources:
        """Stop the sampling thread, take a last sample and return report()."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._sample()
        return self.report()

    # -- result -------------------------------------------------------------------------
    def _reason(self, call: str) -> str | None:
        if self.device is None:
            return self.nvml_reason
        return self.errors.get(call)

    def report(self) -> Resources:
        """The Resources sampled so far: peaks in bytes, the window's length and CPU time in s, its energy in
        J and GPU busy fraction, slowdowns; a GPU figure NVML could not give is None with its reason."""
        with self._lock:
            samples: dict[str, list | None] = {k: list(v) for k, v in self.samples.items()}
        gpu = self.device is not None
        process_reason = self._reason("compute_processes")
        if gpu and not process_reason and not self.process_seen:
            process_reason = "this process never appeared in NVML's process list (no CUDA context, or another PID namespace)"
        for key in ("gpu_process_bytes", "gpu_used_bytes", "gpu_util_pct"):
            if not any(v is not None for v in samples[key]):
                samples[key] = None
        measured = "measure_start" in self.events
        energy_reason = self._reason("energy_mj") or (None if measured else "no measured window")
        util = [v for v in (samples["gpu_util_pct"] or []) if v is not None]
        busy_reason = self._reason("utilization_pct") or (
            None if util else "no utilization sample in the window"
        )
        return Resources(
            period_s=self.period_s,
            nvml_available=gpu,
            nvml_reason=self.nvml_reason,
            events_s=dict(self.events),
            samples=samples,
            snapshots=self.snapshots,
            peak_rss_bytes=_peak(samples["rss_bytes"]),
            peak_gpu_process_bytes=_peak(samples["gpu_process_bytes"] or []) if not process_reason else None,
            peak_gpu_used_bytes=_peak(samples["gpu_used_bytes"] or []),
            gpu_process_reason=process_reason,
            window_s=self.window_s if measured else None,
            energy_j=self.energy_j if measured and not energy_reason else None,
            energy_reason=energy_reason,
            gpu_busy_fraction=sum(util) / len(util) / 100 if util else None,
            gpu_busy_reason=busy_reason if not util else None,
            cpu_s=self.window_cpu_s if measured else None,
            slowdown_reasons=nvml.slowdown_names(self.slowdown_mask),
            slowdown_share={
                name: count / self.window_clock_samples for name, count in self.slowdown_samples.items()
            },
            other_gpu_processes_at_start=self.other_processes,
            nvml_errors=dict(self.errors),
            segments=[dict(segment) for segment in self.segments],
        )


ANSWER = b"llmbench-sampler "  # what starts each answer line of the sampler's process


class SamplerError(RuntimeError):
    """The sampler's process did not answer: it exited, hung, or said why it could not go on."""


class SamplerProcess:
    """A ResourceSampler of this process that runs in a child process (``python -m
    llmbench.measure.sampler PID PERIOD_S``), so that the measured process runs no sampling code and
    no sampler thread (in-process, each NVML call and /proc read took the GIL from the thread running
    the model).

    Same calls as ResourceSampler (start, mark, open, close, follow, stop); each waits for the
    child's answer, so a mark's memory and a window's energy are read before the call returns.
    Times are this process's time.perf_counter() readings (CLOCK_MONOTONIC, the same clock in both
    processes). `gpu` holds nvml.device_facts of the sampled GPU after start(), or None.

    Raises SamplerError, naming the child's PID, when the child has exited, does not answer a call
    within `timeout_s` (it answers in milliseconds) or answers something else; the child is then
    killed and every later call raises the same SamplerError at once (an answer that came late must
    never be read as the next call's). Lines the child prints that are not answers (a library's, a
    sitecustomize's) are copied to this process's stderr. The child exits by itself when its stdin
    closes or this process is gone."""

    def __init__(self, period_s: float = PERIOD_S, timeout_s: float = 20.0):
        self.period_s, self.timeout_s = period_s, timeout_s
        self.gpu: dict | None = None
        self._child: subprocess.Popen | None = None
        self._pending = b""
        self._broken: str | None = None

    def _fail(self, reason: str) -> NoReturn:
        """Kill the child, remember why, raise."""
        self._broken = reason
        child = self._child
        if child is not None and child.poll() is None:
            child.kill()
            child.wait()
        raise SamplerError(reason)

    def _line(self, deadline: float) -> bytes | None:
        """The next line the child wrote (with its newline); b"" at its end; None past `deadline`."""
        fd = self._child.stdout.fileno()
        while b"\n" not in self._pending:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return b""
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        return line + b"\n"

    def _call(self, op: str, *args) -> dict:
        if self._broken:
            raise SamplerError(self._broken)
        child = self._child
        if child is None:
            raise SamplerError("the sampler's process was not started (call start() first)")
        try:
            child.stdin.write(json.dumps([op, *args]).encode() + b"\n")
            child.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            self._fail(self._gone())
        deadline = time.monotonic() + self.timeout_s
        while True:
            line = self._line(deadline)
            if line is None:
                self._fail(
                    f"the sampler's process (PID {child.pid}) did not answer {op} in {self.timeout_s:g} s"
                )
            if not line:
                self._fail(self._gone())
            if line.startswith(ANSWER):
                break
            # Not an answer (a library's print): the job's log keeps it.
            sys.stderr.write(f"[resource sampler] {line.decode(errors='replace')}")
        try:
            answer = json.loads(line[len(ANSWER) :])
        except ValueError:
            self._fail(f"the sampler's process (PID {child.pid}) answered {op} with {line[:200]!r}")
        if "error" in answer:
            self._fail(f"the sampler's process could not {op}: {answer['error']}")
        return answer

    def _gone(self) -> str:
        child = self._child
        try:
            rc = child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            rc = None
        return f"the sampler's process (PID {child.pid}) exited (status {rc}); its error, if any, is in this log above"

    def start(self) -> None:
        """Start the child and wait for its baseline sample (before any library or weight is loaded)."""
        self._child = subprocess.Popen(
            [*module_command(__name__), str(os.getpid()), repr(self.period_s)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=child_env(),
        )
        self.gpu = self._call("start").get("gpu")

    def follow(self, pid: int) -> None:
        """As ResourceSampler.follow."""
        self._call("follow", pid)

    def mark(self, event: str) -> None:
        """As ResourceSampler.mark, at the time of this call."""
        self._call("mark", event, time.perf_counter())

    def open(self) -> None:
        """As ResourceSampler.open, at the time of this call."""
        self._call("open", time.perf_counter())

    def close(self) -> None:
        """As ResourceSampler.close, at the time of this call."""
        self._call("close", time.perf_counter())

    def stop(self) -> Resources:
        """The child's last sample and its Resources; the child exits (is killed if it does not)."""
        try:
            answer = self._call("stop")
            try:
                return Resources(**answer["resources"])
            except (KeyError, TypeError) as error:
                self._fail(f"the sampler's process answered stop without its resources ({error!r})")
        finally:
            child = self._child
            if child is not None and child.poll() is None:
                child.stdin.close()
                try:
                    child.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()


def _exit_with_parent(parent: int) -> None:
    """End this process once its parent is gone (reparented), even while a forked copy of the parent
    still holds the command pipe open."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def serve(pid: int, period_s: float, commands=None, answers=None) -> None:
    """The child's side of SamplerProcess: a ResourceSampler of process `pid`, driven by JSON lines
    ``[op, *args]`` on `commands` (binary; default stdin), each answered by one line ANSWER + JSON on
    `answers` (binary; default the stdout this process started with, while anything else printed on
    file descriptor 1 goes to stderr); returns at "stop" (after answering the Resources) or when
    `commands` ends (the parent is gone)."""
    if answers is None:
        answers = os.fdopen(os.dup(1), "wb")
        os.dup2(2, 1)  # a library's print must not look like an answer
    commands = sys.stdin.buffer if commands is None else commands
    sampler = ResourceSampler(period_s, pid=pid)
    calls = {"follow": sampler.follow, "mark": sampler.mark, "open": sampler.open, "close": sampler.close}
    for line in commands:
        op, *args = json.loads(line)
        try:
            if op == "start":
                sampler.start()
                answer = {"gpu": nvml.device_facts(sampler.device) if sampler.device else None}
            elif op == "stop":
                answer = {"resources": asdict(sampler.stop())}
            else:
                calls[op](*args)
                answer = {}
        except Exception as error:  # answered, not raised: the parent names it in its record
            answer = {"error": f"{type(error).__name__}: {error}"}
        answers.write(ANSWER + json.dumps(answer).encode() + b"\n")
        answers.flush()
        if op == "stop":
            return


if __name__ == "__main__":
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    serve(int(sys.argv[1]), float(sys.argv[2]))
