"""How much does llmbench's measuring cost? Prints the harness overhead ratio.

Side by side in one process, alternating rounds (ABAB...), on the same loaded
backend and the same fixed-length prompts:
  bare:    the backend's own generate call in a plain loop, timed once around it
           (transformers: model.generate without a streamer; FastLLM: its C API
           fetch loop without timestamps);
  harness: llmbench's path - measure() with per-token timestamps and request
           records, while the resource sampler thread runs as in a benchmark job.
Goal: median overhead <= 1 %.

    python benchmarks/harness_overhead.py                       # tiny model, hf, CPU
    python benchmarks/harness_overhead.py --backend fastllm --model resources/models/tiny/hf \\
        --artifact resources/models/tiny/fastllm-float32.flm
"""

from __future__ import annotations

import argparse
import ctypes
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from llmbench.backends import get_backend  # noqa: E402
from llmbench.backends.base import LoadSettings  # noqa: E402
from llmbench.device import default_cpu_threads, resolve_device  # noqa: E402
from llmbench.io import read_json  # noqa: E402
from llmbench.sampler import ResourceSampler  # noqa: E402
from llmbench.scenarios import fixed_prompts, measure  # noqa: E402


def bare_generate(backend, name: str):
    """The backend's generation without anything llmbench adds."""
    if name == "hf":
        torch = backend._torch

        def run(prompt, n):
            inputs = torch.tensor([prompt], device=backend.settings.device)
            with torch.inference_mode():
                backend.model.generate(inputs, attention_mask=torch.ones_like(inputs), do_sample=False,
                                       max_new_tokens=n, min_new_tokens=n)  # fmt: skip
            if backend.settings.device == "cuda":
                torch.cuda.synchronize()

        return run
    if name == "fastllm":
        lib, model = backend._lib, backend._handle

        def run(prompt, n):
            ids = (ctypes.c_int * len(prompt))(*prompt)
            handle = lib.launch_response_llm_model(
                model, len(prompt), ids, n, n, False, 1.0, 1, 1.0, 1.0, False, 0, None
            )
            while True:
                if not lib.can_fetch_response_llm_model(model, handle):
                    time.sleep(0.0005)
                    continue
                if lib.fetch_response_llm_model(model, handle) < 0:
                    break

        return run
    raise SystemExit(f"no bare path for backend {name!r}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", default="hf")
    parser.add_argument("--model", help="HF model folder (default: build the tiny preset)")
    parser.add_argument("--artifact", help="what the backend loads, if not the model folder (.flm)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default=None, help="default: the model's config dtype or float32")
    parser.add_argument("--input-tokens", type=int, default=32)
    parser.add_argument("--output-tokens", type=int, default=32)
    parser.add_argument("--requests", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    model_dir = args.model
    if model_dir is None:
        from llmbench.models.presets import get_preset
        from llmbench.models.synthetic import build_synthetic_model

        model_dir = str(Path(tempfile.mkdtemp()) / "tiny")
        build_synthetic_model(Path(model_dir), get_preset("tiny"), seed=0, dtype="float32")
    config = read_json(Path(model_dir) / "config.json")
    dtype = args.dtype or config.get("dtype") or config.get("torch_dtype") or "float32"
    device = resolve_device(args.device)
    settings = LoadSettings(model_dir, args.artifact or model_dir, device, dtype, default_cpu_threads())
    backend = get_backend(args.backend)(settings)
    backend.import_libraries()
    backend.load()
    prompts = fixed_prompts(args.requests, args.input_tokens, config["vocab_size"], seed=0)
    n = args.output_tokens
    scenario = {
        "type": "fixed",
        "output_tokens": n,
        "warmup_requests": 0,
        "repetitions": 1,
        "min_duration_s": 0,
    }
    bare = bare_generate(backend, args.backend)
    for prompt in prompts:  # warm both paths
        bare(prompt, n)
        backend.generate(prompt, n)

    bare_s, harness_s = [], []
    for _ in range(args.rounds):
        started = time.perf_counter()
        for prompt in prompts:
            bare(prompt, n)
        bare_s.append(time.perf_counter() - started)

        sampler = ResourceSampler()
        sampler.start()
        started = time.perf_counter()
        measure(backend, prompts, scenario, sampler.window_start, sampler.window_end)
        harness_s.append(time.perf_counter() - started)
        sampler.stop()

    ratios = [h / b for h, b in zip(harness_s, bare_s, strict=True)]
    tokens = args.requests * n
    print(f"backend {args.backend} on {device}, {dtype}, {args.requests} requests x {args.input_tokens}+{n} tokens, "
          f"{args.rounds} rounds")  # fmt: skip
    print(
        f"bare     median {statistics.median(bare_s) * 1000:9.1f} ms  ({tokens / statistics.median(bare_s):,.1f} tok/s)"
    )
    print(
        f"harness  median {statistics.median(harness_s) * 1000:9.1f} ms  ({tokens / statistics.median(harness_s):,.1f} tok/s)"
    )
    print(
        f"harness overhead: {(statistics.median(ratios) - 1) * 100:+.2f} % (median of per-round ratios; "
        f"min {(min(ratios) - 1) * 100:+.2f} %, max {(max(ratios) - 1) * 100:+.2f} %); goal <= 1 %"
    )
    sys.stdout.flush()
    os._exit(0)  # a process that loaded ftllm may not exit by itself


if __name__ == "__main__":
    main()
