"""Where llama.cpp's harness overhead goes: alternating passes in one process on the tiny model's GGUF.

Variants, each 4 prompts of 128 tokens x 64 output tokens (batch 1, one after another), `--reps` rounds:
  bare           benchmarks/bare_paths.py's llama.cpp loop (kv_unified false)
  bare-unified   the same loop with kv_unified true (llmbench's engine setting)
  direct         llmbench's Engine.step driven in the calling thread
  direct-thread  the same in a new thread
  threaded       backend.generate: through the scheduler thread, as a benchmark job does
Prints min and median ms per round. Used for docs/results/cpu-overhead/README.md (2026-12-05).

    python benchmarks/llamacpp_ab.py [--reps 30]
"""

import argparse
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness_overhead as ho  # noqa: E402
from bare_paths import LlamaCppBare  # noqa: E402
from llamacpp_kv_ab import alternate, made_with, print_min_median  # noqa: E402

from llmbench.backends._llamacpp_engine import Request  # noqa: E402
from llmbench.measure.levels import fixed_prompts  # noqa: E402


class UnifiedBare(LlamaCppBare):
    """The bare loop with llama.cpp's unified KV cache. (Until 2026-12-05 this class set the flag in
    the default params, which LlamaCppBare then overwrote with false: its "unified" ran a stream
    per sequence, and the CPU overhead README's "unified KV ruled out" was read from that.)"""

    def _context(self, slots, context_tokens):
        made_with(self.lib, True, None, lambda: super(UnifiedBare, self)._context(slots, context_tokens))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reps", type=int, default=30)
    reps = parser.parse_args().reps
    args = ho.build_parser().parse_args(
        ["--backend", "llamacpp", "--input-tokens", "128", "--output-tokens", "64"]
    )
    args.model, args.artifact, args.gguf = ho.tiny_model()
    backend, bare, config, _, _ = ho.load(args)
    prompts = fixed_prompts(4, 128, config["vocab_size"], seed=0)
    unified = UnifiedBare(backend.model, bare.settings)
    backend.generate(prompts[0], 64)
    engine = backend._engine

    def direct(prompt):
        request = Request(list(prompt), 64, time.perf_counter())
        engine.step([request])
        while engine.active:
            engine.step([])

    def in_thread():
        thread = threading.Thread(target=lambda: [direct(p) for p in prompts])
        thread.start()
        thread.join()

    variants = {
        "bare": lambda: [bare.run([p], 64) for p in prompts],
        "bare-unified": lambda: [unified.run([p], 64) for p in prompts],
        "direct": lambda: [direct(p) for p in prompts],
        "direct-thread": in_thread,
        "threaded": lambda: [backend.generate(p, 64) for p in prompts],
    }
    print_min_median(alternate(variants, reps))
    os._exit(0)


if __name__ == "__main__":
    main()
