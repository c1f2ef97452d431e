"""The poll loop's own CPU: ftllm's benchmark loop (the bare path), the backend's loop before 2026-12-07 night
(two clock reads around every sleep, a stamp list built per find) and the backend's loop now, interleaved.

From the project root: PYTHONPATH=src python docs/results/cpu-overhead/probe-fastllm-poller-cpu.py [ROUNDS]
(the tiny model, one process; ROUNDS default 150). Batch 1 (one request of 128 + 64 tokens) and batch 4, each
path once a round in turn: prints each path's poller-thread CPU (time.thread_time, ms a pass: mean with a t CI
over the rounds of its difference from the bare loop's in the same round) and wall time. On two cores the
poller's CPU is taken from ftllm's threads, so it is what the harness can add to a pass.
"""

import ctypes
import statistics
import sys
import time

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 150
sys.argv = ["harness_overhead.py", "--backend", "fastllm", "--input-tokens", "128", "--output-tokens", "64"]
sys.path.insert(0, "benchmarks")
import harness_overhead as h  # noqa: E402  (loads the backend's library before numpy)

from llmbench.backends.fastllm import FETCH_CAPACITY, POLL_SLEEP_S  # noqa: E402
from llmbench.clock import now  # noqa: E402
from llmbench.stats import t_interval  # noqa: E402

N = 64


def collect_before(backend, handles: list[int]) -> list:
    """FastLLMBackend._collect(handles, stamp=True) as it was at 632a081 (its stamps and sleep bookkeeping)."""
    lib, model = backend._lib, backend._handle
    outputs = [[] for _ in handles]
    times = [[] for _ in handles]
    ends = [0.0] * len(handles)
    live = list(range(len(handles)))
    polls, slept = 0, 0.0
    buffer = (ctypes.c_int * FETCH_CAPACITY)()
    while live:
        progressed = False
        found = 0.0
        for i in list(live):
            if not lib.can_fetch_response_llm_model(model, handles[i]):
                continue
            count = lib.fetch_response_tokens_batch_llm_model(model, handles[i], buffer, FETCH_CAPACITY)
            if count < 0:
                ends[i] = now()
                live.remove(i)
                progressed = True
                continue
            if count:
                found = found or now()
                times[i].extend([found] * count)
            outputs[i].extend(buffer[:count])
            progressed |= count > 0
        if live and not progressed:
            before = now()
            time.sleep(POLL_SLEEP_S)
            slept += now() - before
            polls += 1
    return list(zip(outputs, times, ends, strict=True))


def main() -> None:
    args = h.build_parser().parse_args(sys.argv[1:])
    args.model, args.artifact, args.gguf = h.tiny_model()
    backend, bare, config, _device, _dtype = h.load(args)
    prompts = h.fixed_prompts(4, 128, config["vocab_size"], seed=0)
    for batch in (1, 4):
        wave = prompts[:batch]
        paths = {
            "bare (ftllm's loop)": lambda wave=wave: bare.run(wave, N),
            "backend before": lambda wave=wave: collect_before(
                backend, [backend._launch(p, N) for p in wave]
            ),
            "backend now": lambda wave=wave: backend._collect(
                [backend._launch(p, N) for p in wave], stamp=True
            ),
        }
        ids = [
            [ids for ids, *_ in path()] if name != "bare (ftllm's loop)" else path()
            for name, path in paths.items()
        ]
        assert ids[0] == ids[1] == ids[2], "the paths differ in ids"
        for path in paths.values():
            for _ in range(3):
                path()
        cpu = {name: [] for name in paths}
        wall = {name: [] for name in paths}
        for _ in range(ROUNDS):
            for name, path in paths.items():
                c, w = time.thread_time(), time.perf_counter()
                path()
                cpu[name].append((time.thread_time() - c) * 1e3)
                wall[name].append((time.perf_counter() - w) * 1e3)
        for name in paths:
            diff = [a - b for a, b in zip(cpu[name], cpu["bare (ftllm's loop)"], strict=True)]
            low, high = t_interval(diff) if name != "bare (ftllm's loop)" else (0.0, 0.0)
            print(
                f"batch {batch} {name:20s} poller CPU {statistics.mean(cpu[name]):.3f} ms a pass "
                f"(minus the bare loop's: {statistics.mean(diff):+.3f}, 95 % CI {low:+.3f} … {high:+.3f}); "
                f"wall {statistics.mean(wall[name]):.2f} ms (means of {ROUNDS})",
                flush=True,
            )
    import os

    os._exit(0)  # a process that loaded ftllm may not exit by itself


main()
