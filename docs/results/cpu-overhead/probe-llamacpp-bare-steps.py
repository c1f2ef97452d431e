"""What does stepping llama.cpp's decode from Python cost the bare path, against the same steps in C?

From the project root: PYTHONPATH=src python docs/results/cpu-overhead/probe-llamacpp-bare-steps.py [ROUNDS]
(the tiny model, 4 prompts of 128 + 64 tokens; ROUNDS of each kind, default 100). harness_overhead.py's
load() gives the bare path's settings (the engine's EOS mask file, KV type, threads), then a worker
process (one OpenMP team: every call from its main thread) holds two LlamaCppBare contexts over one
GGUF: `steps_in: python` (every decode step from Python, the bare path until 2026-12-08) and the C
loop (bare_paths.STEPS_SOURCE). It times their passes in blocks, ABBA and BAAB in turn, batch 1 (the
prompts one after another) and batch 4, checks both give the same ids, and prints python / C - 1 (%)
with its Student-t 95 % CI over the blocks.
"""

import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "benchmarks"))


def worker(gguf: str, settings: dict, rounds: int) -> None:
    """Two bare contexts in this process, timed in ABBA/BAAB blocks per shape; prints one line per shape."""
    import llama_cpp.llama_cpp  # noqa: F401  (before numpy, as bare_paths' own process)
    from bare_paths import LlamaCppBare

    from llmbench.measure.levels import fixed_prompts
    from llmbench.stats import t_interval

    python = LlamaCppBare.from_file(gguf, {**settings, "steps_in": "python"})
    c_loop = LlamaCppBare(python.model, settings)
    prompts = fixed_prompts(4, 128, python.n_vocab, seed=0)
    for shape, batched in (("batch 1", False), ("batch 4", True)):

        def timed(bare, shape_batched=batched):
            started = time.perf_counter()
            ids = bare.run(prompts, 64) if shape_batched else [bare.run([p], 64)[0] for p in prompts]
            return time.perf_counter() - started, ids

        same = timed(python)[1] == timed(c_loop)[1]
        logs = []
        for block in range(rounds):
            order = (python, c_loop, c_loop, python) if block % 2 == 0 else (c_loop, python, python, c_loop)
            seconds = [timed(bare)[0] for bare in order]
            py = [s for s, b in zip(seconds, order, strict=True) if b is python]
            cc = [s for s, b in zip(seconds, order, strict=True) if b is c_loop]
            logs.append(math.log(sum(py) / sum(cc)))
        low, high = t_interval(logs)
        pct = [100 * (math.exp(x) - 1) for x in (statistics.fmean(logs), low, high)]
        c_rate = len(prompts) * 64 / statistics.median(timed(c_loop)[0] for _ in range(5))
        print(
            f"{shape}: Python steps over C steps {pct[0]:+.2f} % (95 % CI {pct[1]:+.2f} … {pct[2]:+.2f} %, "
            f"{rounds} blocks); C loop {c_rate:,.0f} tok/s; ids {'the same' if same else 'DIFFER'}",
            flush=True,
        )


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    sys.argv = [
        "harness_overhead.py",
        "--backend",
        "llamacpp",
        "--input-tokens",
        "128",
        "--output-tokens",
        "64",
    ]
    import harness_overhead as h

    args = h.build_parser().parse_args()
    args.model, args.artifact, args.gguf = h.tiny_model()
    backend, bare, *_ = h.load(args)
    settings = bare.settings
    bare.close()
    backend.close()
    print(f"settings: {json.dumps(settings)}", flush=True)
    command = [sys.executable, __file__, "--worker", args.gguf, json.dumps(settings), str(rounds)]
    sys.exit(subprocess.run(command, stdin=subprocess.DEVNULL).returncode)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        worker(sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4]))
    else:
        main()
