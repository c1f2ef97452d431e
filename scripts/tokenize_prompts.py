import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))

from llmbench.backends import scenario_token_caps
from llmbench.io import write_json_atomic
from llmbench.logs import log_to
from llmbench.models import prompts as p

console = os.fdopen(os.dup(2), "w")  # kept before the log takes stderr: an overflow is said there
log = log_to(snakemake.log[0])
model, use_template = snakemake.input.model, snakemake.params.chat_template
queries = p.read_queries(snakemake.input.prompts)
ids = p.encode_queries(model, queries, use_template)
form, context = p.prompt_form(model, use_template), p.model_context(model)
log.info("%d queries as %s, prompt lengths %s tokens", len(ids), form, [len(i) for i in ids])
# From the config, not params: changing output_tokens (or a backend's cache) must not rerun this rule
# and every run after it.
output_tokens = p.query_output_tokens(snakemake.config["scenarios"])
caps = scenario_token_caps(snakemake.config)
problems = p.overflow_problems(snakemake.wildcards.model, [len(i) for i in ids], context, output_tokens, caps)
if problems:
    print("\n".join(problems), file=console, flush=True)
    sys.exit("\n".join(problems))
warnings = p.prompt_warnings(queries, ids, p.unknown_id(model))
for warning in warnings:
    log.warning("%s", warning)  # and on the console when the workflow ends (llmbench.analyze.outcome)
data = {"queries": queries, "prompt_ids": ids, "form": form, "context": context, "warnings": warnings}
write_json_atomic(snakemake.output[0], data)
