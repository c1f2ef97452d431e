"""One benchmark run in its own process: load, measure, write, exit.

Started by :mod:`llmbench.measure.launcher` as ``python -m llmbench.measure.worker SPEC RESULT``.
It always ends with ``os._exit``: a process that loaded ftllm may never exit
by itself, and nothing after the result is written matters.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path


def _preload_native_libraries() -> None:
    """A backend's native libraries before anything imports numpy (backends.preload)."""
    if __name__ != "__main__" or len(sys.argv) < 2:
        return
    import json

    from ..backends import preload

    try:
        backend = json.loads(Path(sys.argv[1]).read_text())["run"].split("/")[1].partition("+")[0]
    except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError):
        return  # not a spec: the worker's own checks report it
    preload(backend)


_preload_native_libraries()

from ..backends import get_backend, make_options  # noqa: E402
from ..backends.base import BackendUnavailable, LoadSettings  # noqa: E402
from ..clock import now  # noqa: E402
from ..io import read_json  # noqa: E402
from ..record import RunRecord, RunSpec, write_record  # noqa: E402
from . import host, provenance  # noqa: E402
from .device import default_cpu_threads, resolve_device  # noqa: E402
from .levels import first_pass_outliers, measure, pass_spread, scenario_prompts, unbatched_steps  # noqa: E402
from .sampler import PERIOD_S, SamplerError, SamplerProcess, process_memory  # noqa: E402

STEAL_PCT = 5  # the hypervisor took this share of the host's CPU time or more: CPU figures are not the host's
SLOWDOWN_SHARE = 0.05  # a reason seen in one 50 ms sample of a 10 s window is no slowdown of the run


def slowdowns(resources) -> str:
    """The clock slowdowns that held for at least SLOWDOWN_SHARE of the window, each with its share
    ("sw_power_cap 40 %"); a record without shares names every reason seen. "" for none."""
    if not resources.slowdown_share:
        return ", ".join(resources.slowdown_reasons)
    return ", ".join(
        f"{name} {round(100 * share)} %"
        for name, share in resources.slowdown_share.items()
        if share >= SLOWDOWN_SHARE
    )


def steal_flags(resources, levels: list) -> list[dict]:
    """One flag per level whose visits lost STEAL_PCT % or more of the host's CPU time to the
    hypervisor (the largest share of its segments; segments in visit order: level i's are i and,
    visited there and back, 2 x levels - 1 - i)."""
    count, worst = len(resources.segments), {}
    if count not in (len(levels), 2 * len(levels)):
        return []
    for j, segment in enumerate(resources.segments):
        steal = (segment.get("host") or {}).get("steal_pct")
        index = j if j < len(levels) else count - 1 - j
        if steal is not None and steal >= STEAL_PCT:
            worst[index] = max(worst.get(index, 0.0), steal)
    return [
        {"code": "host_steal", "pct": round(steal), "concurrency": levels[index].concurrency}
        for index, steal in sorted(worst.items())
    ]


def validity_flags(record: RunRecord) -> list[dict]:
    """Conditions that make a run's numbers doubtful, though it completed: each a
    code and its values (the report words them in its language, record.flag_text in English)."""
    flags: list[dict] = []
    resources = record.resources
    if resources is not None:
        if resources.other_gpu_processes_at_start:
            pids = ", ".join(str(p["pid"]) for p in resources.other_gpu_processes_at_start)
            flags.append({"code": "other_gpu_processes", "pids": pids})
        if slowed := slowdowns(resources):
            flags.append({"code": "gpu_slowdown", "reasons": slowed})
        flags += steal_flags(resources, record.measurement.levels if record.measurement else [])
    if record.status == "invalid":
        flags.append({"code": "invalid_lengths"})
    if record.measurement is not None:
        if record.spec.scenario.warmup_passes == 0:
            flags.append({"code": "cold"})
        flags += first_pass_outliers(record.measurement)
        flags += pass_spread(record.measurement)
        flags += unbatched_steps(record.measurement)
    return flags


def vocab_and_context(model_dir: str) -> tuple[int, int | None]:
    """vocab_size and max_position_embeddings (None if absent) from `model_dir`'s config.json;
    raises KeyError without vocab_size."""
    config = read_json(Path(model_dir) / "config.json")
    return config["vocab_size"], config.get("max_position_embeddings")


