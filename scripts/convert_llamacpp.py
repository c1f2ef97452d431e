import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))

from llmbench.logs import log_to
from llmbench.models.gguf_export import export_gguf

log = log_to(snakemake.log[0])
log.info("exporting %s to GGUF %s", snakemake.input.model, snakemake.wildcards.dtype)
facts = export_gguf(snakemake.input.model, snakemake.output[0], snakemake.wildcards.dtype)
log.info("wrote %s: %s", snakemake.output[0], facts)
