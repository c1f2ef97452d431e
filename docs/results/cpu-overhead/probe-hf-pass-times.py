"""hf's pass times on the CPU, bare and harness in turn (40 pairs, tiny model, 4 x 128 + 64, batch 1): where the
block-to-block noise comes from. THREADS=N sets torch's threads (default: the affinity's cores)."""
import sys, time, statistics, math
sys.argv = [sys.argv[0], "--backend", sys.argv[1], "--input-tokens", "128", "--output-tokens", "64"] + sys.argv[2:]
sys.path.insert(0, "benchmarks")
import harness_overhead as h
args = h.build_parser().parse_args()
args.model, args.artifact, args.gguf = h.tiny_model()
import os
if os.environ.get("THREADS"): h.default_cpu_threads = lambda: int(os.environ["THREADS"])
backend, bare, config, device, dtype = h.load(args)
import torch
print("torch threads", torch.get_num_threads())
prompts = h.fixed_prompts(args.requests, args.input_tokens, config["vocab_size"], seed=0)
sc = h.fixed_scenario(args, False)
for _ in range(3): h.bare_pass(bare, prompts, 64, False); h.harness_pass(backend, prompts, sc, False)
a, b = [], []
t0 = time.perf_counter()
for i in range(40):
    a.append(h.bare_pass(bare, prompts, 64, False)[0])
    b.append(h.harness_pass(backend, prompts, sc, False)[0])
def q(x): 
    x = sorted(x); n = len(x); return f"min {x[0]*1e3:.1f} p25 {x[n//4]*1e3:.1f} med {x[n//2]*1e3:.1f} p75 {x[3*n//4]*1e3:.1f} max {x[-1]*1e3:.1f} ms"
print("bare   ", q(a)); print("harness", q(b))
r = [math.log(y / x) for x, y in zip(a, b)]
print("pair log ratio: mean %+.2f %% sd %.2f %% median %+.2f %%" % (100*statistics.mean(r), 100*statistics.stdev(r), 100*statistics.median(r)))
seq = [v for pair in zip(a, b) for v in pair]
m = statistics.mean(seq); c1 = sum((seq[i]-m)*(seq[i+1]-m) for i in range(len(seq)-1)) / sum((v-m)**2 for v in seq)
print("lag-1 autocorrelation of pass times %.2f" % c1)
print("bare passes:", " ".join(f"{x*1e3:.0f}" for x in a))
print("harness    :", " ".join(f"{x*1e3:.0f}" for x in b))
import os; os._exit(0)
