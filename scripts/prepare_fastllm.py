import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))

from llmbench.logs import log_to
from llmbench.models.prepare import fastllm_folder

log = log_to(snakemake.log[0])
log.info("%s: %s", snakemake.output[0], fastllm_folder(snakemake.input.source, snakemake.output[0]))
