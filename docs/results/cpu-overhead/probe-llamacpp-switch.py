"""Does a pass run slower right after the other path's pass? llama.cpp on the CPU, bare loop in its own process.

From the project root: PYTHONPATH=src python docs/results/cpu-overhead/probe-llamacpp-switch.py
(the tiny model, 4 prompts of 128 + 64 tokens, one after another: harness_overhead's batch-1 pass). Loads
llama.cpp as harness_overhead.py does (the engine here, the bare loop in a process of its own, as on the
CPU), then prints each pass's tok/s: ten bare passes before any harness pass, ten harness passes, ten bare
right after them, ten bare after a second idle, ten harness right after bare, then bare and harness in
turn. It also gives the CPU (cores) of the idle side while the other ran.
"""

import os
import sys
import time

sys.argv = ["harness_overhead.py", "--backend", "llamacpp", "--input-tokens", "128", "--output-tokens", "64"]
sys.path.insert(0, "benchmarks")
import harness_overhead as h  # noqa: E402  (loads llama.cpp before numpy)


def cpu_s(pid: int) -> float:
    """utime + stime of process `pid` (s), from /proc."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    args = h.build_parser().parse_args()
    args.model, args.artifact, args.gguf = h.tiny_model()
    backend, bare, config, *_ = h.load(args)
    prompts = h.fixed_prompts(4, 128, config["vocab_size"], seed=0)
    scenario = h.fixed_scenario(args, False)
    tokens = len(prompts) * 64

    def bare_rates(k=10):
        return [round(tokens / bare.timed_run(prompts, 64, False)[0]) for _ in range(k)]

    def harness_rates(k=10):
        return [round(tokens / h.harness_pass(backend, prompts, scenario, False)[0]) for _ in range(k)]

    print("bare, before any harness pass:", bare_rates(), flush=True)
    print("harness:", harness_rates(), flush=True)
    before, started = cpu_s(os.getpid()), time.perf_counter()
    print("bare, right after:", bare_rates(), flush=True)
    print(
        f"  this (harness) process's CPU meanwhile: {(cpu_s(os.getpid()) - before) / (time.perf_counter() - started):.2f} cores"
    )
    time.sleep(1)
    print("bare, after a second idle:", bare_rates(), flush=True)
    before, started = cpu_s(bare.child.pid), time.perf_counter()
    print("harness, right after bare:", harness_rates(), flush=True)
    print(
        f"  the bare process's CPU meanwhile: {(cpu_s(bare.child.pid) - before) / (time.perf_counter() - started):.2f} cores"
    )
    for _ in range(5):
        b = tokens / bare.timed_run(prompts, 64, False)[0]
        a = tokens / h.harness_pass(backend, prompts, scenario, False)[0]
        print(f"in turn: bare {b:,.0f}, harness {a:,.0f} tok/s", flush=True)
    bare.close()
    os._exit(0)  # the backend's threads need not be joined


if __name__ == "__main__":
    main()
