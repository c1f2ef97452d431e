import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))

from llmbench.analyze.summary import read_summary
from llmbench.analyze.tables import resources_table, roofline_table
from llmbench.io import read_json
from llmbench.logs import log_to
from llmbench.record import read_record

log = log_to(snakemake.log[0])
summary = read_summary(snakemake.input.summary)
records = [read_record(p) for p in snakemake.input.runs]
models = {name: read_json(path) for name, path in snakemake.params.models.items()}
bandwidth = read_json(snakemake.input.bandwidth)
roofline_table(summary, records, models, bandwidth).to_csv(snakemake.output.roofline, index=False)
resources_table(summary, models, bandwidth, records).to_csv(snakemake.output.resources, index=False)
log.info("wrote %s", ", ".join(snakemake.output))
