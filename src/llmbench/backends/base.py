"""The one interface every inference backend implements.

A backend loads one model on one device and generates exactly the number of
tokens asked for, greedily, with EOS masked, stamping the moment each token
exists. Everything else (scenarios, statistics, isolation, reports) is
backend-agnostic: adding a backend is one module here, one env file and, if it
loads its own format, one conversion rule.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar


class BackendUnavailable(RuntimeError):
    """The backend cannot run as asked (missing library, wrong device, ...)."""


def option(default: Any, help: str, schema: dict, caps_tokens: bool = False) -> Any:
    """A backend option: its default, what it means, and its JSON schema (for the config check).
    `caps_tokens`: its value (tokens) bounds a request's prompt + output, so the workflow refuses
    a scenario past it before anything runs (see token_caps)."""
    return field(default=default, metadata={"help": help, "schema": schema, "caps_tokens": caps_tokens})


def token_caps(options) -> dict[str, int]:
    """Option name -> tokens, for the options of an Options instance marked `caps_tokens`."""
    return {f.name: getattr(options, f.name) for f in fields(options) if f.metadata.get("caps_tokens")}


@dataclass(frozen=True)
class NoOptions:
    """A backend without options."""


def options_schema(options: type) -> dict:
    """JSON schema of `backend_options.<name>` from a backend's Options dataclass."""
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            f.name: {**f.metadata["schema"], "description": f.metadata["help"], "default": f.default}
            for f in fields(options)
            if f.default is not MISSING
        },
    }


@dataclass
class LoadSettings:
    """What a backend is asked to load, and where."""

    model_dir: str  # the HF-format folder transformers loads
    artifact: str  # what this backend loads: model_dir itself or a converted file
    device: str  # "cpu" or "cuda" (already resolved from "auto")
    dtype: str  # float32, float16 or bfloat16
    cpu_threads: int
    options: Any = field(default_factory=NoOptions)  # the backend's Options instance
    cache_dir: str | None = None  # a folder shared by runs for compile caches
    weights: str | None = None  # a quantized format of models.precision; None: `dtype` weights


@dataclass
class Generation:
    """One request's result: output ids and perf_counter() stamps (seconds)."""

    output_ids: list[int]
    start: float  # when the backend started on the request (after any lock it takes)
    token_times: list[float]  # when each output token existed (host or device clock, see backend)
    end: float
    counted_tokens: int | None = None  # output tokens as the engine counted them, where ids are not its own


class Backend(ABC):
    """A model loaded for inference.

    Lifecycle: ``import_libraries()``, ``load()``, then any number of
    ``generate``/``generate_batch`` calls (from several threads at once in the
    thread scenarios: a backend that cannot serve them concurrently must
    serialize them itself), ``describe()``, ``memory()``, ``close()``.
    Generation is greedy with no sampling, penalties or processors of the
    checkpoint's generation_config: the same neutral decoding for every backend.
    """

    # The backend's settings (`backend_options.<name>` in the config): a frozen dataclass.
    Options: ClassVar[type] = NoOptions
    # Which artifact it loads: "hf" (the folder transformers loads natively), "source"
    # (the checkpoint as acquired) or a converted file ("fastllm", "llamacpp").
    artifact_kind: ClassVar[str] = "hf"
    # Whether `models.<m>.weights` applies: the backend runs its artifact kind's quantized formats
    # (models.precision). A server the user's command starts loads the folder as it is: False.
    runs_weight_formats: ClassVar[bool] = True
    # backend_options the config must set for this backend to run at all.
    required_options: ClassVar[dict] = {}
    # The backend this one is the best use of (hf-compile: "hf"), or None; the report sets its
    # decode rate against the backend the article compared that one with.
    improves_on: ClassVar[str | None] = None
    # Packages whose versions are recorded with every result.
    packages: ClassVar[tuple[str, ...]] = ()
    # Whether describe() says on a GPU where the weights are (record.placement's keys): a record of
    # such a backend without them was written by code from before it did ("not recorded").
    reports_placement: ClassVar[bool] = False
    # Whether teacher_forced_logits() is implemented (the KL divergence of its quality cost).
    gives_logits: ClassVar[bool] = False
    # What "concurrent" (requests from several threads) and "batch" (generate_batch) meant for this
    # backend: keys of report/strings' concurrency_means, printed beside its concurrency figures.
    concurrency_means: ClassVar[dict[str, str]] = {"concurrent": "independent", "batch": "threads_per_prompt"}

    def __init__(self, settings: LoadSettings):
        self.settings = settings

    @property
    def options(self):
        """The backend's Options instance (`settings.options`)."""
        return self.settings.options

    @staticmethod
    def preload() -> None:
        """Load native libraries that must come before numpy's (the worker calls this first)."""

    def import_libraries(self) -> None:
        """Import the backend's libraries; timed apart from load() so that load
        time means reading the model, not starting Python packages."""

    @abstractmethod
    def load(self) -> None:
        """Load the model onto the device. Raises BackendUnavailable when it cannot
        run as asked (e.g. cuda asked for and only a CPU library present)."""

    @abstractmethod
    def generate(self, prompt_ids: list[int], output_tokens: int) -> Generation:
        """Greedy decoding of exactly `output_tokens` tokens after `prompt_ids`, EOS masked."""

    def generate_batch(self, prompts: list[list[int]], output_tokens: int) -> list[Generation]:
        """All prompts at once. By default one thread per prompt, which is true batching
        for engines that batch concurrent requests themselves (FastLLM); backends with
        an explicit batch API override this."""
        with ThreadPoolExecutor(max_workers=len(prompts)) as pool:
            return list(pool.map(lambda p: self.generate(p, output_tokens), prompts))

    def bare_generate(self, prompt_ids: list[int], output_tokens: int) -> list[int]:
        """The same generation the way a user would call the library, without
        llmbench's stamps: the baseline of benchmarks/harness_overhead.py."""
        return self.generate(prompt_ids, output_tokens).output_ids

    def teacher_forced_logits(self, ids: list[int]):
        """The next-token logits after every prefix of `ids` (numpy float32, len(ids) x vocab), in one
        forward pass over them; after load(). Raises NotImplementedError where gives_logits is False."""
        raise NotImplementedError(f"{type(self).__name__} gives no logits")

    def prepare(self, concurrency: int, sequence_tokens: int) -> None:
        """Called before a scenario's warm-up with the most requests it will have in flight at once and
        the longest prompt + output in tokens: a backend that sizes a context or a cache for them does
        it here, so that no warm-up or measured pass pays for it. Does nothing by default."""

    def counters(self) -> dict[str, int]:
        """The backend's own cumulative counts, read between passes (e.g. slots, context rebuilds, decode
        steps and the sequences they carried); each level records their increase over its warm-up and its
        measured passes, and their values at its end. Empty by default."""
        return {}

    def describe(self) -> dict:
        """Facts about how this backend ran (library, threads, token clock, ...);
        called after measuring, so achieved figures can be reported."""
        return {}

    def processes(self) -> list[int]:
        """PIDs of other processes doing this run's work (a served backend's server), measured with the
        worker's own by the resource sampler."""
        return []

    def memory(self) -> dict:
        """The backend's own view of its device memory, in bytes (may be empty)."""
        return {}

    def reset_peak_memory(self) -> None:
        """Start the backend's own peak-memory counters afresh (at the measured window)."""

    def close(self) -> None:
        """Release what load() took; called before the process ends."""


__all__ = ["Backend", "BackendUnavailable", "Generation", "LoadSettings", "NoOptions", "option"]
