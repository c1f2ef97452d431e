import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))

from llmbench.io import write_json_atomic
from llmbench.logs import log_to
from llmbench.measure.bandwidth import measure_bandwidth

log = log_to(snakemake.log[0])
result = measure_bandwidth(snakemake.params.device, snakemake.threads)
write_json_atomic(snakemake.output[0], result)
log.info("%s", result)
