"""The one interface every inference backend implements.

A backend loads one model on one device and generates exactly the number of
tokens asked for, stamping the moment each token becomes available on the host.
Everything else (scenarios, statistics, isolation, reports) is backend-agnostic.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import ClassVar


class BackendUnavailable(RuntimeError):
    """The backend cannot run as asked (missing library, wrong device, ...)."""


@dataclass
class LoadSettings:
    model_dir: str  # the acquired HF-format folder
    artifact: str  # what this backend loads: model_dir itself or a converted file
    device: str  # "cpu" or "cuda" (already resolved from "auto")
    dtype: str
    cpu_threads: int
    options: dict = field(default_factory=dict)  # backend-specific settings from config


@dataclass
class Generation:
    output_ids: list[int]
    start: float  # perf_counter() when the request was submitted
    token_times: list[float]  # perf_counter() when each output token was available
    end: float


class Backend(ABC):
    # Which artifact the backend loads: "hf" (the folder transformers loads
    # natively), "source" (the checkpoint as acquired) or "fastllm" (the
    # converted .flm file). Rules use this to wire inputs.
    artifact_kind: ClassVar[str] = "hf"
    # backend_options the config must set for this backend to run at all.
    required_options: ClassVar[dict] = {}
    # Packages whose versions are recorded with every result.
    packages: ClassVar[tuple[str, ...]] = ()

    def __init__(self, settings: LoadSettings):
        self.settings = settings

    def import_libraries(self) -> None:
        """Import the backend's libraries; timed apart from load() so that load
        time means reading the model, not starting Python packages."""

    @abstractmethod
    def load(self) -> None: ...

    @abstractmethod
    def generate(self, prompt_ids: list[int], output_tokens: int) -> Generation:
        """Greedy decoding of exactly `output_tokens` tokens, EOS ignored."""

    def generate_batch(self, prompts: list[list[int]], output_tokens: int) -> list[Generation]:
        """All prompts at once. By default one thread per prompt, which is true batching
        for engines that batch concurrent requests themselves (FastLLM); backends with
        an explicit batch API override this."""
        with ThreadPoolExecutor(max_workers=len(prompts)) as pool:
            return list(pool.map(lambda p: self.generate(p, output_tokens), prompts))

    def describe(self) -> dict:
        """Facts about how this backend runs (library, threads, ...)."""
        return {}

    def memory(self) -> dict:
        """The backend's own view of its device memory, in bytes (may be empty)."""
        return {}

    def close(self) -> None:
        """Release what load() took; called before the process ends."""


def now() -> float:
    return time.perf_counter()
