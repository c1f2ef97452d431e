import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))

from llmbench.agreement import COLUMNS, agreement_rows, reference_logits
from llmbench.device import resolve_device
from llmbench.io import read_json
from llmbench.logs import log_to

log = log_to(snakemake.log[0])
results = [read_json(p) for p in snakemake.input.runs]
prompts = read_json(snakemake.input.prompts)["prompt_ids"]
logits_of = None
if any(r["status"] != "failed" for r in results):
    device = resolve_device(snakemake.params.device)
    log.info("reference: %s in %s on %s", snakemake.input.model, snakemake.params.dtype, device)
    logits_of = reference_logits(snakemake.input.model, snakemake.params.dtype, device, snakemake.threads)
rows = agreement_rows(results, prompts, snakemake.params.reference, logits_of)
with open(snakemake.output[0], "w", newline="") as handle:
    writer = csv.DictWriter(handle, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
log.info("%d rows", len(rows))
