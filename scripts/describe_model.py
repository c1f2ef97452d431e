import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))

from llmbench.io import write_json_atomic
from llmbench.logs import log_to
from llmbench.models.weights import model_bytes

log = log_to(snakemake.log[0])
facts = model_bytes(snakemake.input.model, snakemake.params.dtype)
write_json_atomic(snakemake.output[0], facts)
log.info("%s", facts)
