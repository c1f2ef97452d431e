import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))

from llmbench.logs import log_to
from llmbench.models.flm_export import convert_to_flm

log = log_to(snakemake.log[0])
dtype = snakemake.wildcards.dtype
log.info("converting %s to FastLLM %s", snakemake.input.model, dtype)
convert_to_flm(
    snakemake.input.model, snakemake.output[0], dtype, snakemake.resources.timeout_s, snakemake.log[0]
)
log.info("wrote %s", snakemake.output[0])
