"""What a scenario type is, in one table: its settings, prompts, pass runner and how it is read.

Everything else asks this table: the config schema is generated from it (a key
that does not apply to a type is an error naming it), the worker takes its
prompt source and pass runner from it, the roofline asks which levels decode at
batch 1, the report which section shows it. Adding a scenario type means one
entry here and, for a new way of sending requests, one pass runner in
:mod:`llmbench.measure.passes` (this table names it; measure resolves the name).

- loop:    the article's for-loop over its queries, one after another;
- threads: the article's ThreadPoolExecutor, all queries submitted at once;
- fixed:   `requests` prompts of exactly `input_tokens` random ids, one after another;
- sweep:   for each concurrency level c, c fixed-length requests at once, from c
           threads or as one batch (`batching`);
- open-loop: for each request rate, `requests` fixed-length requests sent at
           Poisson or gamma arrival times whatever the engine's pace (as `vllm bench
           serve --request-rate`), at most `max_concurrency` in flight; goodput under `slo`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Literal

# key -> JSON schema of the key (description and default included), and the types it applies to.
COMMON = "all"
# fmt: off
KEYS: dict[str, tuple[dict, tuple[str, ...] | str]] = {
    "output_tokens": ({"type": "integer", "minimum": 1, "default": 32,
                       "description": "tokens generated per request, exactly (EOS masked)"}, COMMON),
    "warmup_passes": ({"type": "integer", "minimum": 0, "default": 1,
                       "description": "untimed passes of the measured shape before measuring (per level)"}, COMMON),
    "repetitions": ({"type": "integer", "minimum": 1, "default": 3,
                     "description": "measured passes per process, at least"}, COMMON),
    "min_duration_s": ({"type": "number", "minimum": 0, "default": 0,
                        "description": "keep repeating passes until this much measured time, at least"}, COMMON),
    "target_ci_pct": ({"type": ["number", "null"], "exclusiveMinimum": 0, "default": None,
                       "description": "repeat passes until the 95 % CI half-width of output tok/s is within "
                                      "this % of its mean (null: no target)"}, COMMON),
    "max_duration_s": ({"type": "number", "exclusiveMinimum": 0, "default": 120,
                        "description": "time cap of the stopping rule per level, seconds"}, COMMON),
    "replicas": ({"type": "integer", "minimum": 1, "default": 1,
                  "description": "fresh processes the scenario runs in (the unit of replication)"}, COMMON),
    "backends": ({"type": "array", "minItems": 1, "uniqueItems": True, "items": {"type": "string"},
                  "description": "only these of the top-level backends run this scenario"}, COMMON),
    "workers": ({"type": "integer", "minimum": 1, "default": 5,
                 "description": "thread-pool size"}, ("threads",)),
    "input_tokens": ({"type": "integer", "minimum": 1, "default": 128,
                      "description": "prompt length in token ids, exactly"}, ("fixed", "sweep", "open-loop")),
    "requests": ({"type": "integer", "minimum": 1, "default": 4,
                  "description": "prompts per pass (fixed: one after another; open-loop: at the arrival times)"},
                 ("fixed", "open-loop")),
    "seed": ({"type": "integer", "minimum": 0, "default": 0,
              "description": "seed of the random prompt ids (and of the open-loop arrival times)"},
             ("fixed", "sweep", "open-loop")),
    "concurrency": ({"type": "array", "minItems": 1, "uniqueItems": True, "default": [1, 2, 4, 8],
                     "items": {"type": "integer", "minimum": 1},
                     "description": "numbers of simultaneous requests, one level each"}, ("sweep",)),
    "batching": ({"type": "boolean", "default": False,
                  "description": "false = one thread per request; true = one batch (the backend's batch API)"},
                 ("sweep",)),
    "rates": ({"type": "array", "minItems": 1, "uniqueItems": True, "default": [1, 2, 4],
               "items": {"type": "number", "exclusiveMinimum": 0},
               "description": "intended request rates, requests/s, one level each (a rate sweep)"}, ("open-loop",)),
    "burstiness": ({"type": "number", "exclusiveMinimum": 0, "default": 1,
                    "description": "shape of the gamma inter-arrival gaps: 1 = Poisson, < 1 burstier, > 1 more even"},
                   ("open-loop",)),
    "max_concurrency": ({"type": ["integer", "null"], "minimum": 1, "default": None,
                         "description": "at most this many requests in flight; later arrivals wait, their clock "
                                        "running (null: no cap)"}, ("open-loop",)),
    "slo": ({"type": "object", "additionalProperties": False, "default": {"ttft_ms": 500, "tpot_ms": 50},
             "properties": {"ttft_ms": {"type": "number", "exclusiveMinimum": 0},
                            "tpot_ms": {"type": "number", "exclusiveMinimum": 0}},
             "description": "a request meets the SLO when its TTFT and TPOT are within these (goodput)"},
            ("open-loop",)),
}
# fmt: on


@dataclass(frozen=True)
class Scenario:
    """A scenario's settings after validation (keys that do not apply to its type are None)."""

    type: str
    output_tokens: int
    warmup_passes: int
    repetitions: int
    min_duration_s: float
    target_ci_pct: float | None
    max_duration_s: float
    replicas: int
    backends: list[str] | None = None
    workers: int | None = None
    input_tokens: int | None = None
    requests: int | None = None
    seed: int | None = None
    concurrency: list[int] | None = None
    batching: bool | None = None
    rates: list[float] | None = None
    burstiness: float | None = None
    max_concurrency: int | None = None
    slo: dict | None = None

    @property
    def kind(self) -> ScenarioType:
        """The ScenarioType of `type`."""
        return TYPES[self.type]

    def to_dict(self) -> dict:
        """The settings that apply to this type (keys of other types, and unset optional ones, left out)."""
        return {
            k: v
            for k, v in asdict(self).items()
            if k == "type" or (k in self.kind.keys and (v is not None or "default" in KEYS[k][0]))
        }

    @classmethod
    def from_dict(cls, data: dict) -> Scenario:
        """From validated settings (defaults filled in); unknown keys raise TypeError."""
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"unknown scenario keys: {', '.join(sorted(unknown))}")
        return cls(**{f.name: data.get(f.name) for f in fields(cls)})

    def measured_settings(self) -> dict:
        """The settings that shape one run's numbers (not which backends run it, nor how many times)."""
        return {k: v for k, v in self.to_dict().items() if k not in ("backends", "replicas")}


