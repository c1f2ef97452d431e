import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))

from llmbench.analyze.summary import read_summary
from llmbench.logs import log_to
from llmbench.report.plots.scenario import plot_scenario
from llmbench.report.strings import load_strings

log = log_to(snakemake.log[0])
t = load_strings(snakemake.input.strings[0])
plot_scenario(read_summary(snakemake.input.summary), snakemake.wildcards.scenario, snakemake.output[0], t)
log.info("wrote %s", snakemake.output[0])
