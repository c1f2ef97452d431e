"""benchmarks/llamacpp_job_vs_bench.py: llmbench's llama.cpp job against llama-bench, alternating (#28)."""

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

from llamacpp_job_vs_bench import geometric_summary, pair_ratios, parse_tg  # noqa: E402

SCRIPT = str(ROOT / "benchmarks/llamacpp_job_vs_bench.py")

# llama-bench's own output (-o md) on the H100, 2026-12-07 (docs/results/h100/overhead/peers-2026-12-07)
LLAMA_BENCH_MD = """| model                          |       size |     params | backend    | ngl | fa |            test |                  t/s |
| ------------------------------ | ---------: | ---------: | ---------- | --: | -: | --------------: | -------------------: |
| chatglm 6B F16                 |  11.63 GiB |     6.24 B | CUDA       |  99 |  1 |     tg32 @ d128 |        208.55 ± 1.59 |

build: 0c1e570 (1)
"""


def test_the_tg_row_is_read_and_a_missing_one_is_named():
    assert parse_tg(LLAMA_BENCH_MD, 32, 128) == 208.55
    with pytest.raises(ValueError, match="no 'tg64 @ d128' row"):
        parse_tg(LLAMA_BENCH_MD, 64, 128)
    with pytest.raises(ValueError, match="no 'tg32' row"):
        parse_tg(LLAMA_BENCH_MD, 32, 0)
    with pytest.raises(ValueError, match="row has no rate: .*nan ± nan"):
        parse_tg(LLAMA_BENCH_MD.replace("208.55 ± 1.59", "nan ± nan"), 32, 128)


rates = st.floats(1.0, 1e4)


@settings(deadline=None)  # the first example imports llmbench.stats (numpy, scipy)
@given(bench=st.lists(rates, min_size=2, max_size=10), factor=st.floats(0.5, 1.5))
def test_a_job_at_a_fixed_share_of_the_bench_around_it_gets_that_share(bench, factor):
    jobs = [factor * (a + b) / 2 for a, b in zip(bench, bench[1:], strict=False)]
    ratios = pair_ratios(bench, jobs)
    assert ratios == pytest.approx([factor] * len(jobs))
    mean, low, high = geometric_summary(ratios)
    assert mean == pytest.approx(factor)
    if len(jobs) == 1:
        assert math.isnan(low) and math.isnan(high)
    else:
        assert low == pytest.approx(factor) and high == pytest.approx(factor)


@settings(deadline=None)
@given(ratios=st.lists(st.floats(0.5, 2.0), min_size=2, max_size=12))
def test_the_interval_holds_the_geometric_mean(ratios):
    mean, low, high = geometric_summary(ratios)
    assert low <= mean * (1 + 1e-12) and mean <= high * (1 + 1e-12)
    assert min(ratios) * (1 - 1e-12) <= mean <= max(ratios) * (1 + 1e-12)


@given(bench=st.lists(rates, min_size=0, max_size=6), jobs=st.lists(rates, min_size=0, max_size=6))
def test_figures_that_do_not_alternate_are_refused(bench, jobs):
    if len(bench) == len(jobs) + 1:
        assert len(pair_ratios(bench, jobs)) == len(jobs)
    else:
        with pytest.raises(ValueError, match="need"):
            pair_ratios(bench, jobs)


def script(*argv, timeout: float = 120, **options) -> subprocess.CompletedProcess:
    """The benchmark run with `argv` (str() of each), its output captured as text."""
    command = [sys.executable, SCRIPT, *map(str, argv)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, **options)


