import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))

from llmbench.logs import log_to
from llmbench.report import write_report

log = log_to(snakemake.log[0])
manifests = {Path(p).parent.name: p for p in snakemake.input.manifests}
write_report(
    summary_csv=snakemake.input.summary,
    agreement_csvs=list(snakemake.input.agreement),
    bandwidth_json=snakemake.input.bandwidth,
    run_paths=list(snakemake.input.runs),
    manifest_paths=manifests,
    plots=list(snakemake.input.plots),
    settings=snakemake.params.settings,
    correctness=snakemake.params.correctness,
    configfiles=list(snakemake.params.configfiles),
    reference_csvs=list(snakemake.input.reference),
    template_dir=str(Path(snakemake.input.templates[0]).parent),
    md_out=snakemake.output.md,
    html_out=snakemake.output.html,
)
log.info("wrote %s and %s", snakemake.output.md, snakemake.output.html)
