"""Does the ABBA method itself read a cost when both paths are the same? An A/A calibration beside the A/B.

From the project root: PYTHONPATH=src python docs/results/cpu-overhead/probe-aa-calibration.py BACKEND SECONDS
(the tiny model, 4 requests of 128 + 64 tokens, one process; SECONDS a shape, default 120). For each shape
(batch 1, batch 4) it alternates two kinds of block, with one resource sampler's window open throughout (as
harness_overhead.py's measure_shape did until 2026-12-07):
  A/B: bare, harness, harness, bare - harness_overhead's block then (each harness pass timed as there);
  A/A: bare, bare, bare, bare       - the same four slots, the bare path in the harness's two;
and prints each kind's mean log ratio (slots 2-3 against 1 and 4) as % with its t CI over its blocks.
An A/A mean away from 0 is a bias of the slots (order, position), not a cost of the harness.
"""

import math
import os
import statistics
import sys
import time

BACKEND = sys.argv[1] if len(sys.argv) > 1 else "fastllm"
SECONDS = float(sys.argv[2]) if len(sys.argv) > 2 else 120.0
sys.argv = ["harness_overhead.py", "--backend", BACKEND, "--input-tokens", "128", "--output-tokens", "64"]
sys.path.insert(0, "benchmarks")
import harness_overhead as h  # noqa: E402  (loads the backend's library before numpy)

from llmbench.stats import ci_half_width_pct, t_interval  # noqa: E402


def shape_logs(args, backend, bare, prompts, batched: bool) -> dict[str, list[float]]:
    """A/B and A/A blocks in turn for SECONDS, one sampler's window open throughout: each kind's block logs."""
    n = args.output_tokens
    scenario = h.fixed_scenario(args, batched)
    rates: list[float] = []

    def harness_slot():
        started = time.perf_counter()
        seconds, _ = h.harness_pass(backend, prompts, scenario, batched)
        rates.append(len(prompts) * n / seconds)
        ci_half_width_pct(rates[-20:])  # as harness_overhead does after each harness pass
        return time.perf_counter() - started

    def bare_slot():
        return h.bare_pass(bare, prompts, n, batched)[0]

    logs = {"A/B": [], "A/A": []}
    with h.sampling("process"):
        for _ in range(2):
            bare_slot(), harness_slot(), harness_slot()
        started = time.perf_counter()
        while time.perf_counter() - started < SECONDS:
            for kind, middle in (("A/B", harness_slot), ("A/A", bare_slot)):
                a1 = bare_slot()
                b1, b2 = middle(), middle()
                a2 = bare_slot()
                logs[kind].append(0.5 * (math.log(b1 / a1) + math.log(b2 / a2)))
    return logs


def main() -> None:
    args = h.build_parser().parse_args(sys.argv[1:])
    args.model, args.artifact, args.gguf = h.tiny_model()
    backend, bare, config, _device, _dtype = h.load(args)
    prompts = h.fixed_prompts(args.requests, args.input_tokens, config["vocab_size"], seed=0)
    for batched in (False, True):
        shape = f"batch {args.requests}" if batched else "batch 1"
        for kind, values in shape_logs(args, backend, bare, prompts, batched).items():
            low, high = t_interval(values)
            print(
                f"{BACKEND:10s} {shape:8s} {kind}: {h.pct(statistics.mean(values)):+.2f} % "
                f"(95 % CI {h.pct(low):+.2f} … {h.pct(high):+.2f}, {len(values)} blocks)",
                flush=True,
            )
    bare.close()
    os._exit(0)  # a process that loaded ftllm may not exit by itself


main()
