import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))

from llmbench.analyze.outcome import verdict_lines, workflow_outcome
from llmbench.logs import log_to

outcome = workflow_outcome(list(snakemake.input.runs))
verdict = verdict_lines(outcome, snakemake.input.report)
# first in the log (written anew): Snakemake shows it under "Error in rule judge_outcome"
Path(snakemake.log[0]).write_text("".join(f"{line}\n" for line in verdict), encoding="utf-8")
console = os.fdopen(os.dup(2), "w")  # kept before the log takes stderr: the verdict is said there
log = log_to(snakemake.log[0])
if verdict:
    print("\n".join(verdict), file=console, flush=True)
    sys.exit(1)  # a verdict, no traceback
Path(snakemake.output[0]).write_text(f"{outcome.runs} runs, every one measured\n")
log.info("%d runs, every one measured", outcome.runs)
