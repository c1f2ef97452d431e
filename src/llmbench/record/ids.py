"""Run keys and run ids: one way to print and parse each."""

from __future__ import annotations

import re
from dataclasses import dataclass

_NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]*"
_RUN_ID = re.compile(rf"^({_NAME})/({_NAME})/({_NAME})/(\d+)$")


@dataclass(frozen=True, order=True)
class RunKey:
    """One run configuration: a model, a backend, a scenario (all replicas of it)."""

    model: str
    backend: str
    scenario: str

    def __str__(self) -> str:
        return f"{self.model}/{self.backend}/{self.scenario}"

    @classmethod
    def parse(cls, text: str) -> RunKey:
        """Inverse of str(); raises ValueError for anything else."""
        parts = text.split("/")
        if len(parts) != 3 or not all(re.fullmatch(_NAME, p) for p in parts):
            raise ValueError(f"not a run key (model/backend/scenario): {text!r}")
        return cls(*parts)

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
        return cls(RunKey(*match.group(1, 2, 3)), int(match.group(4)))

    def path(self, root: str = "results/runs") -> str:
        """Where the workflow keeps this run's record."""
        return f"{root}/{self}.json"
