# one llmbench llama.cpp backend alone in a process (as a benchmark job): 20 generate() of 128 + 33, rate after the 2nd token
import statistics, sys
from llmbench.backends import preload
preload("llamacpp")
from llmbench.backends import get_backend, make_options
from llmbench.backends.base import LoadSettings
from llmbench.measure.device import default_cpu_threads
from llmbench.measure.levels import fixed_prompts
model, gguf = sys.argv[1], sys.argv[2]
b = get_backend("llamacpp")(LoadSettings(model, gguf, "cuda", "float16", default_cpu_threads(), make_options("llamacpp", {})))
b.import_libraries(); b.load()
p = fixed_prompts(1, 128, 65024, seed=0)[0]
for _ in range(3): b.generate(p, 33)
r = []
for _ in range(20):
    t = b.generate(p, 33).token_times
    r.append((len(t) - 2) / (t[-1] - t[1]))
print(f"  solo job: after its 2nd token median {statistics.median(r):.1f} tok/s, mean {statistics.mean(r):.1f}", flush=True)
import os; os._exit(0)
