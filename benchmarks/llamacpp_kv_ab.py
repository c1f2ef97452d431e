"""What llama.cpp's KV layout costs a batch: a stream per sequence against one unified stream.

In one process on the tiny model's GGUF, alternating rounds of one batch of `--batch` prompts of
128 tokens x 64 output tokens, each variant with its own context of the same size:
  bare             benchmarks/bare_paths.py's llama.cpp loop, a KV stream per sequence (kv_unified false)
  bare-unified     the same loop on one unified KV stream
  engine           llmbench's Engine (a stream per sequence, running sequences kept in slots 0..k-1)
  engine-unified   the same Engine on one unified stream (what it used before 2026-12-05)
With a unified stream every sequence's attention spans all sequences' cells, masked; flash
attention skips the masked ones, the plain path computes them. Prints min and median ms per
round and whether every variant produced the same ids.

    python benchmarks/llamacpp_kv_ab.py [--batch 4] [--flash-attn off|on] [--reps 20]
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from llmbench.backends import preload  # noqa: E402

preload("llamacpp")  # before numpy (see harness_overhead.py)

import harness_overhead as ho  # noqa: E402
from bare_paths import LlamaCppBare  # noqa: E402

from llmbench.backends._llamacpp_engine import Engine, Request  # noqa: E402
from llmbench.measure.levels import fixed_prompts  # noqa: E402

FLASH = {"off": 0, "on": 1}


def made_with(lib, unified: bool, flash: str | None, make):
    """`make()`, with every context it creates given this KV layout and flash attention setting
    (None: as the caller set it); both are fields of the llama_context_params that
    llama_init_from_model receives, so the callers' own code stays as it is."""
    real = lib.llama_init_from_model

    def init(model, params):
        params.kv_unified = unified
        if flash is not None:
            params.flash_attn_type = FLASH[flash]
        return real(model, params)

    lib.llama_init_from_model = init
    try:
        return make()
    finally:
        lib.llama_init_from_model = real


def engine_round(engine, prompts, n: int):
    """One batch through the Engine, stepped in this thread; returns the ids."""
    requests = [Request(list(p), n, time.perf_counter()) for p in prompts]
    engine.step(requests)
    while engine.active:
        engine.step([])
    return [r.output for r in requests]


def alternate(variants: dict, reps: int) -> dict[str, list[float]]:
    """`reps` rounds, each calling every variant once in order; seconds per call, by variant."""
    times = {name: [] for name in variants}
    for _ in range(reps):
        for name, run in variants.items():
            started = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - started)
    return times


def print_min_median(times: dict[str, list[float]]) -> None:
    """One line per variant: min and median ms."""
    width = max(map(len, times)) + 1
    for name, values in times.items():
        print(
            f"{name:{width}s} min {min(values) * 1000:7.1f} ms  median {statistics.median(values) * 1000:7.1f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--flash-attn", choices=sorted(FLASH), default="off")
    parser.add_argument("--reps", type=int, default=20)
    cli = parser.parse_args()
    args = ho.build_parser().parse_args(["--backend", "llamacpp"])
    args.model, args.artifact, args.gguf = ho.tiny_model()
    backend, bare, config, _, _ = ho.load(args)
    lib, n, b = backend._setup.lib, 64, cli.batch
    prompts = fixed_prompts(b, 128, config["vocab_size"], seed=0)
    contexts = {
        name: made_with(lib, unified, cli.flash_attn, make)
        for name, unified, make in [
            ("bare", False, lambda: LlamaCppBare(backend.model, bare.settings, slots=b)),
            ("bare-unified", True, lambda: LlamaCppBare(backend.model, bare.settings, slots=b)),
            ("engine", False, lambda: Engine(backend._setup, b, 512)),
            ("engine-unified", True, lambda: Engine(backend._setup, b, 512)),
        ]
    }

    def run(name):
        context = contexts[name]
        return context.run(prompts, n) if name.startswith("bare") else engine_round(context, prompts, n)

    same = len({str(run(name)) for name in contexts}) == 1
    times = alternate({name: (lambda name=name: run(name)) for name in contexts}, cli.reps)
    print(f"batch {b}, flash attention {cli.flash_attn}, {cli.reps} rounds; ids the same: {same}")
    print_min_median(times)
    os._exit(0)


if __name__ == "__main__":
    main()
