"""How much does llmbench's measuring cost? Prints the harness overhead with its 95 % CI.

Side by side in one process, on the same loaded backend and the same prompts, in
ABBA order (bare, harness, harness, bare, ...) so that drift cancels:
  bare:    the backend's own generation the way a user calls the library,
           Backend.bare_generate (transformers: generate() without a streamer;
           hf-compile: its loop without CUDA events; FastLLM: its fetch loop
           without stamps), timed once around the pass;
  harness: llmbench's path - a measured pass (submission stamps, per-token
           stamps, request records, the stopping rule's CI) with the resource
           sampler's thread running and its window open, as in a benchmark job
           (starting and stopping the sampler is not timed: a job does it once).
Each ABBA block gives one ratio harness / bare (geometric mean of its two
pairs); blocks repeat until the 95 % CI of the mean log ratio is within
+-0.5 % or --max-seconds pass. Goal: overhead <= 1 %, with the CI to show it.

One backend per process (FastLLM's idle threads spin a core: never time HF beside
a loaded ftllm). `--backend all` runs each in its own process and prints a table.

    python benchmarks/harness_overhead.py                                   # hf, tiny model, CPU
    python benchmarks/harness_overhead.py --backend all --input-tokens 128 --output-tokens 64
    python benchmarks/harness_overhead.py --backend fastllm --model resources/models/M/hf \\
        --artifact resources/models/M/fastllm-float16.flm --dtype float16
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def build_parser() -> argparse.ArgumentParser:
    """The command line (argparse only: it is read before numpy may load)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    from llmbench.backends import available

    parser.add_argument(
        "--backend",
        default="hf",
        choices=[*available(), "all"],
        help="a backend name, or all (each in its own process)",
    )
    parser.add_argument("--model", help="HF model folder (default: build the tiny preset)")
    parser.add_argument("--artifact", help="FastLLM's .flm (default: converted from the tiny preset)")
    parser.add_argument("--gguf", help="llama.cpp's .gguf (default: converted from the tiny preset)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default=None, help="default: the model's config dtype or float32")
    parser.add_argument("--input-tokens", type=int, default=32)
    parser.add_argument("--output-tokens", type=int, default=32)
    parser.add_argument("--requests", type=int, default=4)
    parser.add_argument("--min-blocks", type=int, default=6)
    parser.add_argument("--max-seconds", type=float, default=120)
    return parser


if __name__ == "__main__":
    # Before numpy: llama.cpp's CUDA build crashes when numpy's libraries load first. Parsed as
    # main() parses it (--backend=X, abbreviations, the last --backend wins: `all` hands each
    # child its own after the parent's).
    from llmbench.backends import preload

    preload(build_parser().parse_known_args()[0].backend)

from llmbench.backends import get_backend, make_options  # noqa: E402
from llmbench.backends.base import LoadSettings  # noqa: E402
from llmbench.io import read_json  # noqa: E402
from llmbench.measure.device import default_cpu_threads, resolve_device  # noqa: E402
from llmbench.measure.levels import fixed_prompts  # noqa: E402
from llmbench.measure.passes import run_sequential  # noqa: E402
from llmbench.measure.sampler import ResourceSampler  # noqa: E402
from llmbench.scenario_types import Scenario  # noqa: E402
from llmbench.stats import ci_half_width_pct, t_interval  # noqa: E402

BACKENDS = ["hf", "hf-compile", "fastllm", "llamacpp"]


def tiny_model() -> tuple[str, str, str]:
    """The tiny preset and its FastLLM and GGUF conversions, built in a temporary folder."""
    from llmbench.models.flm_export import convert_to_flm
    from llmbench.models.presets import get_preset
    from llmbench.models.synthetic import build_synthetic_model

    folder = Path(tempfile.mkdtemp()) / "tiny"
    build_synthetic_model(folder, get_preset("tiny"), seed=0, dtype="float32")
    from llmbench.models.gguf_export import export_gguf

    flm, gguf = folder.parent / "tiny.flm", folder.parent / "tiny.gguf"
    convert_to_flm(folder, flm, "float32", 300, folder.parent / "convert.log")
    export_gguf(folder, gguf, "float32")
    return str(folder), str(flm), str(gguf)


def measure_one(args) -> None:
    model_dir = args.model
    config = read_json(Path(model_dir) / "config.json")
    dtype = args.dtype or config.get("dtype") or config.get("torch_dtype") or "float32"
    device = resolve_device(args.device)
    artifact = {"fastllm": args.artifact, "llamacpp": args.gguf}.get(args.backend) or model_dir
    options = make_options(
        args.backend,
        {"max_cache_len": args.input_tokens + args.output_tokens} if args.backend == "hf-compile" else {},
    )
    backend = get_backend(args.backend)(
        LoadSettings(model_dir, artifact, device, dtype, default_cpu_threads(), options)
    )
    backend.import_libraries()
    backend.load()
    prompts = fixed_prompts(args.requests, args.input_tokens, config["vocab_size"], seed=0)
    n = args.output_tokens
    scenario = Scenario(
        type="fixed",
        output_tokens=n,
        warmup_passes=0,
        repetitions=1,
        min_duration_s=0,
        target_ci_pct=None,
        max_duration_s=1,
        replicas=1,
        input_tokens=args.input_tokens,
        requests=args.requests,
        seed=0,
    )

    def bare() -> float:
        started = time.perf_counter()
        for prompt in prompts:
            backend.bare_generate(prompt, n)
        return time.perf_counter() - started

    def harness_pair() -> tuple[float, float]:
        """Two measured passes as a benchmark job runs them: the sampler's thread sampling,
        its window open, the stopping rule's CI after each pass (set-up and tear-down untimed)."""
        sampler = ResourceSampler()
        sampler.start()
        sampler.open()
        rates, times = [], []
        for _ in range(2):
            started = time.perf_counter()
            rates.append(run_sequential(backend, prompts, scenario, None).output_tokens_per_s)
            ci_half_width_pct(rates)
            times.append(time.perf_counter() - started)
        sampler.close()
        sampler.stop()
        return times[0], times[1]

    for _ in range(2):  # warm both paths
        bare(), harness_pair()
    logs, started = [], time.perf_counter()
    while True:
        a1 = bare()
        b1, b2 = harness_pair()
        a2 = bare()  # ABBA
        logs.append(0.5 * (math.log(b1 / a1) + math.log(b2 / a2)))
        low, high = t_interval(logs)
        half = (high - low) / 2 if not math.isnan(low) else math.inf
        elapsed = time.perf_counter() - started
        if (len(logs) >= args.min_blocks and half <= math.log(1.005)) or elapsed > args.max_seconds:
            break
    mean = sum(logs) / len(logs)
    tokens = args.requests * n
    print(
        f"{args.backend:10s} {device} {dtype} {args.requests} x {args.input_tokens}+{n}: "
        f"{tokens / ((a1 + a2) / 2):,.1f} tok/s bare; harness overhead {100 * (math.exp(mean) - 1):+.2f} % "
        f"(95 % CI {100 * (math.exp(low) - 1):+.2f} … {100 * (math.exp(high) - 1):+.2f} %, {len(logs)} ABBA blocks, "
        f"{elapsed:.0f} s); goal <= 1 %",
        flush=True,
    )
    os._exit(0)  # a process that loaded ftllm may not exit by itself


def main() -> None:
    parser = build_parser()
    args = parser.parse_args()
    if args.model is None:
        args.model, args.artifact, args.gguf = tiny_model()
    if args.backend != "all":
        return measure_one(args)
    for backend in BACKENDS:
        argv = [
            *sys.argv[1:],
            "--model",
            args.model,
            "--artifact",
            args.artifact or "",
            "--gguf",
            args.gguf or "",
            "--backend",
            backend,
        ]
        subprocess.run([sys.executable, __file__, *argv], check=False, stdin=subprocess.DEVNULL)


if __name__ == "__main__":
    main()
