"""Run records built through llmbench.record's own classes, for tests that need results
without running a model: the report, the summary, the tables, the property tests."""

from __future__ import annotations

import random

from conftest import REPO
from llmbench.record import Level, Measurement, Pass, Request, Resources, RunId, RunKey, RunRecord, RunSpec
from llmbench.scenario_types import Scenario

MIB = 2**20
PROVENANCE = {
    "cpu": "Test CPU",
    "python": "3.11",
    "platform": "Linux",
    "gpus": [],
    "packages": {"llmbench": "0.2.0", "torch": "2.13.0"},
    "workflow": {"commit": "abc123def456", "dirty": False, "code_sha256": "0" * 64},
}


def scenario(kind: str, **settings) -> Scenario:
    """A scenario of `kind` with the schema's defaults, as validation fills them in."""
    from llmbench.config import validate_config

    config = validate_config(
        {
            "models": {"m": {"source": "synthetic", "preset": "tiny"}},
            "scenarios": {"s": {"type": kind, **settings}},
        },
        REPO,
    )
    return Scenario.from_dict(config["scenarios"]["s"])


def spec(run: RunId, s: Scenario, device: str = "cpu") -> RunSpec:
    return RunSpec(
        run=run,
        scenario=s,
        device=device,
        dtype="float32",
        cpu_threads=1,
        backend_options={},
        sample_period_s=0.05,
        timeout_s=60,
        model_dir="m",
        artifact="m",
        manifest="m.json",
        prompts_ids="p.json",
        workflow_dir=str(REPO),
    )


def request(
    index: int, ttft: float, itl: list[float], submit: float = 0.0, prompt_tokens: int = 10
) -> Request:
    return Request(
        query_index=index,
        prompt_tokens=prompt_tokens,
        output_ids=list(range(len(itl) + 1)),
        submit_ms=submit,
        queue_ms=0.0,
        ttft_ms=ttft,
        e2e_ms=ttft + sum(itl),
        itl_ms=itl,
    )


def resources(gpu: bool, energy: bool = True, busy: float | None = 0.9, levels: int = 1) -> Resources:
    """What a sampler reports: one measured segment per level, each 1.2 s long (longer than NVML's
    averaging period), 0.25 CPU s and, on a GPU, 30 J at `busy`."""
    samples = {
        "t_s": [0.0, 0.5, 1.0],
        "rss_bytes": [100 * MIB, 300 * MIB, 310 * MIB],
        "gpu_process_bytes": [0, 500 * MIB, 12000 * MIB] if gpu else None,
        "gpu_used_bytes": [0, 600 * MIB, 12100 * MIB] if gpu else None,
        "gpu_util_pct": [None, 80, 95] if gpu else None,
    }
    reason = None if gpu else "NVML unavailable: NVML Shared Library Not Found"
    snapshot = {
        "load_end": {"gpu_process_bytes": 500 * MIB if gpu else None, "rss_bytes": 300 * MIB},
        "measure_start": {"gpu_process_bytes": 11800 * MIB if gpu else None, "rss_bytes": 305 * MIB},
    }
    return Resources(
        period_s=0.05,
        nvml_available=gpu,
        nvml_reason=reason,
        events_s={"load_end": 0.4, "measure_start": 0.6, "measure_end": 0.9},
        samples=samples,
        snapshots=snapshot,
        peak_rss_bytes=310 * MIB,
        peak_gpu_process_bytes=12000 * MIB if gpu else None,
        peak_gpu_used_bytes=12100 * MIB if gpu else None,
        gpu_process_reason=reason,
        window_s=1.2 * levels,
        energy_j=30.0 * levels if gpu and energy else None,
        energy_reason=reason if not gpu else (None if energy else "this GPU does not report total energy"),
        gpu_busy_fraction=busy if gpu else None,
        gpu_busy_reason=None if gpu else reason,
        cpu_s=0.25 * levels,
        slowdown_reasons=[],
        other_gpu_processes_at_start=[],
        segments=[
            {
                "window_s": 1.2,
                "cpu_s": 0.25,
                "energy_j": 30.0 if gpu and energy else None,
                "gpu_busy_fraction": busy if gpu else None,
                "gpu_util_samples": 24 if gpu else 0,
            }
            for _ in range(levels)
        ],
    )


def measurement(s: Scenario, speed: float, rng: random.Random, passes: int = 3) -> Measurement:
    """Passes whose timings scale with 1 / speed, with a little noise."""
    levels = []
    queries = 5 if s.kind.prompts == "queries" else s.kind.prompt_count(s, 5)
    for level in s.kind.levels(s):
        fields = {"concurrency": None, **s.kind.level_fields(s, level)}
        n = fields["concurrency"] or queries
        rate = fields.get("rate_per_s")
        made = []
        for _ in range(passes):
            requests = [
                request(
                    i,
                    20 / speed,
                    [max(0.01, rng.gauss(10 / speed, 0.3 / speed)) for _ in range(s.output_tokens - 1)],
                )
                for i in range(n)
            ]
            if rate:  # open loop: sent on a schedule of 1/rate gaps, on time
                for i, r in enumerate(requests):
                    r.submit_ms = r.scheduled_ms = 1000.0 * i / rate
            total = (
                sum(r.e2e_ms for r in requests)
                if s.kind.concurrent(s, level) == 1
                else max(r.e2e_ms for r in requests)
            )
            made.append(Pass(total_ms=total, requests=requests))
        levels.append(
            Level(
                **fields,
                warmup_passes=s.warmup_passes,
                passes=made,
                stop_reason="repetitions",
                headline_ci_pct=1.0,
                measured_s=0.1,
            )
        )
    prompts = [[5, 6, 7, 8, 9, 10, 11, 12, 13, 14]] * queries
    return Measurement(prompts=prompts, levels=levels)