class _Window:
    """The measured window: the sampler's segment, and the backend's peak counters reset once."""

    def __init__(self, sampler: SamplerProcess, backend):
        self.sampler, self.backend, self.opened = sampler, backend, False

    def open(self) -> None:
        if not self.opened:
            self.backend.reset_peak_memory()
            self.opened = True
        self.sampler.open()

    def close(self) -> None:
        self.sampler.close()


def _prompts(spec: RunSpec) -> list[list[int]]:
    """The scenario's prompt ids, checked against the model's context before anything loads."""
    for what in ("model_dir", "artifact"):
        if not Path(getattr(spec, what)).exists():
            raise FileNotFoundError(f"{getattr(spec, what)} is missing (deleted after it was prepared?)")
    vocab_size, context = vocab_and_context(spec.model_dir)
    queries = read_json(spec.prompts_ids)["prompt_ids"] if spec.prompts_ids else []
    prompts = scenario_prompts(spec.scenario, queries, vocab_size)
    longest = max(len(p) for p in prompts) + spec.scenario.output_tokens
    if context and longest > context:
        raise ValueError(f"prompt + output = {longest} tokens exceeds the model's context of {context}")
    return prompts


def _stop(sampler: SamplerProcess, record: RunRecord):
    """The sampler's Resources; None, and the record failed with the reason, where they could not be had
    (the figures of a run whose resources are unknown are not published as ok). Never raises: the record
    is written whatever the sampler did."""
    try:
        return sampler.stop()
    except Exception as error:  # SamplerError, or a bug: either way the record names it
        if record.status != "failed":
            what = "" if isinstance(error, SamplerError) else f"{type(error).__name__}: "
            record.status, record.reason = "failed", f"resource sampler: {what}{error}"
        return None


def run(spec: RunSpec, cache_dir: str | None = None) -> RunRecord:
    """Measure `spec` in this process; every outcome is a record (failures included), never an exception."""
    record = RunRecord(run=spec.run, spec=spec, status="failed")
    sampler = None
    try:
        backend_cls = get_backend(spec.run.key.backend)
        record.provenance = provenance.collect(spec.workflow_dir, backend_cls.packages)
        manifest = read_json(spec.manifest)
        record.model_manifest = {k: manifest[k] for k in ("sha256", "source", "details", "total_bytes")}
        record.device = resolve_device(spec.device)
        settings = LoadSettings(
            model_dir=spec.model_dir,
            artifact=spec.artifact,
            device=record.device,
            dtype=spec.dtype,
            cpu_threads=spec.cpu_threads or default_cpu_threads(),
            options=make_options(spec.run.key.backend, spec.backend_options),
            cache_dir=cache_dir,
            weights=spec.weights,
        )
        record.cpu_threads = settings.cpu_threads
        prompts = _prompts(spec)  # before loading: a run that cannot fit fails at once
        backend = backend_cls(settings)
        record.host = {"canary_ms": host.canary_ms()}  # the same fixed work in every process
        sampler = SamplerProcess(spec.sample_period_s or PERIOD_S)
        sampler.start()  # baseline: before any library or weight is loaded
        if record.device == "cuda":
            record.gpu = sampler.gpu
        started = now()
        backend.import_libraries()
        record.import_s = now() - started
        started = now()
        backend.load()
        record.load_s = now() - started
        for pid in backend.processes():
            sampler.follow(pid)
        sampler.mark("load_end")
        record.measurement = measure(backend, prompts, spec.scenario, _Window(sampler, backend))
        record.backend_info = {**backend.describe(), "concurrency_means": dict(backend_cls.concurrency_means)}
        record.memory = {**backend.memory(), **process_memory()}
        record.status = "ok" if record.measurement.valid else "invalid"
        backend.close()
    except BackendUnavailable as error:
        record.status, record.reason = "failed", f"backend unavailable: {error}"
    except Exception as error:  # recorded, not raised: the record is the product
        record.status, record.reason = "failed", f"{type(error).__name__}: {error}"
        record.traceback = traceback.format_exc()
    finally:
        if sampler is not None:
            record.resources = _stop(sampler, record)
    record.validity_flags = validity_flags(record)
    return record


def main(argv: list[str]) -> None:
    """`argv`: SPEC RESULT [CACHE_DIR]. Runs the spec, writes the record to RESULT, says on stderr if the
    run failed, then ends the process with os._exit(0) whatever the outcome."""
    spec_path, result_path, *rest = argv
    record = run(RunSpec.from_dict(read_json(spec_path)), cache_dir=rest[0] if rest else None)
    write_record(result_path, record)
    if record.status == "failed":
        print(f"run failed: {record.reason}", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
