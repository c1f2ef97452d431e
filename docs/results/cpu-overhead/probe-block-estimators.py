"""hf's ABBA block log ratios on this VM: the mean with its t CI beside Hodges-Lehmann with its Wilcoxon CI."""
import sys, time, statistics, math, os, json
backend_name, seconds, batched = sys.argv[1], float(sys.argv[2]), sys.argv[3] == "batched"
sys.argv = [sys.argv[0], "--backend", backend_name, "--input-tokens", "128", "--output-tokens", "64"]
sys.path.insert(0, "benchmarks")
import harness_overhead as h
args = h.build_parser().parse_args()
args.model, args.artifact, args.gguf = h.tiny_model()
backend, bare, config, device, dtype = h.load(args)
prompts = h.fixed_prompts(args.requests, args.input_tokens, config["vocab_size"], seed=0)
sc = h.fixed_scenario(args, batched)
for _ in range(2): h.bare_pass(bare, prompts, 64, batched); h.harness_pass(backend, prompts, sc, batched)
logs = []; t0 = time.perf_counter()
with h.sampling("process") as s:
    while time.perf_counter() - t0 < seconds:
        a1 = h.bare_pass(bare, prompts, 64, batched)[0]; b1 = h.harness_pass(backend, prompts, sc, batched)[0]
        b2 = h.harness_pass(backend, prompts, sc, batched)[0]; a2 = h.bare_pass(bare, prompts, 64, batched)[0]
        logs.append(0.5 * (math.log(b1 / a1) + math.log(b2 / a2)))
json.dump(logs, open(f"/tmp/probe/logs-{backend_name}-{'b' if batched else '1'}.json", "w"))
print(backend_name, "batched" if batched else "batch 1", len(logs), "blocks")
os._exit(0)
