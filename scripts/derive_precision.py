import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))

import pandas as pd

from llmbench.analyze.precision import precision_table, run_bits
from llmbench.analyze.summary import read_summary
from llmbench.logs import log_to
from llmbench.record import read_record

log = log_to(snakemake.log[0])
summary = read_summary(snakemake.input.summary)
agreement = pd.concat([pd.read_csv(p) for p in snakemake.input.agreement], ignore_index=True)
bits, kinds = run_bits(read_record(path) for path in snakemake.input.runs)
precision_table(summary, agreement, bits, kinds).to_csv(snakemake.output[0], index=False)
log.info("wrote %s", snakemake.output[0])
