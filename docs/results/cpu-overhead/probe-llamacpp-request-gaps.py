"""Where a llama.cpp batch-1 pass's time goes on the CPU, from its request records.

From the project root: PYTHONPATH=src python docs/results/cpu-overhead/probe-llamacpp-request-gaps.py
(the tiny model, 4 prompts of 128 + 64 tokens, one after another: harness_overhead's batch-1 pass, run
alone: 5 warm-up passes, then 30). Prints the median pass time, and per request the median queue time
(submit to admission by the scheduler thread), TTFT, e2e - TTFT, and the pass time not inside any
request's e2e (from one request's last token to the next one's submission: the caller woken, its
records, the next submit), per request.
"""

import os
import statistics
import sys

sys.argv = ["harness_overhead.py", "--backend", "llamacpp", "--input-tokens", "128", "--output-tokens", "64"]
sys.path.insert(0, "benchmarks")
import harness_overhead as h  # noqa: E402  (loads llama.cpp before numpy)


def main() -> None:
    args = h.build_parser().parse_args()
    args.model, args.artifact, args.gguf = h.tiny_model()
    backend, bare, config, *_ = h.load(args)
    bare.close()  # the engine alone
    prompts = h.fixed_prompts(4, 128, config["vocab_size"], seed=0)
    scenario = h.fixed_scenario(args, False)
    for _ in range(5):
        h.harness_pass(backend, prompts, scenario, False)
    passes = [h.harness_pass(backend, prompts, scenario, False) for _ in range(30)]
    requests = [r for _, result in passes for r in result.requests]
    outside = [(s * 1000 - sum(r.e2e_ms for r in result.requests)) / len(prompts) for s, result in passes]
    print(f"pass: median {statistics.median(s for s, _ in passes) * 1000:.2f} ms ({len(passes)} passes)")
    print(
        f"per request (medians, ms): queue {statistics.median(r.queue_ms for r in requests):.3f}, "
        f"TTFT {statistics.median(r.ttft_ms for r in requests):.3f}, "
        f"e2e - TTFT {statistics.median(r.e2e_ms - r.ttft_ms for r in requests):.3f} "
        f"({len(prompts[0])}-token prompt, 64 tokens), outside any e2e {statistics.median(outside):.3f}"
    )
    os._exit(0)  # the backend's threads need not be joined


if __name__ == "__main__":
    main()
