"""Two OpenMP teams in one process: what a second llama.cpp caller thread does to the engine on the CPU.

llama.cpp's CPU threads are an OpenMP team per calling thread. llmbench's engine calls
llama_decode from its scheduler thread; a bare loop called from the main thread makes a
second team. This times the engine's measured pass (4 requests one after another) before
any bare pass ran, the first bare pass, the engine's pass after it, and the bare loop's
again, and lists which threads used the CPU meanwhile. On the 2-core CI machine
(2026-12-07, docs/results/cpu-overhead) both ran ~10x slower once both teams existed;
OMP_WAIT_POLICY=active undid it, GOMP_SPINCOUNT did not. harness_overhead.py therefore
runs the bare loop in a process of its own on the CPU (bare_paths.OwnProcess).

    python benchmarks/llamacpp_cpu_teams.py                             # tiny preset, CPU
    OMP_WAIT_POLICY=active python benchmarks/llamacpp_cpu_teams.py
"""

from __future__ import annotations

import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from llmbench.backends import preload  # noqa: E402

preload("llamacpp")  # its native library before numpy

import harness_overhead  # noqa: E402
from bare_paths import LlamaCppBare  # noqa: E402

from llmbench.measure.levels import fixed_prompts  # noqa: E402


def thread_ticks() -> dict[str, int]:
    """CPU clock ticks (user + system) of each thread of this process, by thread id."""
    ticks = {}
    for tid in os.listdir("/proc/self/task"):
        fields = Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks[tid] = int(fields[11]) + int(fields[12])
    return ticks


def main() -> None:
    args = harness_overhead.build_parser().parse_args(
        ["--backend", "llamacpp", "--device", "cpu", "--input-tokens", "128", "--output-tokens", "64"]
    )
    args.model, args.artifact, args.gguf = harness_overhead.tiny_model()
    engine, own_process, *_ = harness_overhead.load(args)
    own_process.close()  # harness_overhead's bare loop in its own process: here the loop runs in this one
    bare = LlamaCppBare(
        engine.model,
        {
            "cpu_threads": engine.settings.cpu_threads,
            "eos_ids": engine.masked,
            "kv_type": engine.kv_type,
            "flash_attn": engine.flash_attn,
        },
    )
    prompts = fixed_prompts(4, 128, engine.n_vocab, seed=0)
    scenario = harness_overhead.fixed_scenario(args, False)

    def harness() -> float:
        return harness_overhead.harness_pass(engine, prompts, scenario, False)[0]

    def bare_loop() -> float:
        return harness_overhead.bare_pass(bare, prompts, 64, False)[0]

    def show(name: str, seconds: list[float]) -> None:
        print(
            f"{name:34s} median {statistics.median(seconds) * 1000:8.1f} ms ({len(seconds)} passes)",
            flush=True,
        )

    print(
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')} GOMP_SPINCOUNT={os.environ.get('GOMP_SPINCOUNT')}, "
        f"{os.cpu_count()} cores, {engine.settings.cpu_threads} llama.cpp threads"
    )
    for _ in range(3):
        harness()
    show("engine, before any bare pass", [harness() for _ in range(8)])
    show("bare loop, its first pass", [bare_loop()])
    before = thread_ticks()
    show("engine, after one bare pass", [harness() for _ in range(8)])
    after = thread_ticks()
    busy = sorted((after[t] - before.get(t, 0) for t in after), reverse=True)
    print(f"  threads' CPU ticks meanwhile (busiest first): {busy[:6]}")
    show("bare loop, again", [bare_loop() for _ in range(5)])
    os._exit(0)  # llama.cpp's threads may hold the exit


if __name__ == "__main__":
    main()
