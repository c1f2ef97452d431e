import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))

import pandas as pd

from llmbench.analyze.precision import precision_table
from llmbench.analyze.roofline import stored_bits
from llmbench.analyze.summary import read_summary
from llmbench.backends import get_backend
from llmbench.logs import log_to
from llmbench.models.precision import value_bits
from llmbench.record import read_record

log = log_to(snakemake.log[0])
summary = read_summary(snakemake.input.summary)
agreement = pd.concat([pd.read_csv(p) for p in snakemake.input.agreement], ignore_index=True)
bits, kinds = {}, {}
for path in snakemake.input.runs:
    record = read_record(path)
    if record.spec is not None:
        run = (record.key.model, record.key.runner)
        bits[run] = stored_bits(record) or record.spec.bits_per_weight
        if record.spec.weights:
            kinds[run] = value_bits(get_backend(record.key.backend).artifact_kind, record.spec.weights)
precision_table(summary, agreement, bits, kinds).to_csv(snakemake.output[0], index=False)
log.info("wrote %s", snakemake.output[0])
