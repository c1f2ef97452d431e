"""Where a harness pass's time goes beyond the generation: generate vs harness_pass vs the stopping rule's CI.

From the project root: PYTHONPATH=src python docs/results/cpu-overhead/probe-pass-costs.py fastllm|hf|llamacpp
(the tiny model; medians of 15 passes, batch 4 then batch 1; `_finish` was timed the same way, wrapped).
"""

import os
import statistics
import sys
import time

sys.argv = ["harness_overhead.py", "--backend", sys.argv[1], "--input-tokens", "128", "--output-tokens", "64"]
sys.path.insert(0, "benchmarks")
import harness_overhead as h  # noqa: E402  (loads the backend's library before numpy)

from llmbench.measure.passes import run_sequential, run_wave  # noqa: E402
from llmbench.stats import ci_half_width_pct  # noqa: E402


def main() -> None:
    args = h.build_parser().parse_args(sys.argv[1:])
    args.model, args.artifact, args.gguf = h.tiny_model()
    backend, bare, config, _device, _dtype = h.load(args)
    prompts = h.fixed_prompts(4, 128, config["vocab_size"], seed=0)
    median = statistics.median
    for batched in (True, False):
        scenario = h.fixed_scenario(args, batched)
        generate_s, harness_s, ci_s, bare_s = [], [], [], []
        rates = [1.0, 1.01, 0.99, 1.0]
        for _ in range(3):
            (
                run_wave(backend, prompts, scenario, 4)
                if batched
                else run_sequential(backend, prompts, scenario, None)
            )
        for _ in range(15):
            started = time.perf_counter()
            if batched:
                backend.generate_batch(prompts, 64)
            else:
                [backend.generate(p, 64) for p in prompts]
            generate_s.append(time.perf_counter() - started)
            started = time.perf_counter()
            h.harness_pass(backend, prompts, scenario, batched)
            harness_s.append(time.perf_counter() - started)
            started = time.perf_counter()
            ci_half_width_pct(rates)
            ci_s.append(time.perf_counter() - started)
            bare_s.append(h.bare_pass(bare, prompts, 64, batched)[0])
        extra_ms = (median(harness_s) - median(generate_s)) * 1e3
        print(
            f"{args.backend} batched={batched}: bare {median(bare_s) * 1e3:.2f} ms, generate "
            f"{median(generate_s) * 1e3:.2f} ms, harness_pass {median(harness_s) * 1e3:.2f} ms (+{extra_ms:.3f}), "
            f"ci {median(ci_s) * 1e3:.3f} ms",
            flush=True,
        )
    os._exit(0)  # a process that loaded ftllm may not exit by itself


main()
