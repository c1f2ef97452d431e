"""How much does llmbench's measuring cost? Prints the harness overhead with its 95 % CI.

Side by side in one process, on the same loaded model and the same prompts, in blocks of
four passes, ABBA (bare, harness, harness, bare) and BAAB (harness, bare, bare, harness) in turn:
linear drift cancels within a block, and each path takes the outer and the inner slots equally
often, so what a slot does to any pass cancels too (until 2026-12-07 ABBA alone: an A/A run, the
bare path in both, read FastLLM batched +0.21 % (95 % CI -0.00 ... +0.43) and batch 1 -0.22 %,
not clearly a slot's effect, which BAAB cancels if there is one: docs/results/cpu-overhead/README.md,
"2026-12-07, late night"). A timed pass follows a pass of its own path, as a job's passes do: after a
pass of the other path one untimed pass comes first (since 2026-12-08: the first pass after a switch
ran 20-50 % slower than the next for llama.cpp on the CPU, whose bare loop runs in another process):
  bare:    the backend's library driven by its own minimal loop (benchmarks/bare_paths.py:
           no llmbench code; transformers generate(), a static-cache loop, FastLLM's own
           benchmark loop over its C API, llama.cpp's decode loop with its sampler chain),
           timed once around the pass (llama.cpp's on the CPU in a process of its own, which times
           it: bare_paths' docstring says why);
  harness: llmbench's path - a measured pass (submission stamps, per-token
           stamps, request records, the stopping rule's CI).
The resource sampler runs in its own process with its window open, as in a benchmark job:
one sampler per shape, started before the warm-up and open through both paths' passes (a job
starts one and opens its window once per level; until 2026-12-07 this started one per ABBA
block, ~80 ms of a fresh interpreter's CPU each, 0.2-0.45 of this 2-core machine beside the
timed passes: docs/results/cpu-overhead/README.md). So both paths pass under its steady
sampling and the line gives its CPU, in cores, beside the overhead: what it can take from the
backend. --sampler thread runs it as a thread of this process instead (as jobs did before
2026-12-06); --sampler none leaves it out.
Two shapes, each measured on its own: `batch 1` (the requests one after another: the
`loop` scenario's pass) and `batched` (all requests as one batch: a `sweep-batch` level).
Before timing, both paths must produce the same ids (else the line says they differ).
Each block gives one ratio harness / bare (geometric mean of its two adjacent
pairs); blocks repeat two at a time (an ABBA and a BAAB: an odd --min-blocks is one more, and
--max-seconds may be passed by up to 8 passes) until the 95 % CI of the mean log ratio
is within +-0.5 % (after --min-blocks and --min-seconds) or --max-seconds pass. Goal: overhead <= 1 %, with the CI to show it.

One backend per process (FastLLM's idle threads spin a core: never time HF beside
a loaded ftllm). `--backend all` runs each in its own process and prints a table.
A CI from one process does not hold the next one's (on 2 cores processes disagreed by up to
5 points): `--processes N` runs every backend in N fresh processes, round by round, and ends
with a pooled line per backend and shape whose CI is over the N processes' means.
Each line also gives llmbench's decode rate three ways, to set beside a backend's own tool:
per request after the first token (1000 / TPOT), after the second token (llama-bench's tg,
which never decodes right after a prompt), and (prompt + decoded tokens) / e2e (llama-bench's pg).
The first line says how busy the machine was (load average, other processes' CPU
during the run, from /proc).

    python benchmarks/harness_overhead.py                                   # hf, tiny model, CPU
    python benchmarks/harness_overhead.py --backend all --input-tokens 128 --output-tokens 64
    python benchmarks/harness_overhead.py --backend all --input-tokens 128 --output-tokens 64 --processes 5
    python benchmarks/harness_overhead.py --backend fastllm --model resources/models/M/hf \\
        --artifact resources/models/M/fastllm-float16.flm --dtype float16
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bare_paths


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not >= 1")
    return value


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
    parser.add_argument(
        "--min-seconds",
        type=float,
        default=20,
        help="blocks run at least this long (6 blocks of a fast backend took 2 s: a CI from one "
        "quiet moment)",
    )
    parser.add_argument("--max-seconds", type=float, default=120)
    parser.add_argument(
        "--sample-period-s",
        type=float,
        default=None,
        help="the resource sampler's period (default: a job's, 0.05 s; once a second inside the window "
        "where only host memory is sampled)",
    )
    parser.add_argument(
        "--processes",
        type=positive_int,
        default=1,
        help="fresh processes per backend (>1: each line once per process, then a pooled line whose CI is "
        "over the processes' means: the spread between processes, which one process's CI cannot see)",
    )
    parser.add_argument("--results", help=argparse.SUPPRESS)  # a child appends its lines' figures here (JSON)
    parser.add_argument(
        "--sampler",
        choices=["process", "thread", "none"],
        default="process",
        help="where the resource sampler runs, through both paths' passes: its own process (as in a job), "
        "a thread of this one, or none",
    )
    return parser


if __name__ == "__main__":
    # Before numpy: llama.cpp's CUDA build crashes when numpy's libraries load first. Parsed as
    # main() parses it (--backend=X, abbreviations, the last --backend wins: `all` hands each
    # child its own after the parent's).
    from llmbench.backends import preload

    preload(build_parser().parse_known_args()[0].backend)

from child_process import install_stop, run_child  # noqa: E402

from llmbench.backends import get_backend, make_options  # noqa: E402
from llmbench.backends.base import LoadSettings  # noqa: E402
from llmbench.io import read_json  # noqa: E402
from llmbench.measure.device import default_cpu_threads, resolve_device  # noqa: E402
from llmbench.measure.levels import fixed_prompts  # noqa: E402
from llmbench.measure.passes import run_sequential, run_wave  # noqa: E402
from llmbench.measure.sampler import PERIOD_S, ResourceSampler, SamplerProcess, pid_cpu_seconds  # noqa: E402
from llmbench.scenario_types import Scenario  # noqa: E402
from llmbench.stats import ci_half_width_pct, t_interval  # noqa: E402

BACKENDS = ["hf", "hf-compile", "fastllm", "llamacpp"]


class NoSampler:
    """No resource sampling at all: what llmbench's measured pass costs by itself."""

    def __init__(self, period_s: float):
        self.period_s = period_s

    def start(self) -> None:
        """Nothing to start (as open, close and stop)."""

    open = close = stop = start