def record(
    backend: str,
    name: str,
    s: Scenario,
    *,
    status: str = "ok",
    replica: int = 0,
    speed: float = 1.0,
    gpu: bool = False,
    energy: bool = True,
    seed: int = 0,
    model: str = "tiny",
) -> RunRecord:
    """One replica's record: ok, invalid (a wrong length), or failed."""
    run = RunId(RunKey(model, backend, name), replica)
    device = "cuda" if gpu else "cpu"
    base = RunRecord(
        run=run,
        spec=spec(run, s, device),
        status="failed",
        device=device,
        cpu_threads=1,
        provenance=PROVENANCE,
        model_manifest={"sha256": "f" * 64},
        host={"canary_ms": 40.0},  # the worker times it before loading, in every process
    )
    if status == "failed":
        base.reason = "OutOfMemoryError: CUDA out of memory (simulated)"
        base.resources = resources(gpu, energy)
        return base
    base.status = status
    base.measurement = measurement(s, speed, random.Random(seed))
    if status == "invalid":
        request = base.measurement.levels[0].passes[0].requests[0]
        request.output_ids = request.output_ids[:-1]
        base.measurement.invalid_reasons = ["pass 0 query 0: 1 output tokens fewer than asked"]
        base.validity_flags = [{"code": "invalid_lengths"}]
    base.load_s, base.import_s = 1.5, 2.0
    base.resources = resources(gpu, energy, levels=len(base.measurement.levels))
    base.memory = {"torch_max_allocated_bytes": 11000 * MIB} if gpu and backend.startswith("hf") else {}
    base.backend_info = {"token_clock_resolution_ms": 0.58} if backend == "fastllm" else {"torch_threads": 1}
    base.gpu = {"name": "NVIDIA Test GPU", "uuid": "GPU-test"} if gpu else None
    return base


def render_all(
    records: list[RunRecord],
    folder,
    scenarios: dict[str, Scenario],
    language: str = "zh",
    reference_backend: str = "hf",
    article: bool = True,
    reference=None,
    plots: bool = True,
    bandwidth: dict | None = None,
    manifest: dict | None = None,
) -> dict:
    """Summary -> tables -> plots -> report, in this process, as the workflow's rules chain them.
    Returns the paths written and the report's Markdown."""
    import pandas as pd

    from llmbench.analyze.agreement import agreement_table
    from llmbench.analyze.summary import read_summary, summary_table
    from llmbench.analyze.tables import resources_table, roofline_table
    from llmbench.report.plots.model import plot_latency, plot_memory, plot_resources
    from llmbench.report.plots.scenario import plot_scenario
    from llmbench.report.render import Inputs, write_report
    from llmbench.report.strings import load_strings

    folder.mkdir(parents=True, exist_ok=True)
    summary_table(records).to_csv(folder / "summary.csv", index=False)
    summary = read_summary(folder / "summary.csv")
    models = {
        m: {"parameters": 887424, "parameter_bytes": 3549696, "decode_bytes": 2501632, "dtype": "float32"}
        for m in {r.key.model for r in records}
    }
    bandwidth = bandwidth or {
        "device": "cpu",
        "available": True,
        "name": "cpu",
        "bytes_per_s": 3.3e10,
        "uuid": None,
    }
    roofline = roofline_table(summary, records, models, bandwidth)
    resources = resources_table(summary, models, bandwidth, records)
    agreement = agreement_table(records, reference_backend, None)
    t = load_strings(language)
    paths = []
    if plots:
        (folder / "plots").mkdir(exist_ok=True)
        for name in scenarios:
            paths.append(folder / "plots" / f"{name}.png")
            plot_scenario(summary, name, str(paths[-1]), t)
        for model in models:
            (folder / "plots" / model).mkdir(exist_ok=True)
            mine = [r for r in records if r.key.model == model]
            paths.append(folder / "plots" / model / "latency.png")
            plot_latency(mine, summary, str(paths[-1]), t)
            paths.append(folder / "plots" / model / "memory.png")
            plot_memory(mine, str(paths[-1]), t)
            paths.append(folder / "plots" / model / "resources.png")
            plot_resources(
                resources[resources.model == model],
                roofline[roofline.model == model],
                model,
                str(paths[-1]),
                t,
            )
    manifest = manifest or {"source": {"source": "synthetic", "preset": "tiny"}, "details": {}}
    manifests = {m: {**manifest, "sha256": "a" * 64, "total_bytes": 3549696} for m in models}
    inputs = Inputs(
        summary=summary,
        records=records,
        manifests=manifests,
        models=models,
        roofline=roofline,
        resources=resources,
        agreement=agreement if len(agreement) else pd.DataFrame(),
        bandwidth=bandwidth,
        plots=[str(p.relative_to(folder)) for p in paths],
        settings={
            "language": language,
            "title": None,
            "reference": None,
            "article": str(REPO / "config/article.yaml") if article else None,
        },
        correctness={
            "reference": reference_backend,
            "reference_dtype": "float32",
            "min_forced_agreement": 0.9,
            "near_tie_ratio": 1.0,
        },
        scenarios=scenarios,
        reproduce="snakemake --cores 1 --resources gpu=1 --configfile config/config.yaml",
        reference=reference,
    )
    write_report(
        inputs, str(REPO / "report/templates"), str(folder / "report.md"), str(folder / "report.html")
    )
    return {
        "md": (folder / "report.md").read_text(),
        "html": folder / "report.html",
        "summary": summary,
        "plots": paths,
    }
