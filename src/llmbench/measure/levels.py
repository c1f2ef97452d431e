"""Measuring a scenario on a loaded backend: warm-up, measured passes, the stopping rule.

For each concurrency level: `warmup_passes` untimed passes of the measured
shape and length (the first long call is the slow one), then measured passes
until the minimum count and duration are reached and, with `target_ci_pct`,
until the 95 % CI half-width of the pass throughput is within that share of its
mean or `max_duration_s` has passed. The measurement window (energy, GPU busy,
CPU time, clock slowdowns) is open exactly while measured passes run, so what
is summed over it is what the measured tokens cost.
"""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING, Protocol

from ..record import Level, Measurement, Pass
from ..stats import ci_half_width_pct
from .passes import now

if TYPE_CHECKING:
    from ..backends.base import Backend
    from ..scenario_types import Scenario

# Ids 0-2 are special tokens (unk, bos, eos) in the synthetic tokenizer.
FIRST_ORDINARY_ID = 3


class Window(Protocol):
    """Brackets the measured passes (the resource sampler's window)."""

    def open(self) -> None:
        """Called just before a level's measured passes."""
        ...

    def close(self) -> None:
        """Called when they end, also when a pass raised."""
        ...


class NoWindow:
    """A Window that does nothing: measuring without a resource sampler."""

    def open(self) -> None:
        """Does nothing."""
        pass

    def close(self) -> None:
        """Does nothing."""
        pass


def fixed_prompts(count: int, input_tokens: int, vocab_size: int, seed: int) -> list[list[int]]:
    """`count` prompts of exactly `input_tokens` ids: the same for every backend."""
    import random

    rng = random.Random(seed)
    return [[rng.randrange(FIRST_ORDINARY_ID, vocab_size) for _ in range(input_tokens)] for _ in range(count)]


def scenario_prompts(s: Scenario, queries: list[list[int]], vocab_size: int) -> list[list[int]]:
    """The prompt ids a scenario sends: the tokenized queries, or random ids of exact length."""
    if s.kind.prompts == "queries":
        return queries
    return fixed_prompts(s.kind.prompt_count(s, len(queries)), s.input_tokens, vocab_size, s.seed)


def length_problems(passes: list[Pass], expected: int, label: str = "") -> list[str]:
    """Requests whose output length differs from what was asked (counted in ids)."""
    return [
        f"{label}pass {i} query {r.query_index}: {r.output_tokens} output tokens, {expected} asked"
        for i, p in enumerate(passes)
        for r in p.requests
        if r.output_tokens != expected
    ]


def _repeat(run_pass, s: Scenario) -> tuple[list[Pass], str, float | None]:
    """Passes until the stopping rule ends them; returns them, why it stopped and the CI reached."""
    passes: list[Pass] = []
    started = now()
    while True:
        passes.append(run_pass())
        elapsed = now() - started
        ci = ci_half_width_pct([p.output_tokens_per_s for p in passes])
        if len(passes) < s.repetitions or elapsed < s.min_duration_s:
            continue
        if s.target_ci_pct is None:
            return passes, "repetitions", ci
        if ci is not None and ci <= s.target_ci_pct:
            return passes, "target", ci
        if elapsed >= s.max_duration_s:
            return passes, "time_cap", ci


def measure(
    backend: Backend, prompts: list[list[int]], s: Scenario, window: Window | None = None
) -> Measurement:
    """Warm up and measure every level of scenario `s`; `window` is open exactly during measured passes."""
    window = window or NoWindow()
    kind = s.kind
    levels = []
    for level in kind.levels(s):
        for _ in range(s.warmup_passes):
            kind.run_pass(backend, prompts, s, level)
        started = now()
        window.open()
        try:
            passes, reason, ci = _repeat(lambda lv=level: kind.run_pass(backend, prompts, s, lv), s)
        finally:
            window.close()
        levels.append(Level(level, s.warmup_passes, passes, reason, ci, now() - started))
    problems = [
        p
        for lv in levels
        for p in length_problems(
            lv.passes, s.output_tokens, "" if lv.concurrency is None else f"concurrency {lv.concurrency} "
        )
    ]
    return Measurement(prompts=prompts, levels=levels, invalid_reasons=problems)


def first_pass_outliers(measurement: Measurement) -> list[dict]:
    """Levels whose first measured pass stands apart from the rest: warm-up did not warm.

    The first pass is an outlier when its throughput differs from the median of the
    other passes by more than 10 % and by more than 3 robust standard deviations
    (1.4826 x the median absolute deviation) of the others."""
    flags = []
    for level in measurement.levels:
        if len(level.passes) < 3:
            continue
        first, *rest = [p.output_tokens_per_s for p in level.passes]
        median = statistics.median(rest)
        spread = 1.4826 * statistics.median(abs(x - median) for x in rest)
        deviation = (first - median) / median
        if abs(deviation) > 0.10 and abs(first - median) > 3 * spread:
            flags.append(
                {
                    "code": "first_pass_slower" if deviation < 0 else "first_pass_faster",
                    "concurrency": level.concurrency,
                    "pct": round(100 * abs(deviation)),
                }
            )
    return flags