Section = Literal["loop", "threads"]
# The report's two analysis sections, which are also the article's two measurements, in its order.
SECTIONS: tuple[Section, ...] = ("loop", "threads")


@dataclass(frozen=True)
class ScenarioType:
    """One kind of scenario.

    `levels(s)` are the concurrency levels measured (None: one level, no concurrency);
    `concurrent(s, level)` how many requests are in flight at once (at most), so a level with
    1 decodes at batch 1 (where the bandwidth roofline applies); `prompts` whether
    it sends the configured queries or random ids; `runner` the name of the pass
    runner in :data:`llmbench.measure.passes.RUNNERS` that sends one measured pass;
    `section` where the report discusses it; `compares` the summary metric on which
    the report sets backends against each other (the article compared pass wall
    times); `swept` whether it measures several concurrency levels, which the report
    draws as throughput against latency and reads for where throughput saturates;
    `article` which of the article's two measurements (its for-loop, its thread
    pool) it repeats, or None."""

    name: str
    prompts: Literal["queries", "random"]
    runner: Literal["sequential", "threads", "wave", "open_loop"]
    section: Section
    levels: Callable[[Scenario], list[int | None]]
    concurrent: Callable[[Scenario, int | None], int]
    prompt_count: Callable[[Scenario, int], int]  # (settings, number of queries) -> prompts per pass
    compares: Literal["total_ms", "output_tokens_per_s"]
    swept: bool
    article: Section | None
    # (settings, level) -> the Level fields naming it: its concurrency, or its intended request rate
    level_fields: Callable[[Scenario, float | None], dict] = lambda s, lv: {"concurrency": lv}

    @property
    def keys(self) -> list[str]:
        """The settings that apply to this type: the common ones and its own, in KEYS order."""
        return [k for k, (_, types) in KEYS.items() if types == COMMON or self.name in types]

    def schema(self) -> dict:
        """JSON schema of this type's settings: `type` fixed to its name, no other keys than its own."""
        properties = {"type": {"const": self.name}} | {k: copy.deepcopy(KEYS[k][0]) for k in self.keys}
        return {"properties": properties, "additionalProperties": False}


# fmt: off
TYPES: dict[str, ScenarioType] = {
    t.name: t
    for t in [
        ScenarioType("loop", "queries", "sequential", "loop",
                     levels=lambda s: [None], concurrent=lambda s, lv: 1, prompt_count=lambda s, q: q,
                     compares="total_ms", swept=False, article="loop"),
        ScenarioType("threads", "queries", "threads", "threads",
                     levels=lambda s: [None], concurrent=lambda s, lv: s.workers, prompt_count=lambda s, q: q,
                     compares="total_ms", swept=False, article="threads"),
        ScenarioType("fixed", "random", "sequential", "loop",
                     levels=lambda s: [None], concurrent=lambda s, lv: 1, prompt_count=lambda s, q: s.requests,
                     compares="total_ms", swept=False, article=None),
        ScenarioType("sweep", "random", "wave", "threads",
                     levels=lambda s: list(s.concurrency), concurrent=lambda s, lv: lv,
                     prompt_count=lambda s, q: max(s.concurrency),
                     compares="output_tokens_per_s", swept=True, article=None),
        ScenarioType("open-loop", "random", "open_loop", "threads",
                     levels=lambda s: list(s.rates), concurrent=lambda s, lv: s.max_concurrency or s.requests,
                     prompt_count=lambda s, q: s.requests,
                     compares="output_tokens_per_s", swept=False, article=None,
                     level_fields=lambda s, lv: {"concurrency": None, "rate_per_s": lv}),
    ]
}
# fmt: on


def types_where(**values) -> list[str]:
    """Names of the scenario types whose fields have these values, in table order
    (``types_where(swept=True)``, ``types_where(section="loop")``); raises AttributeError for a
    field a ScenarioType does not have."""
    return [name for name, kind in TYPES.items() if all(getattr(kind, k) == v for k, v in values.items())]


def scenario_schema() -> dict:
    """The JSON schema of one scenario entry: `type` picks which keys apply."""
    return {
        "type": "object",
        "required": ["type"],
        "properties": {"type": {"type": "string", "enum": list(TYPES)}},
        "allOf": [
            {"if": {"properties": {"type": {"const": name}}, "required": ["type"]}, "then": kind.schema()}
            for name, kind in TYPES.items()
        ],
    }


assert {f.name for f in fields(Scenario)} == {"type", *KEYS}, "Scenario fields and KEYS must agree"
