import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))

from llmbench.agreement import agreement_table
from llmbench.io import read_json
from llmbench.logs import log_to

log = log_to(snakemake.log[0])
table = agreement_table([read_json(p) for p in snakemake.input.runs], snakemake.params.reference)
table.to_csv(snakemake.output[0], index=False)
log.info("%d comparisons against %s", len(table), snakemake.params.reference)
