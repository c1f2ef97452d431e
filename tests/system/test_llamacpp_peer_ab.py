"""benchmarks/llamacpp_peer_ab.py: the decomposition of llama.cpp's gap to llama-bench (issue #28)."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VARIANTS = [
    "tg",
    "tg-c",
    "tg-slots",
    "host-sample",
    "graph-sample",
    "graph-bias",
    "engine",
    "engine-c",
    "engine-c-bias",
    "measured",
]


def test_every_variant_is_timed_and_the_selecting_ones_choose_the_same_tokens():
    """On the tiny model: the host chain, the attached chain (either mask), the engine stepped from Python
    and in the C loop (either mask), and the backend's measured generate() pick the same 33 ids (a
    variant that selected differently would time different work), each variant prints a rate and its
    share of the plain loop, and the plain loop is its own 100 %."""
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks/llamacpp_peer_ab.py"), "--reps", "2"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert (
        "sampler attached in graph: True (engine: False)" in run.stdout
    )  # the engine's on the host on the CPU
    assert "the selecting variants' ids the same: True" in run.stdout
    rows = dict(re.findall(r"^  (\S+) +[\d.]+ tok/s .*; +([\d.]+)% of tg$", run.stdout, re.M))
    assert list(rows) == VARIANTS and rows["tg"] == "100.0"