SAMPLERS = {"process": SamplerProcess, "thread": ResourceSampler, "none": NoSampler}


@contextmanager
def sampling(where: str = "process", period_s: float | None = None):
    """A resource sampler of this process running, its window open, as around a job's measured passes;
    `where`: a key of SAMPLERS; `period_s`: default a job's. Yields the sampler; starting and stopping
    are outside the block."""
    sampler = SAMPLERS[where](period_s or PERIOD_S)
    sampler.start()
    sampler.open()
    try:
        yield sampler
    finally:
        sampler.close()
        sampler.stop()


def sampler_process_cpu_s(sampler) -> float | None:
    """CPU seconds the sampler's own process has used (clock ticks: 10 ms), or None when it has none
    (a thread of this process, or no sampler)."""
    child = getattr(sampler, "_child", None)  # SamplerProcess's child; read here, not added to measure/
    return None if child is None else pid_cpu_seconds(child.pid)


class MachineLoad:
    """How busy the machine was from construction to describe(): the other processes' CPU (all CPU
    time /proc/stat counts as busy, less this process's and that of `own` - PIDs doing this
    measurement's work, e.g. a bare path's process), in cores, and the load average."""

    def __init__(self, own: tuple[int, ...] = ()):
        self.pids = own
        self.started, self.busy_s, self.own_s = time.perf_counter(), self._busy_s(), self._own_s()

    @staticmethod
    def _busy_s() -> float:
        with open("/proc/stat") as stat:
            user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, stat.readline().split()[1:9])
        return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")

    def _own_s(self) -> float:
        times = os.times()
        return times.user + times.system + sum(pid_cpu_seconds(pid) for pid in self.pids)

    def describe(self) -> str:
        """'others used X of N cores (load average L)'."""
        elapsed = time.perf_counter() - self.started
        others = (self._busy_s() - self.busy_s) - (self._own_s() - self.own_s)
        return (
            f"other processes used {max(0.0, others) / elapsed:.2f} of {os.cpu_count()} cores, "
            f"load average {os.getloadavg()[0]:.2f}"
        )


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


