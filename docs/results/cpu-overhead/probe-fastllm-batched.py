"""Where FastLLM's batched harness overhead on the CPU is not: the poller's CPU, GC, the sampler, the records.

From the project root: PYTHONPATH=src python docs/results/cpu-overhead/probe-fastllm-batched.py [ROUNDS]
(the tiny model, 4 requests of 128 + 64 tokens, one process; ROUNDS default 60). Prints:
  1. each path's poller-thread CPU (time.thread_time) and wall time per pass, medians: the bare loop, the
     backend's _collect without stamps, generate_batch (with stamps), harness_pass (+ the records);
  2. Python's garbage collections during bare and harness passes (gc.callbacks: count and time);
  3. the resource sampler's process: its CPU (/proc/PID/task/*/schedstat, ns) when started, at open()
     and in the first 150 ms of the window, then per second of window;
  4. ABBA blocks (bare, harness, harness, bare) with one sampler started before them and its window open
     through both paths: the overhead timed around harness_pass and as the pass reports it (total_ms).
"""

import gc
import math
import os
import statistics
import sys
import time

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 60
sys.argv = ["harness_overhead.py", "--backend", "fastllm", "--input-tokens", "128", "--output-tokens", "64"]
sys.path.insert(0, "benchmarks")
import harness_overhead as h  # noqa: E402  (loads the backend's library before numpy)

from llmbench.measure.sampler import PERIOD_S, SamplerProcess  # noqa: E402
from llmbench.stats import t_interval  # noqa: E402

N = 64


def run_ms(pid: int) -> float:
    """CPU time (ms) of every thread of process `pid`, from schedstat (ns), not clock ticks."""
    return (
        sum(
            int(open(f"/proc/{pid}/task/{tid}/schedstat").read().split()[0])
            for tid in os.listdir(f"/proc/{pid}/task")
        )
        / 1e6
    )


def poller_cpu(paths: dict) -> None:
    cpu = {k: [] for k in paths}
    wall = {k: [] for k in paths}
    for _ in range(ROUNDS):
        for name, path in paths.items():
            c, w = time.thread_time(), time.perf_counter()
            path()
            cpu[name].append(time.thread_time() - c)
            wall[name].append(time.perf_counter() - w)
    for name in paths:
        print(
            f"1. {name:14s} poller thread CPU {statistics.median(cpu[name]) * 1e3:.3f} ms a pass, "
            f"wall {statistics.median(wall[name]) * 1e3:.2f} ms (medians of {ROUNDS})",
            flush=True,
        )


def collections(bare_path, harness_path) -> None:
    where, started, seen = ["bare"], [0.0], {}

    def callback(phase, info):
        if phase == "start":
            started[0] = time.perf_counter()
            return
        count, seconds = seen.get((where[0], info["generation"]), (0, 0.0))
        seen[(where[0], info["generation"])] = (count + 1, seconds + time.perf_counter() - started[0])

    gc.callbacks.append(callback)
    kept = []  # as harness_overhead keeps the timed passes' records
    for _ in range(ROUNDS):
        where[0] = "bare"
        bare_path()
        where[0] = "harness"
        kept.append(harness_path())
    gc.callbacks.remove(callback)
    found = ", ".join(
        f"{path} generation {g}: {c} ({s * 1e3:.2f} ms)" for (path, g), (c, s) in sorted(seen.items())
    )
    print(f"2. collections in {ROUNDS} passes of each path: {found or 'none'}", flush=True)


def sampler_cpu() -> None:
    for _ in range(3):
        sampler = SamplerProcess(PERIOD_S)
        sampler.start()
        pid = sampler._child.pid
        at_start = run_ms(pid)
        sampler.open()
        at_open = run_ms(pid)
        time.sleep(0.15)
        first = run_ms(pid)
        time.sleep(3.0)
        later = run_ms(pid)
        sampler.close()
        sampler.stop()
        print(
            f"3. sampler process CPU: {at_start:.1f} ms when started; open() {at_open - at_start:.2f} ms; "
            f"first 150 ms of the window {first - at_start:.2f} ms in all; then {(later - first) / 3:.2f} ms a second",
            flush=True,
        )


def abba(bare_path, scenario, backend, prompts) -> None:
    wall, reported = [], []

    def harness():
        started = time.perf_counter()
        result = h.harness_pass(backend, prompts, scenario, True)[1]
        return time.perf_counter() - started, result.total_ms / 1000

    def timed_bare():
        started = time.perf_counter()
        bare_path()
        return time.perf_counter() - started

    with h.sampling("process"):
        for _ in range(ROUNDS):
            a1 = timed_bare()
            (w1, r1), (w2, r2) = harness(), harness()
            a2 = timed_bare()
            wall.append(0.5 * (math.log(w1 / a1) + math.log(w2 / a2)))
            reported.append(0.5 * (math.log(r1 / a1) + math.log(r2 / a2)))
    for name, logs in (("timed around harness_pass", wall), ("as the pass reports it", reported)):
        low, high = t_interval(logs)
        print(
            f"4. ABBA, one sampler, window open throughout, {ROUNDS} blocks: overhead {name} "
            f"{h.pct(statistics.mean(logs)):+.2f} % (95 % CI {h.pct(low):+.2f} … {h.pct(high):+.2f})",
            flush=True,
        )


def main() -> None:
    args = h.build_parser().parse_args(sys.argv[1:])
    args.model, args.artifact, args.gguf = h.tiny_model()
    backend, bare, config, _device, _dtype = h.load(args)
    prompts = h.fixed_prompts(4, 128, config["vocab_size"], seed=0)
    scenario = h.fixed_scenario(args, True)
    paths = {
        "bare": lambda: bare.run(prompts, N),
        "collect": lambda: backend._collect([backend._launch(p, N) for p in prompts], stamp=False),
        "generate_batch": lambda: backend.generate_batch(prompts, N),
        "harness_pass": lambda: h.harness_pass(backend, prompts, scenario, True)[1],
    }
    for path in paths.values():  # warm every path
        for _ in range(3):
            path()
    poller_cpu(paths)
    collections(paths["bare"], paths["harness_pass"])
    sampler_cpu()
    abba(paths["bare"], scenario, backend, prompts)
    os._exit(0)  # a process that loaded ftllm may not exit by itself


main()
