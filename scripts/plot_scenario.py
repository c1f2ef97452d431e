import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))

import pandas as pd

from llmbench.logs import log_to
from llmbench.plots import plot_scenario

log = log_to(snakemake.log[0])
plot_scenario(pd.read_csv(snakemake.input.summary), snakemake.wildcards.scenario, snakemake.output[0])
log.info("wrote %s", snakemake.output[0])