def eos_mask_library(backend) -> str | None:
    """The compiled file of the llama.cpp engine's EOS mask sampler where its chains use it (GreedySamplers:
    EosMask.fits its masked ids), else None (llama.cpp's logit bias, or not llama.cpp)."""
    mask = getattr(backend, "eos_mask", None)
    return str(mask.library) if mask is not None and mask.fits(backend.masked) else None


def load(args):
    """The backend as llmbench loads it, and its bare path over the same library model object."""
    from bare_paths import BARE, OwnProcess, eos_ids

    config = read_json(Path(args.model) / "config.json")
    dtype = args.dtype or config.get("dtype") or config.get("torch_dtype") or "float32"
    device = resolve_device(args.device)
    artifact = {"fastllm": args.artifact, "llamacpp": args.gguf}.get(args.backend) or args.model
    options = make_options(
        args.backend,
        {"max_cache_len": args.input_tokens + args.output_tokens} if args.backend == "hf-compile" else {},
    )
    backend = get_backend(args.backend)(
        LoadSettings(args.model, artifact, device, dtype, default_cpu_threads(), options)
    )
    backend.import_libraries()
    backend.load()
    settings = {
        "device": device,
        "cpu_threads": default_cpu_threads(),
        "eos_ids": eos_ids(args.model),
        "kv_type": getattr(backend, "kv_type", None),
        "flash_attn": getattr(backend, "flash_attn", None),
        "compiled": getattr(backend, "compiled", False),
        # llama.cpp: the engine's EOS mask, as a file (bare_paths imports nothing from llmbench)
        "eos_mask_library": eos_mask_library(backend),
        # ... and, where it has one, the sampler that ends its chains in the graph (EosMask.ids_only)
        "ids_only_library": str(backend.eos_mask.library) if getattr(backend, "eos_mask", None) else None,
        "sampler_in_graph": getattr(backend, "sample_in_graph", True),
    }
    path = BARE[args.backend]
    if getattr(path, "own_process_on", None) == device:  # see bare_paths' docstring
        return backend, OwnProcess(args.backend, artifact, settings), config, device, dtype
    return backend, path(backend.model, settings), config, device, dtype


def harness_pass(backend, prompts, scenario, batched: bool):
    """One pass as a benchmark job measures it: its time (s) and its record (record.Pass)."""
    started = time.perf_counter()
    if batched:
        result = run_wave(backend, prompts, scenario, len(prompts))
    else:
        result = run_sequential(backend, prompts, scenario, None)
    return time.perf_counter() - started, result


def decode_tok_s(result) -> list[float]:
    """Each request's decode rate, tokens after the first / (e2e - TTFT), from a pass's record (what
    the workflow reports as decode tok/s = 1000 / TPOT, and what llama-bench's tg figure measures)."""
    return [
        (len(r.output_ids) - 1) / ((r.e2e_ms - r.ttft_ms) / 1000)
        for r in result.requests
        if r.ttft_ms is not None and r.e2e_ms > r.ttft_ms
    ]


def steady_tok_s(result) -> list[float]:
    """Each request's decode rate after its second token: tokens 3..n / the time from token 2 to the last
    (llama-bench's tg restores its depth and never decodes right after a prompt; the first decode step
    after one costs llama.cpp ~2 ms on the H200, docs/results/h200/README.md)."""
    return [
        (len(r.itl_ms) - 1) / (sum(r.itl_ms[1:]) / 1000)
        for r in result.requests
        if len(r.itl_ms) > 1 and sum(r.itl_ms[1:]) > 0  # FastLLM stamps a poll's tokens alike: gaps of 0
    ]


