import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))

from llmbench.logs import log_to
from llmbench.measure.launcher import run_isolated
from llmbench.record import RunId, RunKey, RunSpec
from llmbench.scenario_types import Scenario

log = log_to(snakemake.log[0])
w = snakemake.wildcards
# each setting is its own param, {key: value} (rules/common.smk: run_setting)
settings = {k: v for name, param in snakemake.params.items() if name != "cache_dir" for k, v in param.items()}
spec = RunSpec(
    run=RunId(RunKey.of_runner(w.model, w.runner, w.scenario), int(w.replica)),
    scenario=Scenario.from_dict(settings["scenario"]),
    device=settings["device"],
    dtype=settings["dtype"],
    weights=settings["weights"],
    bits_per_weight=settings["bits_per_weight"],
    cpu_threads=settings["cpu_threads"],
    backend_options=settings["backend_options"],
    sample_period_s=settings["sample_period_s"],
    timeout_s=snakemake.resources.timeout_s,
    model_dir=snakemake.input.model,
    artifact=snakemake.input.artifact,
    manifest=snakemake.input.manifest,
    prompts_ids=snakemake.input.prompts or None,  # none for random ids
    workflow_dir=str(Path(snakemake.scriptdir).parent),
)
record = run_isolated(spec, snakemake.output[0], snakemake.log[0], cache_dir=snakemake.params.cache_dir)
log.info("run %s: %s %s", spec.run, record.status, record.reason or "")
