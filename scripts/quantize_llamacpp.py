import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))

from llmbench.logs import log_to
from llmbench.models.gguf_quantize import quantize_gguf

log = log_to(snakemake.log[0])
weights = snakemake.wildcards.weights
log.info("quantizing %s to llama.cpp %s", snakemake.input.gguf, weights)
facts = quantize_gguf(snakemake.input.gguf, snakemake.output[0], weights, snakemake.threads)
log.info("wrote %s: %s", snakemake.output[0], facts)
