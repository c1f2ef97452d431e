import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))

from llmbench.io import read_json
from llmbench.logs import log_to
from llmbench.plots import plot_latency, plot_memory

log = log_to(snakemake.log[0])
results = [read_json(p) for p in snakemake.input.runs]
plot_latency(results, snakemake.output.latency)
plot_memory(results, snakemake.output.memory)
log.info("wrote %s and %s", snakemake.output.latency, snakemake.output.memory)
