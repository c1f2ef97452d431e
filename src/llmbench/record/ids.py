"""Run keys and run ids: one way to print and parse each."""

from __future__ import annotations

import re
from dataclasses import dataclass

_NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]*"
# A runner: a backend, or a backend on quantized weights ("llamacpp+Q4_K_M").
_RUNNER = rf"{_NAME}(?:\+{_NAME})?"
_RUN_ID = re.compile(rf"^({_NAME})/({_RUNNER})/({_NAME})/(\d+)$")
WEIGHTS_SEPARATOR = "+"


def runner_name(backend: str, weights: str | None) -> str:
    """The path segment of a backend on `weights` (None: the model's own dtype): ``fastllm``,
    ``fastllm+int4``."""
    return backend if weights is None else f"{backend}{WEIGHTS_SEPARATOR}{weights}"


def split_runner(runner: str) -> tuple[str, str | None]:
    """Inverse of runner_name: (backend, weights or None); raises ValueError for anything else."""
    if not re.fullmatch(_RUNNER, runner):
        raise ValueError(f"not a backend or backend+weights: {runner!r}")
    backend, _, weights = runner.partition(WEIGHTS_SEPARATOR)
    return backend, weights or None


@dataclass(frozen=True)
class RunKey:
    """One run configuration: a model, a backend, a scenario (all replicas of it), and the
    weights the backend runs (None: the model's dtype; else a format of models.precision)."""

    model: str
    backend: str
    scenario: str
    weights: str | None = None

    @property
    def runner(self) -> str:
        """The backend as the results name it: ``fastllm`` or ``fastllm+int4``."""
        return runner_name(self.backend, self.weights)

    @classmethod
    def of_runner(cls, model: str, runner: str, scenario: str) -> RunKey:
        """The key of `runner` (``backend`` or ``backend+weights``); raises ValueError."""
        backend, weights = split_runner(runner)
        return cls(model, backend, scenario, weights)

    def _order(self) -> tuple:
        return (self.model, self.backend, self.scenario, self.weights or "")

    def __lt__(self, other: RunKey) -> bool:
        return self._order() < other._order()

    def __str__(self) -> str:
        return f"{self.model}/{self.runner}/{self.scenario}"

    @classmethod
    def parse(cls, text: str) -> RunKey:
        """Inverse of str(); raises ValueError for anything else."""
        parts = text.split("/")
        if len(parts) != 3 or not re.fullmatch(rf"{_NAME}/{_RUNNER}/{_NAME}", text):
            raise ValueError(f"not a run key (model/backend[+weights]/scenario): {text!r}")
        return cls.of_runner(*parts)

    def replica(self, index: int) -> RunId:
        """Replica `index` of this configuration."""
        return RunId(self, index)


@dataclass(frozen=True, order=True)
class RunId:
    """One replica (one fresh process) of a run configuration."""

    key: RunKey
    replica: int

    def __str__(self) -> str:
        return f"{self.key}/{self.replica}"

    @classmethod
    def parse(cls, text: str) -> RunId:
        """Inverse of str(): ``model/backend/scenario/replica``; raises ValueError."""
        match = _RUN_ID.match(text)
        if not match:
            raise ValueError(f"not a run id (model/backend/scenario/replica): {text!r}")
        return cls(RunKey.of_runner(*match.group(1, 2, 3)), int(match.group(4)))

    def path(self, root: str = "results/runs") -> str:
        """Where the workflow keeps this run's record."""
        return f"{root}/{self}.json"
