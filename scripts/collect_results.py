import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))

from llmbench.logs import log_to
from llmbench.metrics import summary_table

log = log_to(snakemake.log[0])
table = summary_table(list(snakemake.input.runs))
table.to_csv(snakemake.output[0], index=False)
log.info("%d rows from %d runs", len(table), len(snakemake.input.runs))
