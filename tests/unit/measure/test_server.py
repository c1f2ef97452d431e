"""A server's life (real processes: llama-cpp-python's server on the tiny GGUF, and plain commands)."""

import os
import sys
import time

import pytest

from llmbench.measure.server import Server, ServerError, fill_template, free_port, probe
from llmbench.measure.stream_client import StreamClient, StreamError, parse_event

KEY = "backend_options.openai-server.command"


def test_a_real_server_is_healthy_then_stopped_with_its_process_group(tiny_gguf, tmp_path):
    port = free_port()
    command = fill_template(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            "{model}",
            "--host",
            "127.0.0.1",
            "--port",
            "{port}",
        ],
        KEY,
        port=str(port),
        model=str(tiny_gguf),
    )
    server = Server(command, tmp_path / "server.log", KEY)
    server.start()
    try:
        took_s = server.wait_healthy(f"http://127.0.0.1:{port}/v1/models", timeout_s=120)
        assert took_s < 120 and server.alive()
        models = StreamClient(f"http://127.0.0.1:{port}/v1")
        assert models.get_json("/models")["data"]
        models.close()
    finally:
        server.stop()
    assert not server.alive() and probe(f"http://127.0.0.1:{port}/v1/models") is None
    with pytest.raises(ProcessLookupError):
        os.killpg(server.pid, 0)  # nothing of its group is left
    assert (tmp_path / "server.log").read_text()  # its log is kept


def test_a_template_without_port_is_refused_naming_the_key():
    with pytest.raises(ValueError, match=f"{KEY}.*no {{port}}"):
        fill_template(["vllm", "serve", "{model}"], KEY, model="m", port="1")
    with pytest.raises(ValueError, match=f"{KEY}.*unknown placeholder"):
        fill_template(["x", "--port", "{port}", "{gpu}"], KEY, model="m", port="1")


def test_a_server_that_exits_or_never_answers_fails_naming_the_key_with_its_log(tmp_path):
    dead = Server([sys.executable, "-c", "print('bad flag'); raise SystemExit(3)"], tmp_path / "a.log", KEY)
    dead.start()
    with pytest.raises(ServerError, match=f"{KEY}.*status 3.*bad flag"):
        dead.wait_healthy(f"http://127.0.0.1:{free_port()}/", timeout_s=30)
    mute = Server([sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "b.log", KEY)
    mute.start()
    started = time.monotonic()
    with pytest.raises(ServerError, match=f"{KEY}.*not healthy.*after 1 s"):
        mute.wait_healthy(f"http://127.0.0.1:{free_port()}/", timeout_s=1)
    mute.stop(grace_s=1)
    assert time.monotonic() - started < 10 and not mute.alive()


def test_a_url_refusing_connections_is_a_stream_error_naming_it():
    url = f"http://127.0.0.1:{free_port()}/v1"
    client = StreamClient(url)
    try:
        with pytest.raises(StreamError, match=f"{url}/completions: ConnectError"):
            client.stream("/completions", {"model": "m", "prompt": "x", "max_tokens": 1})
    finally:
        client.close()


def test_sse_lines_of_completions_and_chat_are_read_and_errors_raised():
    assert parse_event(": keep-alive") is None and parse_event("data: [DONE]") is None
    assert parse_event('data: {"choices": [{"text": "a"}]}') == {"choices": [{"text": "a"}]}
    with pytest.raises(StreamError, match="overloaded"):
        parse_event('data: {"error": {"message": "overloaded"}}')
