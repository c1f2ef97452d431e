"""Scenarios: what is sent to a loaded backend, and how it is timed.

A scenario runs warmup requests (not recorded), then repeats its measured pass
until both `repetitions` and `min_duration_s` are reached. Each request keeps
its raw timings and output ids; statistics are computed later, from these.

- loop:    the article's for-loop over its queries, one after another;
- threads: the article's ThreadPoolExecutor, all queries submitted at once;
- fixed:   `requests` prompts of exactly `input_tokens` ids, one after another;
- sweep:   for each concurrency level c, c fixed-length requests at once, either
           from c threads or as one batch (`batching`).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise

from .backends.base import Backend, Generation, now

# Ids 0-2 are special tokens (unk, bos, eos) in the synthetic tokenizer.
FIRST_ORDINARY_ID = 3


def _ms(seconds: float) -> float:
    return seconds * 1000.0


def request_record(index: int, prompt: list[int], generation: Generation, origin: float) -> dict:
    times = generation.token_times
    return {
        "query_index": index,
        "prompt_tokens": len(prompt),
        "output_tokens": len(generation.output_ids),
        "output_ids": generation.output_ids,
        "start_ms": _ms(generation.start - origin),
        "ttft_ms": _ms(times[0] - generation.start) if times else None,
        "e2e_ms": _ms(generation.end - generation.start),
        "itl_ms": [_ms(b - a) for a, b in pairwise(times)],
    }


def fixed_prompts(count: int, input_tokens: int, vocab_size: int, seed: int) -> list[list[int]]:
    """`count` prompts of exactly `input_tokens` ids: the same for every backend."""
    rng = random.Random(seed)
    return [[rng.randrange(FIRST_ORDINARY_ID, vocab_size) for _ in range(input_tokens)] for _ in range(count)]


def _pass(prompts: list[list[int]], generate: Callable[[], list[Generation]], origin: float) -> dict:
    generations = generate()
    total = now() - origin
    requests = [
        request_record(i, p, g, origin) for i, (p, g) in enumerate(zip(prompts, generations, strict=True))
    ]
    return {"total_ms": _ms(total), "requests": requests}


def run_sequential(backend: Backend, prompts: list[list[int]], settings: dict) -> dict:
    """Each request after the previous one finished (the article's for-loop)."""
    n = settings["output_tokens"]
    return _pass(prompts, lambda: [backend.generate(p, n) for p in prompts], now())


def run_threads(backend: Backend, prompts: list[list[int]], settings: dict) -> dict:
    """All requests submitted at once to a thread pool (the article's ThreadPoolExecutor)."""
    n = settings["output_tokens"]
    with ThreadPoolExecutor(max_workers=settings["workers"]) as pool:
        origin = now()

        def generate() -> list[Generation]:
            return [f.result() for f in [pool.submit(backend.generate, p, n) for p in prompts]]

        return _pass(prompts, generate, origin)


def run_batch(backend: Backend, prompts: list[list[int]], settings: dict) -> dict:
    """All requests handed to the backend as one batch."""
    return _pass(prompts, lambda: backend.generate_batch(prompts, settings["output_tokens"]), now())


PASSES: dict[str, Callable[[Backend, list[list[int]], dict], dict]] = {
    "loop": run_sequential,
    "threads": run_threads,
    "fixed": run_sequential,
}
SCENARIO_TYPES = (*PASSES, "sweep")


def scenario_prompts(settings: dict, queries: list[list[int]], vocab_size: int) -> list[list[int]]:
    if settings["type"] in ("loop", "threads"):
        return queries
    count = settings["requests"] if settings["type"] == "fixed" else max(settings["concurrency"])
    return fixed_prompts(count, settings["input_tokens"], vocab_size, settings["seed"])


def length_problems(repetitions: list[dict], expected: int, label: str = "") -> list[str]:
    """Requests whose output length differs from what was asked (counted in ids)."""
    problems = []
    for r, repetition in enumerate(repetitions):
        for request in repetition["requests"]:
            if request["output_tokens"] != expected:
                problems.append(
                    f"{label}repetition {r} query {request['query_index']}: "
                    f"{request['output_tokens']} output tokens, {expected} asked"
                )
    return problems


def levels(measurement: dict) -> list[dict]:
    """A sweep's concurrency levels; any other scenario is one level without a concurrency."""
    return measurement.get("levels") or [{"concurrency": None, "repetitions": measurement["repetitions"]}]


def _nothing() -> None:
    pass


def _repeat(run_pass: Callable[[], dict], settings: dict) -> list[dict]:
    repetitions: list[dict] = []
    started = now()
    while len(repetitions) < settings["repetitions"] or now() - started < settings["min_duration_s"]:
        repetitions.append(run_pass())
    return repetitions


def measure(
    backend: Backend,
    prompts: list[list[int]],
    settings: dict,
    on_start: Callable[[], None] = _nothing,
    on_end: Callable[[], None] = _nothing,
) -> dict:
    """Warm up, then measure; `on_start`/`on_end` bracket the measured passes only
    (the resource sampler's energy and slowdown window)."""
    n = settings["output_tokens"]
    for i in range(settings["warmup_requests"]):
        backend.generate(prompts[i % len(prompts)], n)
    result: dict = {"warmup_requests": settings["warmup_requests"], "prompts": prompts}
    started = now()
    if settings["type"] == "sweep":
        run_pass = run_batch if settings["batching"] else run_threads
        result["levels"] = []
        on_start()
        for concurrency in settings["concurrency"]:
            wave = prompts[:concurrency]
            level_settings = {**settings, "workers": concurrency}
            if settings["warmup_requests"]:  # new batch shapes: one untimed wave per level
                run_pass(backend, wave, level_settings)
            repetitions = _repeat(lambda w=wave, s=level_settings: run_pass(backend, w, s), settings)
            result["levels"].append({"concurrency": concurrency, "repetitions": repetitions})
        on_end()
        problems = [
            p
            for lv in result["levels"]
            for p in length_problems(lv["repetitions"], n, f"concurrency {lv['concurrency']} ")
        ]
    else:
        run_pass = PASSES[settings["type"]]
        on_start()
        result["repetitions"] = _repeat(lambda: run_pass(backend, prompts, settings), settings)
        on_end()
        problems = length_problems(result["repetitions"], n)
    result.update(measured_s=now() - started, valid=not problems, invalid_reasons=problems)
    return result
