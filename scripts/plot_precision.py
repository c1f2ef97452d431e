import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))

import pandas as pd

from llmbench.logs import log_to
from llmbench.report.plots.precision import plot_precision
from llmbench.report.strings import load_strings

log = log_to(snakemake.log[0])
plot_precision(
    pd.read_csv(snakemake.input.precision), snakemake.output[0], load_strings(snakemake.input.strings[0])
)
log.info("wrote %s", snakemake.output[0])
