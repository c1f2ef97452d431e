"""benchmarks/process_time_split.py on the committed H200 result: jobs paired with their records."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import process_time_split  # noqa: E402

H200 = ROOT / "docs/results/h200"


def test_a_job_cut_short_counts_once_with_the_run_that_finished():
    """2-run.log started hf-compile loop replica 2 and was stopped; 3-resume.log ran it again."""
    first = process_time_split.jobs(H200 / "logs/2-run.log")
    cut = "results/runs/chatglm2-6b-shape/hf-compile/loop/2.json"
    assert cut not in [job["output"] for job in first]
    parts, rules = process_time_split.split(H200, [H200 / "logs/2-run.log", H200 / "logs/3-resume.log"])
    assert sum(row["processes"] for row in parts.values()) == 21 == len(list(H200.glob("runs/*/*/*/*.json")))
    assert parts[("hf-compile", "loop")]["processes"] == 3 and "check_agreement" in rules


def test_every_process_spends_its_time_measuring_or_not_and_nothing_is_negative():
    parts, _ = process_time_split.split(H200, [H200 / "logs/2-run.log", H200 / "logs/3-resume.log"])
    for row in parts.values():
        assert min(row.values()) >= 0  # a record's events inside its job's logged time
        assert row["measured"] > 0 and row["load"] > 0
