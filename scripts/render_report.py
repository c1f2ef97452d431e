import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))

from llmbench.logs import log_to
from llmbench.report.render import load_inputs, write_report

log = log_to(snakemake.log[0])
paths = {
    "summary": snakemake.input.summary,
    "runs": list(snakemake.input.runs),
    "manifests": snakemake.params.manifests,
    "prompts": snakemake.params.prompts,
    "models": snakemake.params.models,
    "roofline": snakemake.input.roofline,
    "resources": snakemake.input.resources,
    "precision": list(snakemake.input.precision),
    "agreement": list(snakemake.input.agreement),
    "bandwidth": snakemake.input.bandwidth,
    "plots": list(snakemake.input.plots),
    "reference": list(snakemake.input.reference),
}
inputs = load_inputs(
    paths,
    snakemake.params.settings,
    snakemake.params.correctness,
    snakemake.params.scenarios,
    snakemake.params.reproduce,
    snakemake.output.md,
)
write_report(
    inputs, str(Path(snakemake.input.templates[0]).parent), snakemake.output.md, snakemake.output.html
)
log.info("wrote %s and %s", snakemake.output.md, snakemake.output.html)
