import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))

import pandas as pd

from llmbench.io import read_json
from llmbench.logs import log_to
from llmbench.metrics import resource_rows
from llmbench.plots import plot_latency, plot_memory, plot_resources
from llmbench.roofline import roofline_rows

log = log_to(snakemake.log[0])
model = snakemake.wildcards.model
results = [read_json(p) for p in snakemake.input.runs]
summary = pd.read_csv(snakemake.input.summary, dtype={"reason": str, "metric": str})
summary = summary[summary["model"] == model]
manifests = {model: read_json(snakemake.input.manifest)}
plot_latency(results, snakemake.output.latency)
plot_memory(results, snakemake.output.memory)
plot_resources(
    resource_rows(summary),
    roofline_rows(summary, manifests, read_json(snakemake.input.bandwidth)),
    model,
    snakemake.output.resources,
)
log.info("wrote %s", ", ".join(snakemake.output))
