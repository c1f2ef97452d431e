"""One benchmark run in its own process: load, measure, write, exit.

Started by :mod:`llmbench.launcher` as ``python -m llmbench.worker SPEC RESULT``.
It always ends with ``os._exit``: a process that loaded ftllm may never exit
by itself, and nothing after the result is written matters.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path

from . import provenance
from .backends import get_backend
from .backends.base import BackendUnavailable, LoadSettings, now
from .device import default_cpu_threads, resolve_device
from .io import read_json, write_json_atomic
from .sampler import PERIOD_S, ResourceSampler, process_memory
from .scenarios import levels, measure, scenario_prompts

SCHEMA_VERSION = 1


def validity_flags(result: dict) -> list[str]:
    """Conditions that make a run's numbers doubtful, though it completed."""
    flags = []
    resources = result.get("resources") or {}
    others = resources.get("other_gpu_processes_at_start")
    if others:
        pids = ", ".join(str(p["pid"]) for p in others)
        flags.append(f"other processes were on the GPU at start (pids {pids})")
    if resources.get("slowdown_reasons"):
        flags.append(f"GPU clocks slowed during measurement: {', '.join(resources['slowdown_reasons'])}")
    if result.get("status") == "invalid":
        flags.append("output lengths differ from what was asked")
    return flags


def output_tokens(measurement: dict) -> int:
    return sum(
        r["output_tokens"] for lv in levels(measurement) for rep in lv["repetitions"] for r in rep["requests"]
    )


def vocab_and_context(model_dir: str) -> tuple[int, int | None]:
    config = read_json(Path(model_dir) / "config.json")
    return config["vocab_size"], config.get("max_position_embeddings")


def run(spec: dict) -> dict:
    result = {"schema_version": SCHEMA_VERSION, "run": spec["run"], "spec": spec}
    sampler = None
    try:
        backend_cls = get_backend(spec["backend"])
        result["provenance"] = provenance.collect(spec["workflow_dir"], backend_cls.packages)
        manifest = read_json(spec["manifest"])
        result["model_manifest"] = {k: manifest[k] for k in ("sha256", "source", "details", "total_bytes")}
        device = resolve_device(spec["device"])
        settings = LoadSettings(
            model_dir=spec["model_dir"],
            artifact=spec["artifact"],
            device=device,
            dtype=spec["dtype"],
            cpu_threads=spec.get("cpu_threads") or default_cpu_threads(),
            options=spec.get("backend_options", {}),
        )
        result["device"] = device
        result["cpu_threads"] = settings.cpu_threads
        # Prompts and the context check come before loading: a run that cannot fit
        # fails at once instead of after reading gigabytes of weights.
        for what in ("model_dir", "artifact"):
            if not Path(spec[what]).exists():
                raise FileNotFoundError(f"{spec[what]} is missing (deleted after it was prepared?)")
        scenario = spec["scenario"]
        vocab_size, context = vocab_and_context(spec["model_dir"])
        prompts = scenario_prompts(scenario, read_json(spec["prompts_ids"])["prompt_ids"], vocab_size)
        longest = max(len(p) for p in prompts) + scenario["output_tokens"]
        if context and longest > context:
            raise ValueError(f"prompt + output = {longest} tokens exceeds the model's context of {context}")
        backend = backend_cls(settings)
        sampler = ResourceSampler(spec.get("sample_period_s", PERIOD_S))
        sampler.start()  # baseline: before any library or weight is loaded
        started = now()
        backend.import_libraries()
        result["import_s"] = now() - started
        started = now()
        backend.load()
        result["load_s"] = now() - started
        sampler.mark("load_end")
        result["backend_info"] = backend.describe()
        measurement = measure(backend, prompts, scenario, sampler.window_start, sampler.window_end)
        result["measurement"] = measurement
        result["memory"] = {**backend.memory(), **process_memory()}
        result["status"] = "ok" if measurement["valid"] else "invalid"
        backend.close()
    except BackendUnavailable as error:
        result.update(status="failed", reason=f"backend unavailable: {error}")
    except Exception as error:  # recorded, not raised: the record is the product
        result.update(
            status="failed", reason=f"{type(error).__name__}: {error}", traceback=traceback.format_exc()
        )
    finally:
        if sampler is not None:
            result["resources"] = sampler.stop()
    energy = result.get("resources", {}).get("energy_j")
    if energy is not None and "measurement" in result:
        result["resources"]["energy_j_per_output_token"] = energy / output_tokens(result["measurement"])
    result["validity"] = {"flags": validity_flags(result)}
    return result


def main(argv: list[str]) -> None:
    spec_path, result_path = argv
    result = run(read_json(spec_path))
    write_json_atomic(result_path, result)
    if result["status"] == "failed":
        print(f"run failed: {result['reason']}", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
