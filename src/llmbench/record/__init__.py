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

from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any, Literal

from .ids import RunId, RunKey, runner_name, split_runner
from .measurement import Level, Measurement, Pass, Request, Resources, StopReason

if TYPE_CHECKING:
    from ..scenario_types import Scenario

SCHEMA_VERSION = 2
Status = Literal["ok", "invalid", "failed"]
__all__ = [
    "SCHEMA_VERSION",
    "Level",
    "Measurement",
    "Pass",
    "Request",
    "Resources",
    "RunId",
    "RunKey",
    "RunRecord",
    "RunSpec",
    "Status",
    "StopReason",
    "flag_text",
    "read_record",
    "runner_name",
    "split_runner",
    "write_record",
]


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
    prompts_ids: str | None  # the tokenized queries; None for a scenario of random ids
    workflow_dir: str
    weights: str | None = None  # a quantized format of models.precision; None: the dtype's own
    bits_per_weight: float | None = None  # stored bits per weight, scales included

    def to_dict(self) -> dict:
        """As JSON-ready data: the run id as text, the scenario as its settings."""
        return {**asdict(self), "run": str(self.run), "scenario": self.scenario.to_dict()}

    @classmethod
    def from_dict(cls, data: dict) -> RunSpec:
        """Inverse of to_dict()."""
        from ..scenario_types import Scenario

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
    host: dict = field(default_factory=dict)  # canary_ms: measure.host's fixed work, before loading
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
        """The run configuration this replica belongs to."""
        return self.run.key

    @property
    def scenario(self) -> Scenario | None:
        """The spec's scenario; None for a record without spec."""
        return self.spec.scenario if self.spec else None

    @classmethod
    def failure(cls, run: RunId, spec: RunSpec | None, reason: str, **details: Any) -> RunRecord:
        """A failed record with `reason`; `details` set other fields (exit_code, log_tail, ...)."""
        return cls(run=run, spec=spec, status="failed", reason=reason, **details)

    # -- JSON --------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """As JSON-ready data, the run id and spec included."""
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
    "host_steal": "the hypervisor stole {pct} % of the host's CPU time during measurement{where}",
    "invalid_lengths": "output lengths differ from what was asked",
    "cold": "cold: no warm-up pass, so first-call costs (compilation, weight upload) are in the numbers",
    "first_pass_slower": "the first measured pass{where} was {pct} % slower than the median of the others: "
    "warm-up did not warm it",
    "first_pass_faster": "the first measured pass{where} was {pct} % faster than the median of the others",
    "passes_disagree": "passes{where} disagree: the fastest ({fastest} tok/s) is {ratio}x the slowest "
    "({slowest} tok/s); no mean describes them",
    "steps_not_batched": "{passes} of {of} passes{where} took decode steps {ratio}x the batch-1 step: no gain "
    "from batching (stepped one after another, or a compute-bound device)",
    "where_concurrency": " (concurrency {concurrency})",
}


def flag_text(flag: dict, templates: dict = FLAGS) -> str:
    """A validity flag in words (English by default; the report passes its language's templates).
    `{where}` names the flag's concurrency level, and is empty for a scenario without levels."""
    level = flag.get("concurrency")
    where = "" if level in (None, "–") else templates["where_concurrency"].format(concurrency=level)
    return templates[flag["code"]].format(**{**flag, "where": where})


def _default(f):
    if f.default_factory is not MISSING:
        return f.default_factory()
    return None if f.default is MISSING else f.default


def _measurement(data: dict) -> Measurement:
    levels = [
        Level(
            **{
                **lv,
                "passes": [
                    Pass(p["total_ms"], [Request(**r) for r in p["requests"]], p.get("client_cpu_s"))
                    for p in lv["passes"]
                ],
            }
        )
        for lv in data["levels"]
    ]
    return Measurement(
        prompts=data["prompts"], levels=levels, invalid_reasons=data.get("invalid_reasons", [])
    )


def read_record(path) -> RunRecord:
    """The run record in the JSON file `path`; raises ValueError for another schema version."""
    from ..io import read_json

    return RunRecord.from_dict(read_json(path))


def write_record(path, record: RunRecord) -> None:
    """Write `record` to `path` as JSON, atomically."""
    from ..io import write_json_atomic

    write_json_atomic(path, record.to_dict())
