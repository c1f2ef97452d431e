import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))

from llmbench.analyze.outcome import closing_lines, workflow_outcome
from llmbench.logs import log_to

console = os.fdopen(os.dup(2), "w")  # kept before the log takes stderr: the verdict is said there
log = log_to(snakemake.log[0])
outcome = workflow_outcome(list(snakemake.input.runs))
if not outcome.ok:
    verdict = [
        "fail_on_failed_runs: true, so the workflow fails:",
        *closing_lines(outcome, snakemake.input.report),
    ]
    # one line here: Snakemake shows this log beside the console's verdict
    log.error("%d failed, %d invalid of %d runs", len(outcome.failed), len(outcome.invalid), outcome.runs)
    print("\n".join(verdict), file=console, flush=True)
    sys.exit(1)
Path(snakemake.output[0]).write_text(f"{outcome.runs} runs, every one measured\n")
log.info("%d runs, every one measured", outcome.runs)
