"""benchmarks/hf_peer_ab.py: transformers' harness overhead split into its parts (issue #28)."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_variant_is_timed_against_bare_and_all_choose_the_same_tokens():
    """On the tiny model, batched: bare generate(), with the streamer, with the resource sampler (its own
    process, and a thread of this one), and the measured pass each print a median pass time and their
    difference from bare (bare's own is +0.00 %); all chose the same ids (a variant that generated
    something else would time other work)."""
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks/hf_peer_ab.py"), "--reps", "2", "--requests", "2", "--batch"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "batch 2" in run.stdout and "the variants' ids the same: True" in run.stdout
    rows = dict(
        re.findall(r"^  (\S+) +[\d.]+ ms \(quartiles .*\); +([+-][\d.]+)% vs bare$", run.stdout, re.M)
    )
    assert (
        list(rows) == ["bare", "streamer", "sampler", "sampler-thread", "measured"]
        and rows["bare"] == "+0.00"
    )
