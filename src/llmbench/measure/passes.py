"""One measured pass of each kind, timed from submission.

A request's clock starts when the scenario hands it over (before a lock, a
thread pool's queue or batch formation), so TTFT and end-to-end latency are
what a caller waits for; a backend's own start stamp only splits off the queue
time. A pass's total runs from its first submission to its last result.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from typing import TYPE_CHECKING

from ..clock import now
from ..record import Pass, Request
from .arrivals import arrival_offsets_s

if TYPE_CHECKING:
    from ..backends.base import Backend, Generation
    from ..scenario_types import Scenario


def _ms(seconds: float) -> float:
    return seconds * 1000.0


def request_record(
    index: int, prompt: list[int], submitted: float, generation: Generation, origin: float
) -> Request:
    """One request's record, in ms: submission since `origin`, queue until the backend started, TTFT
    and e2e from submission, ITL between token stamps. Without stamps TTFT is None and e2e ends
    at the generation's end."""
    times = generation.token_times
    last = times[-1] if times else generation.end
    return Request(
        query_index=index,
        prompt_tokens=len(prompt),
        output_ids=list(generation.output_ids),
        submit_ms=_ms(submitted - origin),
        queue_ms=_ms(max(0.0, generation.start - submitted)),
        ttft_ms=_ms(times[0] - submitted) if times else None,
        e2e_ms=_ms(last - submitted),
        itl_ms=[_ms(b - a) for a, b in pairwise(times)],
        counted_tokens=generation.counted_tokens,
    )


def _finish(prompts, submitted, generations, origin) -> Pass:
    total = now() - origin
    requests = [
        request_record(i, p, s, g, origin)
        for i, (p, s, g) in enumerate(zip(prompts, submitted, generations, strict=True))
    ]
    return Pass(total_ms=_ms(total), requests=requests)


def _cpu_s() -> float:
    times = os.times()
    return times.user + times.system


def run_sequential(backend: Backend, prompts: list[list[int]], s: Scenario, level: int | None) -> Pass:
    """Each request after the previous one finished (the article's for-loop)."""
    origin = now()
    submitted, generations = [], []
    for prompt in prompts:
        submitted.append(now())
        generations.append(backend.generate(prompt, s.output_tokens))
    return _finish(prompts, submitted, generations, origin)


def _pool(backend: Backend, prompts: list[list[int]], n: int, workers: int) -> Pass:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pool.submit(lambda: None).result()  # the pool's first thread exists before the clock starts
        origin = now()
        submitted, futures = [], []
        for prompt in prompts:
            submitted.append(now())
            futures.append(pool.submit(backend.generate, prompt, n))
        generations = [f.result() for f in futures]
    return _finish(prompts, submitted, generations, origin)


def run_threads(backend: Backend, prompts: list[list[int]], s: Scenario, level: int | None) -> Pass:
    """All requests submitted at once to a pool of `workers` threads (the article's ThreadPoolExecutor)."""
    return _pool(backend, prompts, s.output_tokens, s.workers)


def run_wave(backend: Backend, prompts: list[list[int]], s: Scenario, level: int | None) -> Pass:
    """`level` requests at once: one thread each, or handed over as one batch (`batching`)."""
    wave = prompts[:level]
    if not s.batching:
        return _pool(backend, wave, s.output_tokens, level)
    origin = now()
    generations = backend.generate_batch(wave, s.output_tokens)
    return _finish(wave, [origin] * len(wave), generations, origin)


def run_open_loop(backend: Backend, prompts: list[list[int]], s: Scenario, level: float) -> Pass:
    """Open loop at `level` requests/s: each prompt sent at its drawn arrival time (Poisson, or gamma with
    `burstiness`) whether or not earlier ones finished; at most `max_concurrency` in flight (the rest wait in
    the queue, their clock running). Each request keeps when it was scheduled (send lag = submit - scheduled)
    and the pass the sending process's CPU seconds, so the load generator can be checked."""
    offsets = arrival_offsets_s(len(prompts), level, s.burstiness, s.seed)
    workers = s.max_concurrency or len(prompts)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for _ in range(workers):  # every worker thread exists before the clock starts
            pool.submit(time.sleep, 0.001)
        pool.submit(lambda: None).result()
        cpu_start, origin = _cpu_s(), now()
        submitted, futures = [], []
        for prompt, offset in zip(prompts, offsets, strict=True):
            delay = origin + offset - now()
            if delay > 0:
                time.sleep(delay)
            submitted.append(now())
            futures.append(pool.submit(backend.generate, prompt, s.output_tokens))
        generations = [f.result() for f in futures]
    result = _finish(prompts, submitted, generations, origin)
    result.client_cpu_s = _cpu_s() - cpu_start
    for request, offset in zip(result.requests, offsets, strict=True):
        request.scheduled_ms = _ms(offset)
    return result


# ScenarioType.runner -> the function that sends one measured pass: (backend, prompts, settings, level) -> Pass
RUNNERS: dict[str, Callable[[Backend, list[list[int]], Scenario, int | None], Pass]] = {
    "sequential": run_sequential,
    "threads": run_threads,
    "wave": run_wave,
    "open_loop": run_open_loop,
}