def median_itl_tok_s(result) -> list[float]:
    """Each request's 1000 / median ITL (ms): its decode rate with no step that was slow once (the first
    after the prompt, a graph captured) weighing in. Requests whose median gap is 0 are left out (FastLLM
    stamps every token one poll finds with one moment)."""
    medians = [statistics.median(r.itl_ms) for r in result.requests if r.itl_ms]
    return [1000 / median for median in medians if median > 0]


def prompt_gen_tok_s(result, input_tokens: int) -> list[float]:
    """Each request's (prompt + decoded tokens) / e2e: llama-bench's pg figure (-pg P,N: a P-token prompt,
    then N decode steps, (P + N) / their time) for P = input_tokens and N = output tokens - 1 (the first
    token comes out of the prompt's pass)."""
    return [
        (input_tokens + len(r.output_ids) - 1) / (r.e2e_ms / 1000) for r in result.requests if r.e2e_ms > 0
    ]


def bare_pass(bare, prompts, n: int, batched: bool) -> tuple[float, list[list[int]]]:
    """One pass of the bare path: its time (s) and the ids."""
    if hasattr(bare, "timed_run"):  # a bare path in its own process times itself
        return bare.timed_run(prompts, n, batched)
    started = time.perf_counter()
    if batched:
        ids = bare.run(prompts, n)
    else:
        ids = [bare.run([prompt], n)[0] for prompt in prompts]
    return time.perf_counter() - started, ids


def fixed_scenario(args, batched: bool) -> Scenario:
    """The `fixed` scenario of a harness pass: --requests prompts of --input-tokens, --output-tokens each,
    one after another or as one batch."""
    return Scenario(
        type="fixed",
        output_tokens=args.output_tokens,
        warmup_passes=0,
        repetitions=1,
        min_duration_s=0,
        target_ci_pct=None,
        max_duration_s=1,
        replicas=1,
        input_tokens=args.input_tokens,
        requests=args.requests,
        seed=0,
        batching=batched,
    )


# The two blocks, run in turn: each path takes the outer slots in one and the inner slots in the other.
BLOCK_ORDERS = (("bare", "harness", "harness", "bare"), ("harness", "bare", "bare", "harness"))
# A timed pass never directly follows the other path's (measure_shape's `timed`): the first pass after a
# switch ran 20-50 % slower than the next (llama.cpp on 2 cores, its bare loop in another process; 2026-12-08,
# docs/results/cpu-overhead/README.md), where a job's passes follow passes of their own.


def block_log_ratio(order: tuple[str, ...], times: list[float]) -> float:
    """ln(harness / bare) of one block: the mean over its two adjacent pairs, slots 1-2 and 3-4 (`times` in s,
    in `order`'s slots). Drift that is linear in ln(time) cancels within the block; a slot's own effect
    cancels over an ABBA and a BAAB."""
    logs = []
    for first, second in ((0, 1), (2, 3)):
        by_path = {order[first]: times[first], order[second]: times[second]}
        logs.append(math.log(by_path["harness"] / by_path["bare"]))
    return sum(logs) / 2


