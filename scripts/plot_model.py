import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))

import pandas as pd

from llmbench.analyze.summary import read_summary
from llmbench.logs import log_to
from llmbench.record import read_record
from llmbench.report.plots.model import plot_latency, plot_memory, plot_resources
from llmbench.report.strings import load_strings

log = log_to(snakemake.log[0])
model = snakemake.wildcards.model
t = load_strings(snakemake.input.strings[0])
records = [read_record(p) for p in snakemake.input.runs]
plot_latency(records, read_summary(snakemake.input.summary), snakemake.output.latency, t)
plot_memory(records, snakemake.output.memory, t)
roofline = pd.read_csv(snakemake.input.roofline)
resources = pd.read_csv(snakemake.input.resources)
plot_resources(
    resources[resources.model == model],
    roofline[roofline.model == model],
    model,
    snakemake.output.resources,
    t,
)
log.info("wrote %s", ", ".join(snakemake.output))
