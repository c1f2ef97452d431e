import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))

from llmbench.launcher import run_isolated
from llmbench.logs import log_to

log = log_to(snakemake.log[0])
spec = {
    **snakemake.params.settings,
    "run": f"{snakemake.wildcards.model}/{snakemake.wildcards.backend}/{snakemake.wildcards.scenario}",
    "model_dir": snakemake.input.model,
    "artifact": snakemake.input.artifact,
    "manifest": snakemake.input.manifest,
    "prompts_ids": snakemake.input.prompts,
    "workflow_dir": str(Path(snakemake.scriptdir).parent),
}
result = run_isolated(spec, snakemake.output[0], snakemake.log[0], snakemake.resources.runtime * 60)
log.info("run %s: %s %s", spec["run"], result["status"], result.get("reason", ""))
