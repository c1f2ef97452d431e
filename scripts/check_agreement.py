import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))

from llmbench.analyze.agreement import agreement_table, logits_functions, reference_logits
from llmbench.io import read_json
from llmbench.logs import log_to
from llmbench.measure.device import resolve_device
from llmbench.record import read_record

log = log_to(snakemake.log[0])
records = [read_record(p) for p in snakemake.input.runs]
prompts = read_json(snakemake.input.prompts)["prompt_ids"]
reference = None
if any(r.measurement is not None for r in records):
    device = resolve_device(snakemake.params.device)
    log.info("reference: %s in %s on %s", snakemake.input.model, snakemake.params.dtype, device)
    reference = reference_logits(snakemake.input.model, snakemake.params.dtype, device, snakemake.threads)
candidates = {}
if reference is not None:
    candidates = logits_functions(records, resolve_device(snakemake.params.device), snakemake.threads)
    log.info("teacher-forced logits (KL divergence) of: %s", ", ".join(candidates) or "none")
table = agreement_table(records, snakemake.params.reference, reference, candidates)
table.to_csv(snakemake.output[0], index=False)
log.info("%d rows", len(table))
