"""The run record: what one benchmark process measured, typed, with one way to write and read it.

A run is one backend x one scenario on one model, in one fresh process: a
*replica*. Every module that writes or reads a run record - the worker, the
launcher's failure records, the summary, the agreement check, the plots, the
report, the tests - goes through these classes; nobody builds or parses the
JSON by hand. `RunKey` names a run configuration (model, backend, scenario),
`RunId` one replica of it, each with one way to print and parse.

Times inside a pass are in milliseconds since the pass began; `*_s` fields are
seconds; `*_bytes` bytes.
"""

from __future__ import annotations

import re
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from .scenario_types import Scenario

SCHEMA_VERSION = 2
Status = Literal["ok", "invalid", "failed"]
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

    @property
    def output_tokens(self) -> int:
        return len(self.output_ids)

    @property
    def tpot_ms(self) -> float | None:
        """Mean time per output token after the first (decode), ms."""
        return sum(self.itl_ms) / len(self.itl_ms) if self.itl_ms else None


@dataclass
class Pass:
    """One measured pass over a scenario's prompts (or one concurrency level's wave)."""

    total_ms: float
    requests: list[Request]

    @property
    def output_tokens(self) -> int:
        return sum(r.output_tokens for r in self.requests)

    @property
    def prompt_tokens(self) -> int:
        return sum(r.prompt_tokens for r in self.requests)

    @property
    def output_tokens_per_s(self) -> float:
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


@dataclass
class Measurement:
    prompts: list[list[int]]
    levels: list[Level]
    invalid_reasons: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.invalid_reasons

    @property
    def output_tokens(self) -> int:
        """Output tokens of every measured pass: what energy and CPU time are divided by."""
        return sum(p.output_tokens for level in self.levels for p in level.passes)

    def passes(self) -> list[Pass]:
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

    def snapshot(self, event: str, key: str) -> Any:
        return (self.snapshots.get(event) or {}).get(key)


@dataclass
class RunSpec:
    """What a worker is told to do. Everything that shapes the numbers is here
    (and in the rule's params, so that a change reruns the run)."""

    run: RunId
    scenario: Scenario
    device: str
    dtype: str
    cpu_threads: int | None
    backend_options: dict
    sample_period_s: float
    timeout_s: float
    model_dir: str
    artifact: str
    manifest: str
    prompts_ids: str
    workflow_dir: str

    def to_dict(self) -> dict:
        return {**asdict(self), "run": str(self.run), "scenario": self.scenario.to_dict()}

    @classmethod
    def from_dict(cls, data: dict) -> RunSpec:
        from .scenario_types import Scenario

        return cls(
            **{**data, "run": RunId.parse(data["run"]), "scenario": Scenario.from_dict(data["scenario"])}
        )


@dataclass
class RunRecord:
    """One replica's record: a measurement with everything needed to trust it, or a failure."""

    run: RunId
    spec: RunSpec | None
    status: Status
    reason: str | None = None
    device: str | None = None
    cpu_threads: int | None = None
    provenance: dict = field(default_factory=dict)
    model_manifest: dict = field(default_factory=dict)
    gpu: dict | None = None  # nvml.device_facts() of the GPU the run used (UUID: the roofline's check)
    import_s: float | None = None
    load_s: float | None = None
    backend_info: dict = field(default_factory=dict)
    measurement: Measurement | None = None
    memory: dict = field(default_factory=dict)  # the backend's own view (torch), bytes
    resources: Resources | None = None
    validity_flags: list[dict] = field(default_factory=list)  # {"code": ..., values}: see flag_text
    exit_code: int | None = None
    log_tail: str | None = None
    traceback: str | None = None
    schema_version: int = SCHEMA_VERSION

    @property
    def key(self) -> RunKey:
        return self.run.key

    @property
    def scenario(self) -> Scenario | None:
        return self.spec.scenario if self.spec else None

    @classmethod
    def failure(cls, run: RunId, spec: RunSpec | None, reason: str, **details: Any) -> RunRecord:
        return cls(run=run, spec=spec, status="failed", reason=reason, **details)

    # -- JSON --------------------------------------------------------------------------
    def to_dict(self) -> dict:
        data = asdict(self)
        data["run"] = str(self.run)
        data["spec"] = self.spec.to_dict() if self.spec is not None else None
        return data

    @classmethod
    def from_dict(cls, data: dict) -> RunRecord:
        """Raises ValueError for a record of another schema version."""
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ValueError(
                f"run record {data.get('run')!r} has schema version {version}, this llmbench reads "
                f"{SCHEMA_VERSION}: rerun it (delete the file) or use the llmbench that wrote it"
            )
        values = {f.name: data.get(f.name, _default(f)) for f in fields(cls)}
        values["run"] = RunId.parse(data["run"])
        values["spec"] = RunSpec.from_dict(data["spec"]) if data.get("spec") else None
        values["measurement"] = _measurement(data["measurement"]) if data.get("measurement") else None
        values["resources"] = Resources(**data["resources"]) if data.get("resources") else None
        return cls(**values)


FLAGS = {
    "other_gpu_processes": "other processes were on the GPU at start (pids {pids})",
    "gpu_slowdown": "GPU clocks slowed during measurement: {reasons}",
    "invalid_lengths": "output lengths differ from what was asked",
    "cold": "cold: no warm-up pass, so first-call costs (compilation, weight upload) are in the numbers",
    "first_pass_slower": "the first measured pass (concurrency {concurrency}) was {pct} % slower than the median of "
    "the others: warm-up did not warm it",
    "first_pass_faster": "the first measured pass (concurrency {concurrency}) was {pct} % faster than the median of "
    "the others",
}


def flag_text(flag: dict, templates: dict = FLAGS) -> str:
    """A validity flag in words (English by default; the report passes its language's templates)."""
    return templates[flag["code"]].format(**flag)


def _default(f):
    if f.default_factory is not MISSING:
        return f.default_factory()
    return None if f.default is MISSING else f.default


def _measurement(data: dict) -> Measurement:
    levels = [
        Level(
            **{
                **lv,
                "passes": [Pass(p["total_ms"], [Request(**r) for r in p["requests"]]) for p in lv["passes"]],
            }
        )
        for lv in data["levels"]
    ]
    return Measurement(
        prompts=data["prompts"], levels=levels, invalid_reasons=data.get("invalid_reasons", [])
    )


def read_record(path) -> RunRecord:
    from .io import read_json

    return RunRecord.from_dict(read_json(path))


def write_record(path, record: RunRecord) -> None:
    from .io import write_json_atomic

    write_json_atomic(path, record.to_dict())