def measure_shape(args, backend, bare, prompts, batched: bool) -> dict:
    """Blocks of bare and harness passes, ABBA then BAAB, each timed pass after a pass of its own path (an
    untimed one after a switch: 7 passes a block for its 4 timed, all counted in --min-seconds and
    --max-seconds), until the CI of the overhead is within +-0.5 % or --max-seconds pass; returns the
    figures of one line."""
    n = args.output_tokens
    scenario = fixed_scenario(args, batched)
    rates: list[float] = []
    measured: list = []  # the timed passes' records (record.Pass), for the decode rates after the blocks

    def harness_once() -> float:
        """One measured pass as a benchmark job runs it, the stopping rule's CI after it: its time (s)."""
        started = time.perf_counter()
        seconds, result = harness_pass(backend, prompts, scenario, batched)
        rates.append(len(prompts) * n / seconds)
        ci_half_width_pct(rates[-20:])
        measured.append(result)
        return time.perf_counter() - started

    def bare_once() -> float:
        return bare_pass(bare, prompts, n, batched)[0]

    run = {"bare": bare_once, "harness": harness_once}
    untimed = {"bare": bare_once, "harness": lambda: harness_pass(backend, prompts, scenario, batched)}
    last = "harness"  # the path of the pass before (the warm-up ends with a harness pass)

    def timed(path: str) -> float:
        """One timed pass of `path`; after a pass of the other path, one untimed pass of its own first."""
        nonlocal last
        if last != path:
            untimed[path]()
            last = path
        return run[path]()

    harness_ids = [r.output_ids for r in harness_pass(backend, prompts, scenario, batched)[1].requests]
    same = bare_pass(bare, prompts, n, batched)[1] == harness_ids
    with sampling(args.sampler, args.sample_period_s) as sampler:
        for _ in range(2):  # warm both paths
            bare_once(), harness_once(), harness_once()
        measured.clear()
        sampler_cpu_s = sampler_process_cpu_s(sampler)
        logs, bare_s, started = [], [], time.perf_counter()
        while True:
            for order in BLOCK_ORDERS:
                times = [timed(path) for path in order]
                bare_s += [t for path, t in zip(order, times, strict=True) if path == "bare"]
                logs.append(block_log_ratio(order, times))
            low, high = t_interval(logs)
            half = (high - low) / 2 if not math.isnan(low) else math.inf
            elapsed = time.perf_counter() - started
            enough = len(logs) >= args.min_blocks and elapsed >= min(args.min_seconds, args.max_seconds)
            if (enough and half <= math.log(1.005)) or elapsed > args.max_seconds:
                break
        after = sampler_process_cpu_s(sampler)
        sampler_cores = None if after is None else (after - sampler_cpu_s) / elapsed
    mean = sum(logs) / len(logs)

    def mean_rate(rates_of) -> float:
        """The mean over every timed pass's requests of `rates_of(pass)` (NaN when none has one)."""
        values = [rate for result in measured for rate in rates_of(result)]
        return statistics.mean(values) if values else math.nan

    return {
        "bare_tok_s": len(prompts) * n / statistics.median(bare_s),
        "overhead_pct": pct(mean),
        "low_pct": pct(low),
        "high_pct": pct(high),
        "blocks": len(logs),
        "seconds": elapsed,
        "sampler_cores": sampler_cores,
        "same_ids": same,
        "mean_log": mean,
        "decode_tok_s": mean_rate(decode_tok_s),
        "steady_tok_s": mean_rate(steady_tok_s),
        "median_itl_tok_s": mean_rate(median_itl_tok_s),
        "prompt_gen_tok_s": mean_rate(lambda result: prompt_gen_tok_s(result, args.input_tokens)),
    }


def measure_one(args) -> None:
    backend, bare, config, device, dtype = load(args)
    prompts = fixed_prompts(args.requests, args.input_tokens, config["vocab_size"], seed=0)
    for batched in (False, True):
        shape = f"batch {args.requests}" if batched else "batch 1"
        busy = MachineLoad(own=(bare.child.pid,) if hasattr(bare, "child") else ())
        r = measure_shape(args, backend, bare, prompts, batched)
        if args.results:  # before the line: a line printed is a line pooled, even if a stop comes between
            with open(args.results, "a") as results:
                results.write(json.dumps({"backend": args.backend, "shape": shape, **r}) + "\n")
        print(
            f"{args.backend:10s} {shape:8s} {device} {dtype} {args.requests} x {args.input_tokens}+"
            f"{args.output_tokens}: {r['bare_tok_s']:,.1f} tok/s bare; harness overhead "
            f"{r['overhead_pct']:+.2f} % ({ci_text(r['low_pct'], r['high_pct'])}, "
            f"{r['blocks']} ABBA/BAAB blocks, {r['seconds']:.0f} s); goal <= 1 %; "
            f"llmbench decode {r['decode_tok_s']:,.1f} tok/s per request (after its second token "
            f"{r['steady_tok_s']:,.1f}; 1000 / median ITL {r['median_itl_tok_s']:,.1f}; "
            f"prompt + decode / e2e {r['prompt_gen_tok_s']:,.1f}); "
            f"ids {'the same' if r['same_ids'] else 'DIFFER'}; {busy.describe()}"
            + ("; no sampler" if args.sampler == "none" else f"; sampler in a {args.sampler}")
            + ("" if r["sampler_cores"] is None else f" ({r['sampler_cores']:.4f} of a core)")
            + (f", period {args.sample_period_s} s" if args.sample_period_s else ""),
            flush=True,
        )
    bare.close()
    os._exit(0)  # a process that loaded ftllm may not exit by itself


