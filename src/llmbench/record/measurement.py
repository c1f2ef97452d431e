"""What a run measured: requests, passes, levels. Times inside a pass are ms since it began."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass
class Request:
    """One request of a measured pass.

    Latencies count from *submission* (the moment the scenario handed the request
    over, before any lock, pool queue or batch formation), as TTFT and e2e are
    defined; `queue_ms` is the part of that spent before the backend started on it.
    """

    query_index: int
    prompt_tokens: int
    output_ids: list[int]
    submit_ms: float
    queue_ms: float
    ttft_ms: float | None
    e2e_ms: float
    itl_ms: list[float]
    scheduled_ms: float | None = (
        None  # open loop: when the schedule said to send it (send lag = submit - this)
    )
    counted_tokens: int | None = (
        None  # served: tokens the server counted (usage); output_ids are re-tokenized
    )

    @property
    def output_tokens(self) -> int:
        """Output tokens: the engine's count where output_ids are not its own ids, else the number of ids."""
        return self.counted_tokens if self.counted_tokens is not None else len(self.output_ids)

    @property
    def tpot_ms(self) -> float | None:
        """Mean time per output token after the first (decode), ms."""
        return sum(self.itl_ms) / len(self.itl_ms) if self.itl_ms else None


@dataclass
class Pass:
    """One measured pass over a scenario's prompts (or one concurrency level's wave)."""

    total_ms: float
    requests: list[Request]
    client_cpu_s: float | None = None  # open loop: the sending process's CPU seconds over the pass

    @property
    def output_tokens(self) -> int:
        """Output tokens of all the pass's requests."""
        return sum(r.output_tokens for r in self.requests)

    @property
    def prompt_tokens(self) -> int:
        """Prompt tokens of all the pass's requests."""
        return sum(r.prompt_tokens for r in self.requests)

    @property
    def output_tokens_per_s(self) -> float:
        """Output tokens / the pass's wall time, tok/s."""
        return self.output_tokens / (self.total_ms / 1000.0)


StopReason = Literal["repetitions", "target", "time_cap"]


@dataclass
class Level:
    """The passes of one concurrency level (the only level, `concurrency` None, outside a sweep).

    `stop_reason` says what ended the passes: the configured minimum was enough
    (no CI target), the CI target was met, or the time cap came first."""

    concurrency: int | None
    warmup_passes: int
    passes: list[Pass]
    stop_reason: StopReason
    headline_ci_pct: float | None  # 95 % CI half-width of output tok/s over passes, % of the mean
    measured_s: float
    # The backend's counters (Backend.counters): "warmup" and "measured" the increase over this level's
    # warm-up and measured passes, "at_end" their values after its last measured pass; empty when the
    # backend keeps none.
    counters: dict[str, dict[str, int]] = field(default_factory=dict)
    rate_per_s: float | None = None  # open loop: the intended request rate of this level


@dataclass
class Measurement:
    """A run's measured passes by level, the prompt ids sent, and why it is invalid (if it is)."""

    prompts: list[list[int]]
    levels: list[Level]
    invalid_reasons: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        """True when invalid_reasons is empty."""
        return not self.invalid_reasons

    @property
    def output_tokens(self) -> int:
        """Output tokens of every measured pass: what energy and CPU time are divided by."""
        return sum(p.output_tokens for level in self.levels for p in level.passes)

    def passes(self) -> list[Pass]:
        """Every measured pass, level after level."""
        return [p for level in self.levels for p in level.passes]


@dataclass
class Resources:
    """What the machine did (sampler.ResourceSampler): memory over time and at phase
    boundaries, and over the measured window (energy, GPU busy, CPU time, slowdowns).
    GPU fields are None with a reason where NVML could not say."""

    period_s: float
    nvml_available: bool
    nvml_reason: str | None
    events_s: dict[str, float]
    samples: dict[str, list | None]  # t_s, rss_bytes, gpu_process_bytes, gpu_used_bytes, gpu_util_pct
    snapshots: dict[str, dict]  # event -> one sample
    peak_rss_bytes: int | None
    peak_gpu_process_bytes: int | None
    peak_gpu_used_bytes: int | None
    gpu_process_reason: str | None
    window_s: float | None
    energy_j: float | None
    energy_reason: str | None
    gpu_busy_fraction: float | None
    gpu_busy_reason: str | None
    cpu_s: float | None  # this process's CPU seconds (user + system) inside the window
    slowdown_reasons: list[str]
    other_gpu_processes_at_start: list[dict]
    nvml_errors: dict[str, str] = field(default_factory=dict)  # NVML call -> why it failed
    # Per measured segment, in the order measured (measure.levels.visits: a sweep's levels there and
    # back, two segments per level; a run of one level, one): window_s, cpu_s, energy_j,
    # gpu_busy_fraction, gpu_util_samples. Empty in records written before segments were kept.
    segments: list[dict] = field(default_factory=list)
    # Slowdown reason -> share of the window's clock samples that showed it (empty before it was kept).
    slowdown_share: dict[str, float] = field(default_factory=dict)

    def window(self, level_index: int, levels: int) -> dict | None:
        """The measured window of level `level_index` of `levels`: its segments combined (one per
        level, or two where the levels were visited there and back: level i's are segments i and
        2 x levels - 1 - i), or for a run of one level the whole window; None where the record did
        not keep it per level (a sweep's record written before segments were kept). Keys as in
        `segments`, plus `shortest_s`, the shortest of the segments combined."""
        count = len(self.segments)
        if count == levels:
            return _combined([self.segments[level_index]])
        if count == 2 * levels:
            return _combined([self.segments[level_index], self.segments[count - 1 - level_index]])
        if levels == 1 and self.window_s is not None:
            return {
                "window_s": self.window_s,
                "shortest_s": self.window_s,
                "cpu_s": self.cpu_s,
                "energy_j": self.energy_j,
                "gpu_busy_fraction": self.gpu_busy_fraction,
                "gpu_util_samples": None,
            }
        return None

    def snapshot(self, event: str, key: str) -> Any:
        """Value `key` (e.g. gpu_process_bytes) of the sample taken at `event`; None where there is none."""
        return (self.snapshots.get(event) or {}).get(key)


def _sum(values: list) -> float | None:
    return None if any(v is None for v in values) else sum(values)


def _combined(segments: list[dict]) -> dict:
    """Segments of one level as one window: times, CPU and energy summed (energy None where one
    lacks it), GPU busy the mean over all their utilization samples."""
    util = [(s.get("gpu_busy_fraction"), s.get("gpu_util_samples") or 0) for s in segments]
    util = [(fraction, n) for fraction, n in util if fraction is not None and n]
    samples = sum(n for _, n in util)
    return {
        "window_s": _sum([s.get("window_s") for s in segments]),
        "shortest_s": min((s.get("window_s") or 0.0) for s in segments),
        "cpu_s": _sum([s.get("cpu_s") for s in segments]),
        "energy_j": _sum([s.get("energy_j") for s in segments]),
        "gpu_busy_fraction": sum(f * n for f, n in util) / samples if samples else None,
        "gpu_util_samples": samples,
    }
