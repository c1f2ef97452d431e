import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))

from llmbench.io import write_json_atomic
from llmbench.logs import log_to
from llmbench.models.prompts import encode_queries, read_queries

log = log_to(snakemake.log[0])
queries = read_queries(snakemake.input.prompts)
ids = encode_queries(snakemake.input.model, queries, snakemake.params.chat_template)
write_json_atomic(snakemake.output[0], {"queries": queries, "prompt_ids": ids})
log.info("%d queries, prompt lengths %s tokens", len(ids), [len(i) for i in ids])