def pooled_lines(results: list[dict]) -> list[str]:
    """One line per backend and shape over the processes' figures (`results`: measure_shape's dicts with
    backend and shape): the mean of the processes' mean log ratios, its Student-t 95 % CI over the
    processes (their spread, which no one process's CI holds), and each process's overhead (%)."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in results:
        groups.setdefault((r["backend"], r["shape"]), []).append(r)
    lines = []
    for (backend, shape), runs in groups.items():
        logs = [r["mean_log"] for r in runs]
        low, high = t_interval(logs)
        mean = sum(logs) / len(logs)
        each = ", ".join(f"{r['overhead_pct']:+.2f}" for r in runs)
        ci = ci_text(pct(low), pct(high), "process") + ("" if math.isnan(low) else " over the processes")
        lines.append(
            f"{backend:10s} {shape:8s} pooled, {len(runs)} processes: harness overhead {pct(mean):+.2f} % ({ci}); "
            f"goal <= 1 %; each process: {each} %; {sum(r['blocks'] for r in runs)} ABBA/BAAB blocks"
        )
    return lines


def ci_text(low_pct: float, high_pct: float, unit: str = "block") -> str:
    """'95 % CI low … high %', or 'no CI (one <unit>)' when there was no spread to judge by (NaN bounds)."""
    if math.isnan(low_pct):
        return f"no CI (one {unit})"
    return f"95 % CI {low_pct:+.2f} … {high_pct:+.2f} %"


def pct(log_ratio: float) -> float:
    """A mean log ratio as a percentage change."""
    return 100 * (math.exp(log_ratio) - 1)


def read_results(path: Path) -> list[dict]:
    """The figures the processes appended to `path` (one JSON line each, written whole): a line cut by a kill
    mid-write is left out. Empty when no process got as far."""
    results = []
    for line in (path.read_text() if path.exists() else "").splitlines():
        try:
            results.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return results


def run_rounds(args, backends: list[str], results: Path, failed: dict[str, int]) -> None:
    """--processes rounds, each running every backend once in a fresh process (so drift spreads over all of
    them) that appends its figures to `results` (JSON lines); counts each backend's failed processes in
    `failed`."""
    for process in range(args.processes):
        if args.processes > 1:
            print(f"== process {process + 1} of {args.processes} {time.strftime('%H:%M:%S')}", flush=True)
        for backend in backends:
            argv = [
                *sys.argv[1:],
                *("--model", args.model, "--artifact", args.artifact or "", "--gguf", args.gguf or ""),
                *("--backend", backend, "--processes", "1", "--results", str(results)),
            ]
            if run_child([sys.executable, __file__, *argv]).returncode != 0:
                failed[backend] = failed.get(backend, 0) + 1


def main() -> None:
    parser = build_parser()
    args = parser.parse_args()
    if args.model is None:
        args.model, args.artifact, args.gguf = tiny_model()
    if args.backend != "all" and args.processes == 1:
        return measure_one(args)
    install_stop()  # a stop kills the child measuring and still prints what ended (below)
    backends = BACKENDS if args.backend == "all" else [args.backend]
    failed: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as folder:
        results = Path(folder) / "results.jsonl"
        try:
            run_rounds(args, backends, results, failed)
        except BaseException:  # Ctrl-C, SIGTERM: what the processes that ended measured is still pooled
            if args.processes > 1:
                print("== stopped: pooled over the processes that ended", flush=True)
            raise
        finally:
            lines = pooled_lines(read_results(results)) if args.processes > 1 else []
            lines += [
                f"{backend:10s} FAILED in {count} of {args.processes} processes (their errors are above)"
                for backend, count in failed.items()
            ]
            if lines:
                print("\n".join(lines), flush=True)
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
