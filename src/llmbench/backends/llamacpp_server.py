"""llama.cpp served: llama-cpp-python's OpenAI-compatible server (`python -m llama_cpp.server`) on the GGUF.

Its completions take text, not ids (notes/ftllm.md): the prompt ids are decoded
with the model's tokenizer and the server tokenizes them again. The GGUF that
`convert_llamacpp` writes for a synthetic model has a dummy vocabulary that
cannot tokenize text: llama.cpp then aborts (`unordered_map::at`, seen on the
tiny model, 2026-12-04); a served llama.cpp needs a checkpoint with a real vocabulary.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from ._served import ServedBackend, ServedOptions
from .base import option


@dataclass(frozen=True)
class Options(ServedOptions):
    """Settings of `backend_options.llamacpp-server`."""

    n_ctx: int = option(2048, "the server's context length", {"type": "integer", "minimum": 1})


class LlamaCppServerBackend(ServedBackend):
    """llama-cpp-python's server, one model, on this host."""

    Options = Options
    engine = "llamacpp"
    artifact_kind = "llamacpp"
    key = "backend_options.llamacpp-server"
    packages = ("llama-cpp-python", "fastapi", "uvicorn")

    def command(self, port: int) -> list[str]:
        """`python -m llama_cpp.server` on the GGUF, localhost only, the run's threads and GPU layers."""
        s = self.settings
        return [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            s.artifact,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            str(self.options.n_ctx),
            "--n_threads",
            str(s.cpu_threads),
            "--n_gpu_layers",
            "-1" if s.device == "cuda" else "0",
        ]


BACKEND = LlamaCppServerBackend
