"""Real servers through the whole measuring path: `ftllm serve` and llama-cpp-python's server on the tiny model,
started, streamed from under open-loop load, measured and stopped by the worker; and a server killed mid-run,
which leaves a failure record.

Slow (ftllm's server loads transformers' tokenizer: 10-45 s to get healthy on two shared cores)."""

import os
import signal
import threading

import pytest

from conftest import make_spec
from llmbench.analyze.conventions import chunks
from llmbench.analyze.openloop import run_cells
from llmbench.measure.server import probe
from llmbench.measure.worker import run
from llmbench.models.prepare import fastllm_folder

OPEN_LOOP = {
    "type": "open-loop",
    "input_tokens": 8,
    "output_tokens": 6,
    "requests": 6,
    "rates": [2, 8],
    "warmup_passes": 1,
    "repetitions": 1,
    "slo": {"ttft_ms": 5000, "tpot_ms": 1000},
}


@pytest.fixture(scope="module")
def served_folder(tiny_model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("served") / "fastllm-input"
    fastllm_folder(tiny_model, folder)
    return folder


@pytest.mark.parametrize("backend, engine", [("fastllm-server", "fastllm"), ("llamacpp-server", "llamacpp")])
def test_a_served_engine_is_measured_under_open_loop_load_then_stopped(
    backend, engine, tiny_model, tiny_prompt_ids, served_folder, tiny_gguf, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # the server's log (server.log: pytest's stdout is no file)
    artifact = {"fastllm-server": served_folder, "llamacpp-server": tiny_gguf}[backend]
    spec = make_spec(tiny_model, tiny_prompt_ids, backend, artifact, OPEN_LOOP)
    record = run(spec)
    assert record.status == "ok", (record.reason, record.measurement and record.measurement.invalid_reasons)
    info = record.backend_info
    assert info["served"] and info["engine"] == engine and info["server_pid"]
    with pytest.raises(ProcessLookupError):
        os.kill(info["server_pid"], 0)  # stopped with the run
    assert probe(info["url"] + "/models") is None
    requests = [r for p in record.measurement.passes() for r in p.requests]
    # counted from the server's usage, every token stamped (at its chunk's arrival)
    assert all(r.output_tokens == 6 and len(r.itl_ms) == 5 for r in requests)
    assert all(sum(c.tokens for c in chunks(r)) == 6 for r in requests)
    cells = run_cells(record)
    assert [c.rate_per_s for c in cells] == [2, 8]
    assert all(c.goodput_per_s > 0 for c in cells)
    # the sampler measured the server's process with the worker's: far more than a client alone
    assert record.resources.peak_rss_bytes > record.memory["process_peak_rss_bytes"]


def test_a_server_killed_mid_run_leaves_a_failure_record_naming_it(
    tiny_model, tiny_prompt_ids, served_folder, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    scenario = {**OPEN_LOOP, "requests": 6, "rates": [1], "repetitions": 50, "min_duration_s": 60}
    spec = make_spec(tiny_model, tiny_prompt_ids, "fastllm-server", served_folder, scenario)
    killed = threading.Event()

    def killer():
        for _ in range(600):
            servers = [s for p in os.listdir("/proc") if p.isdigit() and (s := _ftllm_server(int(p)))]
            if servers and probe(f"http://127.0.0.1:{servers[0][1]}/v1/models") == 200:
                killed.wait(5)  # warm-up done, measuring (the passes would go on for a minute)
                os.kill(servers[0][0], signal.SIGKILL)
                killed.set()
                return
            killed.wait(0.5)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    record = run(spec)
    thread.join(timeout=5)
    assert killed.is_set()
    assert record.status == "failed"
    assert "StreamError" in record.reason and "127.0.0.1" in record.reason


def _ftllm_server(pid: int) -> tuple[int, int] | None:
    """(pid, port) of an `ftllm serve` process, else None."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = [a.decode() for a in f.read().split(b"\0")]
    except OSError:
        return None
    if not any(a.endswith("ftllm") for a in args) or "serve" not in args or "--port" not in args:
        return None
    return pid, int(args[args.index("--port") + 1])
