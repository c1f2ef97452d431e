"""llmbench's llama.cpp decode rate as a benchmark job sees it, against `llama-bench`, alternating (#28).

A benchmark job is one process holding one backend. The processes of harness_overhead.py and
llamacpp_peer_ab.py hold more (the bare path's context, the loops' contexts) and on the H100 ran
~2 % below llama-bench, where a process holding only llmbench's backend ran at 99.3 % of it
(95 % CI 99.1 ... 99.4 %, 26 pairs; docs/results/h100/README.md, morning of 2026-12-07). And llama-bench on a GPU that had been idle ran ~2 %
faster than minutes later. So this alternates processes: llama-bench (`-p 0 -n GEN -d DEPTH`, its tg
at a depth), then a fresh process of this script holding only llmbench's backend (`--job`: a
prompt of DEPTH ids, GEN + 1 tokens, REPS times after three warm-ups; the rate after the second
token, whose steps never follow a prompt, as tg's), then llama-bench again, and so on. Each job's
median rate is divided by the mean of the two llama-bench figures around it; the last line is the
geometric mean of those ratios with its Student-t 95 % CI over the pairs. Both sides get the same flash
attention and KV cache type (--flash-attn, --kv-type: by default on and f16, llama-bench's on a GPU).

    python benchmarks/llamacpp_job_vs_bench.py --llama-bench BUILD/bin/llama-bench \\
        --model M/hf --gguf M/llamacpp-float16.gguf --device cuda --dtype float16 --pairs 8
    python benchmarks/llamacpp_job_vs_bench.py --job --model M/hf --gguf M/llamacpp-float16.gguf
        # one job alone: a JSON line {"rates_tok_s": [...], "median_tok_s": ..., "kv_type": ..., "flash_attn": ...}

M is a model's folder under resources/models/ as the workflow writes it (`make run`'s tiny model:
resources/models/tiny/hf and resources/models/tiny/llamacpp-float32.gguf). BUILD is llama.cpp built from
the same llama-cpp-python sdist (benchmarks/gpu_peers.sh, step 2: `cmake -S <sdist>/vendor/llama.cpp -B BUILD
... && cmake --build BUILD --target llama-bench`). Run it with the project's venv (.venv/bin/python).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import signal
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # child_process

from child_process import install_stop, run_child  # noqa: E402

# Nothing here imports numpy at module level: a --job process loads llama.cpp first (harness_overhead.py says why).


def parse_tg(markdown: str, gen: int, depth: int) -> float:
    """llama-bench's t/s (tok/s) of its `tg{gen} @ d{depth}` row in `-o md` output; raises ValueError
    naming what it looked for when there is no such row, or the row when its rate is not a number."""
    test = f"tg{gen} @ d{depth}" if depth else f"tg{gen}"
    for line in markdown.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[-2] == test:
            number = re.match(r"\d+(\.\d*)?", cells[-1])
            if not number:
                raise ValueError(f"llama-bench's '{test}' row has no rate: {line.strip()}")
            return float(number[0])
    raise ValueError(f"no '{test}' row in llama-bench's output:\n{markdown[-2000:]}")


def pair_ratios(bench_tok_s: list[float], job_tok_s: list[float]) -> list[float]:
    """Each job's rate over the mean of the llama-bench figures before and after it
    (bench_tok_s has one more figure than job_tok_s: bench, job, bench, ..., bench)."""
    if len(bench_tok_s) != len(job_tok_s) + 1:
        raise ValueError(f"{len(job_tok_s)} jobs need {len(job_tok_s) + 1} llama-bench figures around them")
    return [job / ((a + b) / 2) for job, a, b in zip(job_tok_s, bench_tok_s, bench_tok_s[1:], strict=False)]


def geometric_summary(ratios: list[float]) -> tuple[float, float, float]:
    """(geometric mean, low, high): the 95 % Student-t interval of the mean log ratio, back in ratios;
    NaN bounds for fewer than two ratios."""
    from llmbench.stats import t_interval

    logs = [math.log(r) for r in ratios]
    low, high = t_interval(logs)
    return math.exp(statistics.mean(logs)), math.exp(low), math.exp(high)


def job(args) -> None:
    """`--job`: llmbench's llama.cpp backend alone in this process, as a benchmark job loads it."""
    from llmbench.backends import preload

    preload("llamacpp")  # before numpy (see harness_overhead.py)
    from llmbench.backends import get_backend, make_options
    from llmbench.backends.base import LoadSettings
    from llmbench.io import read_json
    from llmbench.measure.device import default_cpu_threads, resolve_device
    from llmbench.measure.levels import fixed_prompts

    config = read_json(Path(args.model) / "config.json")
    dtype = args.dtype or config.get("dtype") or config.get("torch_dtype") or "float32"
    if dtype not in DTYPES:
        sys.exit(f"llamacpp_job_vs_bench: dtype {dtype!r}: one of {', '.join(DTYPES)}")
    settings = LoadSettings(
        args.model,
        args.gguf,
        resolve_device(args.device),
        dtype,
        default_cpu_threads(),
        make_options("llamacpp", {"flash_attn": args.flash_attn, "kv_type": args.kv_type}),
    )
    backend = get_backend("llamacpp")(settings)
    backend.import_libraries()
    backend.load()
    backend.prepare(1, args.depth + args.gen + 1)
    prompt = fixed_prompts(1, args.depth, backend.n_vocab, seed=0)[0]  # the GGUF's vocabulary
    for _ in range(3):
        backend.generate(prompt, args.gen + 1)
    rates = []
    for _ in range(args.reps):
        times = backend.generate(prompt, args.gen + 1).token_times
        rates.append((len(times) - 2) / (times[-1] - times[1]))
    result = {"rates_tok_s": rates, "median_tok_s": statistics.median(rates)}
    result |= {"kv_type": backend.kv_type, "flash_attn": backend.flash_attn}  # as the backend resolved them
    print(json.dumps(result), flush=True)
    os._exit(0)  # the backend's threads need not be joined


