"""Scenarios: what is sent to a loaded backend, and how it is timed.

A scenario runs warmup requests (not recorded), then repeats its measured pass
until both `repetitions` and `min_duration_s` are reached. Each request keeps
its raw timings and output ids; statistics are computed later, from these.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise

from .backends.base import Backend, Generation, now


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


def run_loop(backend: Backend, prompts: list[list[int]], settings: dict) -> dict:
    """The article's for-loop: each query after the previous one finished."""
    n = settings["output_tokens"]
    origin = now()
    generations = [backend.generate(p, n) for p in prompts]
    total = now() - origin
    requests = [
        request_record(i, p, g, origin) for i, (p, g) in enumerate(zip(prompts, generations, strict=True))
    ]
    return {"total_ms": _ms(total), "requests": requests}


def run_threads(backend: Backend, prompts: list[list[int]], settings: dict) -> dict:
    """The article's ThreadPoolExecutor: all queries submitted at once."""
    n = settings["output_tokens"]
    with ThreadPoolExecutor(max_workers=settings["workers"]) as pool:
        origin = now()
        futures = [pool.submit(backend.generate, p, n) for p in prompts]
        generations = [f.result() for f in futures]
        total = now() - origin
    requests = [
        request_record(i, p, g, origin) for i, (p, g) in enumerate(zip(prompts, generations, strict=True))
    ]
    return {"total_ms": _ms(total), "requests": requests}


SCENARIO_TYPES: dict[str, Callable[[Backend, list[list[int]], dict], dict]] = {
    "loop": run_loop,
    "threads": run_threads,
}


def length_problems(repetitions: list[dict], expected: int) -> list[str]:
    """Requests whose output length differs from what was asked (counted in ids)."""
    problems = []
    for r, repetition in enumerate(repetitions):
        for request in repetition["requests"]:
            if request["output_tokens"] != expected:
                problems.append(
                    f"repetition {r} query {request['query_index']}: "
                    f"{request['output_tokens']} output tokens, {expected} asked"
                )
    return problems


def _nothing() -> None:
    pass


def measure(
    backend: Backend,
    prompts: list[list[int]],
    settings: dict,
    on_start: Callable[[], None] = _nothing,
    on_end: Callable[[], None] = _nothing,
) -> dict:
    """Warm up, then measure; `on_start`/`on_end` bracket the measured passes only
    (the resource sampler's energy and slowdown window)."""
    run_pass = SCENARIO_TYPES[settings["type"]]
    n = settings["output_tokens"]
    for i in range(settings["warmup_requests"]):
        backend.generate(prompts[i % len(prompts)], n)
    on_start()
    repetitions: list[dict] = []
    started = now()
    while len(repetitions) < settings["repetitions"] or now() - started < settings["min_duration_s"]:
        repetitions.append(run_pass(backend, prompts, settings))
    on_end()
    problems = length_problems(repetitions, n)
    return {
        "warmup_requests": settings["warmup_requests"],
        "measured_s": now() - started,
        "repetitions": repetitions,
        "valid": not problems,
        "invalid_reasons": problems,
    }
