import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))

from llmbench.analyze.summary import summary_table
from llmbench.logs import log_to
from llmbench.record import read_record

log = log_to(snakemake.log[0])
table = summary_table(read_record(p) for p in snakemake.input.runs)
table.to_csv(snakemake.output[0], index=False)
log.info("%d rows from %d run records", len(table), len(snakemake.input.runs))