def run_job(args) -> float:
    """One `--job` process's median rate after the second token (tok/s)."""
    command = [sys.executable, __file__, "--job", "--model", args.model, "--gguf", args.gguf]
    command += ["--device", args.device, "--depth", str(args.depth), "--gen", str(args.gen)]
    command += ["--reps", str(args.reps), "--flash-attn", args.flash_attn, "--kv-type", args.kv_type]
    command += ["--dtype", args.dtype] if args.dtype else []
    done = run_child(command, capture=True, timeout_s=600)
    if done.returncode != 0:
        raise RuntimeError(f"the job process failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])["median_tok_s"]


def run_llama_bench(args) -> float:
    """One llama-bench process's tg{gen} @ d{depth} (tok/s), all layers on the GPU (where there is one),
    with the jobs' flash attention and KV cache type."""
    command = [args.llama_bench, "-m", args.gguf, "-ngl", "99", "-p", "0", "-n", str(args.gen)]
    command += ["-d", str(args.depth), "-fa", args.flash_attn]
    command += ["-ctk", args.kv_type, "-ctv", args.kv_type, "-r", "10", "-o", "md"]
    done = run_child(command, capture=True, timeout_s=600)
    if done.returncode != 0:
        raise RuntimeError(f"llama-bench failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return parse_tg(done.stdout, args.gen, args.depth)


def at_least(minimum: int):
    """An argparse type: an integer >= minimum."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {value}")
        return value

    return parse


positive_int = at_least(1)
DTYPES = ("float32", "float16", "bfloat16")  # the dtypes llmbench's llama.cpp backend runs


def check_files(parser, args) -> None:
    """Names what is missing before any process starts."""
    if not (Path(args.model) / "config.json").is_file():
        parser.error(f"--model {args.model}: no config.json there (the model's HF folder)")
    if not Path(args.gguf).is_file():
        parser.error(f"--gguf {args.gguf}: no such file")
    if args.job:
        return
    if not args.llama_bench:
        parser.error("--llama-bench is needed (or --job for a job alone)")
    if not (Path(args.llama_bench).is_file() and os.access(args.llama_bench, os.X_OK)):
        parser.error(f"--llama-bench {args.llama_bench}: not an executable file")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--llama-bench", help="llama-bench's path (built from the same sdist as llama-cpp-python)"
    )
    parser.add_argument("--model", required=True, help="the model's HF folder (config.json, EOS ids)")
    parser.add_argument("--gguf", required=True, help="the GGUF both run")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--dtype", choices=DTYPES, default=None, help="default: the folder's config.json")
    parser.add_argument("--depth", type=positive_int, default=128, help="prompt ids before the timed steps")
    parser.add_argument(
        "--gen", type=at_least(2), default=32, help="decode steps (llama-bench's -n; the rate needs two)"
    )
    parser.add_argument("--reps", type=positive_int, default=20, help="generate() calls timed per job")
    parser.add_argument(
        "--pairs", type=positive_int, default=8, help="jobs, each between two llama-bench runs"
    )
    parser.add_argument(
        "--flash-attn", choices=["on", "off"], default="on", help="both sides (llama-bench's -fa)"
    )
    parser.add_argument(
        "--kv-type",
        choices=["f16", "bf16"],
        default="f16",
        help="both sides (-ctk, -ctv; llama-bench has no f32)",
    )
    parser.add_argument("--job", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    check_files(parser, args)
    if args.job:
        return job(args)
    bench, jobs = [run_llama_bench(args)], []
    print(f"llama-bench tg{args.gen} @ d{args.depth}: {bench[0]:.2f} tok/s", flush=True)
    for pair in range(args.pairs):
        jobs.append(run_job(args))
        bench.append(run_llama_bench(args))
        ratio = pair_ratios(bench[-2:], jobs[-1:])[0]
        print(
            f"  job {pair + 1}: {jobs[-1]:.2f} tok/s after its second token ({ratio:.2%} of llama-bench "
            f"around it); llama-bench {bench[-1]:.2f} tok/s",
            flush=True,
        )
    mean, low, high = geometric_summary(pair_ratios(bench, jobs))
    interval = (
        "no CI (one pair)" if math.isnan(low) else f"95 % CI {low:.2%} … {high:.2%} over {len(jobs)} pairs"
    )
    print(f"llamacpp job vs llama-bench: {mean:.2%} ({interval}); goal >= 99 %")


if __name__ == "__main__":
    # SIGTERM, SIGINT, SIGHUP: the child waited for (a job or llama-bench) is killed, even one being started
    install_stop((signal.SIGTERM, signal.SIGINT, signal.SIGHUP))
    try:
        main()
    except (
        RuntimeError,
        ValueError,
        subprocess.TimeoutExpired,
    ) as error:  # a tool that failed: say which, no traceback
        sys.exit(f"llamacpp_job_vs_bench: {error}")