def test_a_job_alone_times_its_generates_with_llama_benchs_settings(tiny_model, tiny_gguf):
    run = script("--job", "--model", tiny_model, "--gguf", tiny_gguf, "--reps", 4, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert len(result["rates_tok_s"]) == 4 and all(r > 0 for r in result["rates_tok_s"])
    assert min(result["rates_tok_s"]) <= result["median_tok_s"] <= max(result["rates_tok_s"])
    # llama-bench's settings on both sides, not the backend's float32 defaults (f32 KV, flash attention off)
    assert (result["kv_type"], result["flash_attn"]) == ("f16", "on")


def test_the_job_loads_llama_cpp_before_numpy(tiny_model, llama_cpp_witness):
    """With a stand-in llama_cpp (llama_cpp_witness) the job fails after importing it; what matters is
    whether numpy was loaded before."""
    site, witness = llama_cpp_witness
    env = {**os.environ, "PYTHONPATH": str(site)}
    run = script("--job", "--model", tiny_model, "--gguf", tiny_model / "config.json", env=env)
    assert run.returncode != 0
    assert witness.read_text() == "False"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "--llama-bench is needed"),
        (["--pairs", "0", "--llama-bench", "x"], "must be at least 1, not 0"),
        (["--gen", "1", "--job"], "must be at least 2, not 1"),  # no rate after the second token
        (["--gen", "abc", "--job"], "not an integer: 'abc'"),
        (["--device", "tpu", "--job"], "invalid choice: 'tpu'"),
        (["--dtype", "int8", "--job"], "invalid choice: 'int8'"),
        (["--llama-bench", "/nonexistent/llama-bench"], "/nonexistent/llama-bench: not an executable file"),
        (["--llama-bench", __file__], "not an executable file"),
        (["--model", "/nonexistent/model", "--job"], "/nonexistent/model: no config.json there"),
        (["--gguf", "/nonexistent.gguf", "--job"], "/nonexistent.gguf: no such file"),
    ],
)
def test_usage_errors_name_what_is_wrong(tiny_model, tiny_gguf, argv, message):
    """Before any process starts; the last --model / --gguf counts."""
    run = script("--model", tiny_model, "--gguf", tiny_gguf, *argv)
    assert run.returncode == 2 and message in run.stderr and "Traceback" not in run.stderr


@pytest.mark.parametrize(("name", "status"), [("SIGTERM", 143), ("SIGHUP", 129)])
def test_a_terminated_run_takes_the_process_it_waits_for_with_it(
    tiny_model, tiny_gguf, tmp_path, name, status
):
    """The parent waits on llama-bench (here a stand-in that only sleeps, recording its pid): the
    signal ends both, with no process left behind."""
    stand_in = tmp_path / "llama-bench"
    stand_in.write_text(f"#!/bin/sh\necho $$ > {tmp_path / 'pid'}\nexec sleep 120\n")
    stand_in.chmod(0o755)
    parent = subprocess.Popen(
        [
            sys.executable,
            SCRIPT,
            "--model",
            str(tiny_model),
            "--gguf",
            str(tiny_gguf),
            "--llama-bench",
            str(stand_in),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (tmp_path / "pid").is_file() or not (tmp_path / "pid").read_text().strip():
        assert time.monotonic() < deadline and parent.poll() is None, parent.stderr.read()
        time.sleep(0.1)
    child = int((tmp_path / "pid").read_text())
    parent.send_signal(getattr(signal, name))
    assert parent.wait(timeout=30) == status and "Traceback" not in parent.stderr.read()
    deadline = time.monotonic() + 10
    while alive(child):
        assert time.monotonic() < deadline, f"llama-bench's stand-in {child} outlived the run"
        time.sleep(0.1)


def alive(pid: int) -> bool:
    """Whether process `pid` runs (a zombie waiting for its reaper does not)."""
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


def test_a_llama_bench_that_fails_is_named_with_its_output(tiny_model, tiny_gguf):
    """Here `false` stands where llama-bench would: a tool that fails must stop the run, not give a figure."""
    run = script("--model", tiny_model, "--gguf", tiny_gguf, "--llama-bench", shutil.which("false"))
    assert run.returncode == 1 and "llama-bench failed (1)" in run.stderr and "Traceback" not in run.stderr
