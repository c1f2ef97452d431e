import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))

from llmbench.logs import log_to
from llmbench.models.prepare import fastllm_folder, transformers_folder

log = log_to(snakemake.log[0])
prepare = {"prepare_transformers": transformers_folder, "prepare_fastllm": fastllm_folder}[snakemake.rule]
log.info("%s: %s", snakemake.output[0], prepare(snakemake.input[0], snakemake.output[0]))
