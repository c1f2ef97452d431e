"""Where does llmbench's transformers path lose time against a bare generate()? (issue #28)

benchmarks/harness_overhead.py gives the whole harness overhead of `hf` (eager generate()); this splits it.
One process, one loaded model, the same prompts; each round runs every variant once, in turn, so drift
falls on all of them alike:
  bare        transformers' generate() as its documentation calls it (benchmarks/bare_paths.py)
  streamer    the backend's own generate() call: the same, plus its token-stamping streamer (_TokenClock)
  sampler     bare, with llmbench's resource sampler running in its own process, its window open (NVML on
              a GPU), as in a benchmark job
  sampler-thread  the same with the sampler as a thread of this process (as jobs ran it before 2026-12-06)
  measured    a pass as a benchmark job measures it: the backend through measure.passes, sampler running
Each variant generates `--output-tokens` tokens for `--requests` prompts of `--input-tokens` ids, one after
another (--batch: all in one generate()). Prints each variant's median ms per pass with its quartiles and
its ratio to bare, and whether all variants chose the same ids.

    python benchmarks/hf_peer_ab.py                                     # the tiny model, CPU
    python benchmarks/hf_peer_ab.py --model resources/models/M/hf --device cuda --dtype float16 \\
        --input-tokens 128 --output-tokens 33 --requests 2 --reps 20
"""

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness_overhead as ho  # noqa: E402

from llmbench.backends.hf import _TokenClock  # noqa: E402
from llmbench.measure.levels import fixed_prompts  # noqa: E402


def with_sampler(run, where: str = "process"):
    """`run` wrapped in a running sampler (harness_overhead.sampling; start and stop untimed, as in a job)."""

    def timed() -> tuple[float, list[list[int]]]:
        with ho.sampling(where):
            return run()

    return timed


def main() -> None:
    parser = ho.build_parser()
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--batch", action="store_true", help="all prompts in one generate()")
    args = parser.parse_args(["--backend", "hf", *sys.argv[1:]])
    if not args.model:
        args.model, args.artifact, args.gguf = ho.tiny_model()
    backend, bare, config, device, dtype = ho.load(args)
    prompts = fixed_prompts(args.requests, args.input_tokens, config["vocab_size"], seed=0)
    n, groups = args.output_tokens, [prompts] if args.batch else [[p] for p in prompts]
    scenario = ho.fixed_scenario(args, args.batch)

    def bare_pass():
        started = time.perf_counter()
        ids = [i for group in groups for i in bare.run(group, n)]
        return time.perf_counter() - started, ids

    def streamer_pass():
        started = time.perf_counter()
        ids = [i for group in groups for i in backend._generate(group, n, _TokenClock())]
        return time.perf_counter() - started, ids

    def measured_pass():
        seconds, result = ho.harness_pass(backend, prompts, scenario, args.batch)
        return seconds, [r.output_ids for r in result.requests]

    variants = {
        "bare": bare_pass,
        "streamer": streamer_pass,
        "sampler": with_sampler(bare_pass),
        "sampler-thread": with_sampler(bare_pass, "thread"),
        "measured": with_sampler(measured_pass),
    }
    ids = {name: run()[1] for name, run in variants.items()}  # also the warm-up
    times = {name: [] for name in variants}
    for _ in range(args.reps):
        for name, run in variants.items():
            times[name].append(run()[0] * 1000)
    base = statistics.median(times["bare"])
    shape = f"batch {args.requests}" if args.batch else f"{args.requests} requests one after another"
    print(
        f"hf {device} {dtype} {shape}, {args.input_tokens}+{n} tokens, {args.reps} rounds; the variants' ids "
        f"the same: {all(v == ids['bare'] for v in ids.values())}"
    )
    for name, values in times.items():
        q = statistics.quantiles(values, n=4, method="inclusive")  # never outside the rounds
        median = statistics.median(values)
        print(
            f"  {name:14s} {median:9.1f} ms (quartiles {q[0]:.1f} … {q[2]:.1f}); {median / base - 1:+7.2%} vs bare"
        )
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
