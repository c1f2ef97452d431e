"""Where a FastLLM harness pass's time goes beyond the engine's: before the first launch, inside the collect, after.

Run from the project root: PYTHONPATH=src python docs/results/cpu-overhead/probe-fastllm-wave-split.py
(the tiny model, 4 x 128+64; 60 harness passes alternating with 60 bare passes per shape; medians)."""

import statistics
import sys
import time

sys.path.insert(0, "benchmarks")
import harness_overhead as h

args = h.build_parser().parse_args(["--backend", "fastllm", "--input-tokens", "128", "--output-tokens", "64"])
args.model, args.artifact, args.gguf = h.tiny_model()
backend, bare, config, device, dtype = h.load(args)
prompts = h.fixed_prompts(args.requests, args.input_tokens, config["vocab_size"], seed=0)
marks = {}
inner = backend.generate_batch


def wrapped(p, n):
    marks["in"] = time.perf_counter()
    out = inner(p, n)
    marks["out"] = time.perf_counter()
    return out


backend.generate_batch = wrapped
for shape, batched in (("batch 1", False), ("batch 4", True)):
    scenario = h.fixed_scenario(args, batched)
    if not batched:
        inner1 = backend.generate

        def g(p, n, inner1=inner1):
            marks.setdefault("gin", time.perf_counter())
            out = inner1(p, n)
            marks["gout"] = time.perf_counter()
            return out

        backend.generate = g
    pre, post, total, bare_s = [], [], [], []
    for _ in range(60):
        marks.clear()
        started = time.perf_counter()
        s, _ = h.harness_pass(backend, prompts, scenario, batched)
        end = started + s
        a, b = (marks["in"], marks["out"]) if batched else (marks["gin"], marks["gout"])
        pre.append((a - started) * 1e3)
        post.append((end - b) * 1e3)
        total.append(s * 1e3)
        bs, _ = h.bare_pass(bare, prompts, args.output_tokens, batched)
        bare_s.append(bs * 1e3)
    med = statistics.median
    print(
        f"fastllm {shape}: harness pass {med(total):.2f} ms, bare {med(bare_s):.2f} ms (medians of 60, alternating); "
        f"before the first launch {med(pre):.3f} ms, after the last token's collect {med(post):.3f} ms "
        f"(= {100 * (med(pre) + med(post)) / med(total):.2f} % of the pass)"
    )
