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
from functools import partial
from typing import TYPE_CHECKING, Protocol

from ..clock import now
from ..record import Level, Measurement, Pass
from ..stats import PASS_SPREAD_LIMIT, ci_half_width_pct
from .passes import RUNNERS

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
    """Requests whose output length differs from what was asked (counted in ids), and requests whose
    token stamps do not count their output tokens (a first token and a gap per token after it):
    a TPOT over missing or extra stamps is not the request's."""
    problems = []
    for i, p in enumerate(passes):
        for r in p.requests:
            if r.output_tokens != expected:
                problems.append(
                    f"{label}pass {i} query {r.query_index}: {r.output_tokens} output tokens, {expected} asked"
                )
            stamps = (r.ttft_ms is not None) + len(r.itl_ms)
            if r.output_tokens and stamps != r.output_tokens:
                problems.append(
                    f"{label}pass {i} query {r.query_index}: {stamps} token stamps for {r.output_tokens} output tokens"
                )
    return problems


def _level_label(level: Level) -> str:
    if level.rate_per_s is not None:
        return f"rate {level.rate_per_s:g}/s "
    return "" if level.concurrency is None else f"concurrency {level.concurrency} "


def _repeat(run_pass, s: Scenario, passes: list[Pass], spent_s: float = 0.0) -> tuple[str, float | None]:
    """Appends passes to `passes` until the stopping rule ends them (at least one); `spent_s` is measured
    time already spent on them. Returns why it stopped and the CI reached."""
    started = now()
    while True:
        passes.append(run_pass())
        elapsed = spent_s + now() - started
        ci = ci_half_width_pct([p.output_tokens_per_s for p in passes])
        if len(passes) < s.repetitions or elapsed < s.min_duration_s:
            continue
        if s.target_ci_pct is None:
            return "repetitions", ci
        if ci is not None and ci <= s.target_ci_pct:
            return "target", ci
        if elapsed >= s.max_duration_s:
            return "time_cap", ci


def visits(levels: list) -> list:
    """The order levels are measured in: there and back (1, 8, 32, 32, 8, 1), so that a drift of the
    machine over the process (clocks, a host CPU speeding up) falls on every level alike instead of
    passing for scaling. One level is visited once."""
    return list(levels) if len(levels) < 2 else [*levels, *reversed(levels)]


class _Counters:
    """A level's Backend.counters: the increase over its warm-up and its measured passes, summed over
    its visits, and their values at its end."""

    def __init__(self, backend: Backend):
        self.backend, self.sums = backend, {}

    def around(self, part: str, level, call):
        before = self.backend.counters()
        result = call()
        after = self.backend.counters()
        sums = self.sums.setdefault(level, {"warmup": {}, "measured": {}, "at_end": {}})
        for key, value in after.items():
            sums[part][key] = sums[part].get(key, 0) + value - before.get(key, 0)
        sums["at_end"] = after
        return result

    def of(self, level) -> dict:
        return self.sums.get(level, {}) if self.backend.counters() else {}


def measure(
    backend: Backend, prompts: list[list[int]], s: Scenario, window: Window | None = None
) -> Measurement:
    """Warm up and measure every level of scenario `s`, the levels there and back (`visits`): the first
    visit warms up and runs half the passes (at least one), the second the rest under the stopping rule.
    Before any warm-up the backend is prepared for the most requests the scenario has in flight at once
    and its longest prompt + output. `window` is open exactly during measured passes."""
    window = window or NoWindow()
    kind = s.kind
    levels = kind.levels(s)
    backend.prepare(max(kind.concurrent(s, lv) for lv in levels), max(map(len, prompts)) + s.output_tokens)
    counters = _Counters(backend)
    passes: dict = {lv: [] for lv in levels}
    spent: dict = dict.fromkeys(levels, 0.0)
    ended: dict = {}
    for visit, level in enumerate(visits(levels)):
        run = partial(RUNNERS[kind.runner], backend, prompts, s, level)
        first = visit < len(levels)
        if first:
            for _ in range(s.warmup_passes):
                counters.around("warmup", level, run)
        started = now()
        window.open()
        try:
            if first and len(levels) > 1:
                for _ in range(max(1, s.repetitions // 2)):
                    passes[level].append(counters.around("measured", level, run))
            else:
                repeat = partial(_repeat, run, s, passes[level], spent[level])
                ended[level] = counters.around("measured", level, repeat)
        finally:
            window.close()
        spent[level] += now() - started
    measured = [
        Level(
            **{"concurrency": None, **kind.level_fields(s, lv)},
            warmup_passes=s.warmup_passes,
            passes=passes[lv],
            stop_reason=ended[lv][0],
            headline_ci_pct=ended[lv][1],
            measured_s=spent[lv],
            counters=counters.of(lv),
        )
        for lv in levels
    ]
    problems = [p for lv in measured for p in length_problems(lv.passes, s.output_tokens, _level_label(lv))]
    return Measurement(prompts=prompts, levels=measured, invalid_reasons=problems)


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


# A pass at concurrency c whose median decode step costs at least this share of c batch-1 steps ran
# its requests one after another, not as one batch.
UNBATCHED_SHARE = 0.8


def pass_spread(measurement: Measurement) -> list[dict]:
    """Levels whose fastest pass (output tok/s) is more than PASS_SPREAD_LIMIT x their slowest: passes of
    two kinds (e.g. batched and not), which no mean or CI of them describes. Each flag gives the level,
    the ratio and the slowest and fastest pass in tok/s."""
    flags = []
    for level in measurement.levels:
        rates = [p.output_tokens_per_s for p in level.passes]
        if len(rates) >= 2 and max(rates) > PASS_SPREAD_LIMIT * min(rates):
            flags.append(
                {
                    "code": "passes_disagree",
                    "concurrency": level.concurrency,
                    "ratio": round(max(rates) / min(rates), 1),
                    "slowest": round(min(rates), 1),
                    "fastest": round(max(rates), 1),
                }
            )
    return flags


def _median_step_ms(passes: list[Pass]) -> float | None:
    gaps = [gap for p in passes for r in p.requests for gap in r.itl_ms]
    return statistics.median(gaps) if gaps else None


def unbatched_steps(measurement: Measurement) -> list[dict]:
    """The per-level step check: at each level of c >= 2 concurrent requests, the passes whose median
    inter-token gap (one decode step) is at least UNBATCHED_SHARE x c x the batch-1 level's (the same
    process): they cost what c steps one after another cost. Nothing without a level of 1."""
    flags = []
    by_level = {lv.concurrency: lv for lv in measurement.levels}
    reference = _median_step_ms(by_level[1].passes) if 1 in by_level else None
    for level in measurement.levels:
        c = level.concurrency
        if not c or c < 2 or not reference:
            continue
        steps = [_median_step_ms([p]) for p in level.passes]
        slow = [x / reference for x in steps if x is not None and x >= UNBATCHED_SHARE * c * reference]
        if slow:
            flags.append(
                {
                    "code": "steps_not_batched",
                    "concurrency": c,
                    "passes": len(slow),
                    "of": len(level.passes),
                    "ratio": round(max(slow), 1),
                }
            )
    return flags
