"""benchmarks/harness_overhead.py: what it must do before it measures anything."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "argv",
    [
        ["--backend", "llamacpp"],
        ["--backend", "all", "--backend", "llamacpp"],
        ["--backend=llamacpp"],
        ["--back", "llamacpp"],
    ],
)
def test_the_backend_it_measures_loads_its_native_libraries_before_numpy(tmp_path, argv, llama_cpp_witness):
    """llama.cpp's CUDA build crashed the benchmark on the H200 with numpy loaded first (the
    worker already loaded it first). The last --backend counts: `all` hands it to each child."""
    site, witness = llama_cpp_witness
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks/harness_overhead.py"),
            *argv,
            "--model",
            str(tmp_path / "missing"),
        ],
        env={**os.environ, "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode != 0 and "missing" in run.stderr  # no model there; what matters is the order
    assert witness.read_text() == "False"


def test_an_unknown_backend_is_a_usage_error_naming_the_known_ones():
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks/harness_overhead.py"), "--backend", "nosuch"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2 and "invalid choice: 'nosuch'" in run.stderr and "llamacpp" in run.stderr
    assert "Traceback" not in run.stderr
