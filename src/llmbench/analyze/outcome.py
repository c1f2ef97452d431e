"""What a finished workflow tells its user on the console: how many benchmark runs failed
or measured something invalid, and what the tokenizer warned about.

A failed run leaves a record and the workflow completes (the report lists it), so
without these lines a console ending in "Finished" hides it. `fail_on_failed_runs`
makes such an outcome fail the workflow, for CI and scripts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..io import read_json
from ..record import read_record

SHOWN = 3  # runs named on the console; the report names all


@dataclass(frozen=True)
class Outcome:
    """The runs of one workflow: how many there are, which did not measure (id, reason),
    and the prompt warnings of the tokenizer (one line each)."""

    runs: int
    failed: list[tuple[str, str]] = field(default_factory=list)
    invalid: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every run measured validly."""
        return not self.failed and not self.invalid


def workflow_outcome(run_paths: list[str], prompts_paths: dict[str, str] | None = None) -> Outcome:
    """Read every run record at `run_paths` (a missing or unreadable one counts as failed) and
    the warnings in each model's tokenized prompts (`prompts_paths`: model -> path)."""
    failed, invalid = [], []
    for path in run_paths:
        try:
            record = read_record(path)
        except (OSError, ValueError, KeyError, TypeError) as error:
            failed.append((path, f"no readable record ({type(error).__name__}: {error})"))
            continue
        if record.status == "failed":
            failed.append((str(record.run), record.reason or "no reason recorded"))
        elif record.status == "invalid":
            invalid.append((str(record.run), record.reason or "invalid"))
    warnings = []
    for model, path in (prompts_paths or {}).items():
        if Path(path).is_file():
            warnings += [f"prompts of {model}: {w}" for w in read_json(path).get("warnings", [])]
    return Outcome(len(run_paths), failed, invalid, warnings)


def _named(runs: list[tuple[str, str]]) -> str:
    shown = "; ".join(f"{run} ({reason.splitlines()[0][:120]})" for run, reason in runs[:SHOWN])
    more = len(runs) - SHOWN
    return shown + (f"; and {more} more" if more > 0 else "")


def closing_lines(outcome: Outcome, report: str) -> list[str]:
    """The console lines that close a workflow run: one per kind of trouble (failed runs,
    invalid runs, prompt warnings), each pointing at `report`; when no run failed or measured
    invalid output, one line saying so (silence read as "not checked" to a newcomer)."""
    lines = []
    for runs, word in ((outcome.failed, "failed"), (outcome.invalid, "measured invalid output")):
        if runs:
            lines.append(f"{len(runs)} of {outcome.runs} benchmark runs {word}: {_named(runs)}; see {report}")
    if outcome.ok and outcome.runs:
        lines.append(f"{outcome.runs} benchmark runs on record, every one measured; see {report}")
    lines += [f"warning: {w}" for w in outcome.warnings]
    return lines


def verdict_lines(outcome: Outcome, report: str) -> list[str]:
    """What fail_on_failed_runs says when it fails the workflow (empty when every run measured):
    first the count of failed and invalid runs, each line starting "N of M benchmark runs ...",
    then that this mode, not a crash, ends the workflow with an error although `report` is written.
    The judge_outcome rule prints these first on the console and writes them first in its log,
    which Snakemake shows under its "Error in rule judge_outcome"."""
    if outcome.ok:
        return []
    counts = [line for line in closing_lines(outcome, report) if not line.startswith("warning: ")]
    return [
        *counts,
        f"fail_on_failed_runs is true: this verdict, not a crash, ends the workflow with an error "
        f"(exit status 1); the report is written: {report}",
    ]
